import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connectSql, ping, runQuery, surviveDroppedTypeFetches } from '@relevo/db/sql';
import { createAdmin, createClient } from '@relevo/pulsar';
import { createLogger, onShutdown, startOpsServer, startTracing } from '@relevo/runtime';
import { loadRelayConfig, wantedPartitions } from './config.ts';
import { followLayout } from './layout-follower.ts';
import { createRelayMetrics } from './metrics.ts';
import { ProducerPool } from './producers.ts';
import { scheduleRetention } from './retention.ts';
import { ensurePartitions } from './topics.ts';
import { startRelayWorker } from './worker.ts';

/** `relevo relay`: runs until SIGTERM, then finishes its batches, flushes and closes. */
export async function runRelayProcess(): Promise<number> {
  const config = loadRelayConfig();
  const log = createLogger('relay', config.LOG_LEVEL);
  surviveDroppedTypeFetches(log);
  // One CA for both the binary protocol and the admin REST calls.
  const ca = config.PULSAR_TLS_CA_FILE ? readFileSync(config.PULSAR_TLS_CA_FILE) : undefined;
  const admin = createAdmin(config.PULSAR_ADMIN_URL, {
    ...(config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN, allowInsecureToken: config.PULSAR_ALLOW_INSECURE_TOKEN } : {}), ...(ca ? { ca } : {}),
  });
  // Before any producer, and before anything that would keep the process alive: a producer
  // would have the broker create a missing topic unpartitioned, and a failure here stops the
  // relay (it must not publish to a topic partitioned otherwise than asked).
  await ensurePartitions(admin, config.PULSAR_NAMESPACE, wantedPartitions(config), log);
  const tracing = await startTracing('relevo-relay', log);
  // Marks and give-backs of every shard run at once, under the database's layout, which may
  // have more shards than this relay asks for: postgres.js opens connections only as needed.
  const sql = connectSql(config.DATABASE_URL, { max: Math.max(config.RELAY_SHARDS, 16) + 4, applicationName: 'relevo-relay' });
  const client = createClient({
    serviceUrl: config.BROKER_URL,
    ...(config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN, allowInsecureToken: config.PULSAR_ALLOW_INSECURE_TOKEN } : {}),
    ...(ca ? { tls: { ca } } : {}),
    logger: log,
  });
  const metrics = createRelayMetrics(sql, config.RELAY_SHARDS);

  const dedup = await admin.deduplicationStatus(config.PULSAR_NAMESPACE)
    .catch((err: unknown) => {
      log.warn({ err, namespace: config.PULSAR_NAMESPACE }, 'could not ask the broker whether deduplication is on');
      return undefined;
    });
  metrics.dedupEnabled(dedup === true);
  if (dedup === true) log.info({ namespace: config.PULSAR_NAMESPACE }, 'broker deduplication is on: delivery is effectively once');
  else log.warn({ namespace: config.PULSAR_NAMESPACE }, 'broker deduplication is off or unknown: delivery is at least once, consumers must de-duplicate by event id');

  const producers = new ProducerPool({ client, namespace: config.PULSAR_NAMESPACE, idleMs: config.RELAY_PRODUCER_IDLE_MS });
  const relayId = config.RELAY_ID ?? `${hostname()}:${process.pid}`;
  const follower = await followLayout({
    sql, log, relayId, requested: config.RELAY_SHARDS,
    startWorker: async (layout) => {
      const worker = await startRelayWorker({
        databaseUrl: config.DATABASE_URL,
        sql,
        producers,
        log,
        metrics,
        relayId,
        shards: config.RELAY_SHARDS,
        layout,
        batchSize: config.RELAY_BATCH_SIZE,
        runBudgetMs: config.RELAY_RUN_BUDGET_MS,
        idleLingerMs: config.RELAY_IDLE_LINGER_MS,
        stallAfterMs: config.RELAY_STALL_AFTER_MS,
        maxAttempts: config.RELAY_MAX_ATTEMPTS,
        backoffBaseMs: config.RELAY_BACKOFF_BASE_MS,
        backoffMaxMs: config.RELAY_BACKOFF_MAX_MS,
      });
      await scheduleRetention(worker.boss, sql, {
        sentRowsHours: config.RELAY_RETENTION_HOURS,
        idempotencyKeysHours: config.IDEMPOTENCY_KEY_RETENTION_HOURS,
      }, log);
      return worker;
    },
  });
  const server = await startOpsServer({
    host: config.HOST,
    port: config.METRICS_PORT,
    registry: metrics.registry,
    // The database answering: the broker is not checked (an unreachable one shows as
    // broker_unavailable drain runs).
    ready: async () => {
      await runQuery(sql, ping());
      return true;
    },
  });
  log.info({ metrics: `http://${config.HOST}:${config.METRICS_PORT}/metrics` }, 'relay ready');

  return new Promise<number>(() => {
    onShutdown(log, async () => {
      server.close();
      await follower.stop();
      await tracing.shutdown();
      await client.close();
      await sql.end({ timeout: 5 });
    });
  });
}
