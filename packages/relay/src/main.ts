import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { connectSql, surviveDroppedTypeFetches } from '@relevo/db/sql';
import { createAdmin, createClient } from '@relevo/pulsar';
import { createLogger, onShutdown, startTracing } from '@relevo/runtime';
import { loadRelayConfig } from './config.ts';
import { startOpsServer } from './http.ts';
import { createRelayMetrics } from './metrics.ts';
import { ProducerPool } from './producers.ts';
import { scheduleRetention } from './retention.ts';
import { followLayout } from './layout-follower.ts';
import { startRelayWorker } from './worker.ts';

/** `relevo relay`: runs until SIGTERM, then finishes its batches, flushes and closes. */
export async function runRelayProcess(): Promise<number> {
  const config = loadRelayConfig();
  const log = createLogger('relay', config.LOG_LEVEL);
  surviveDroppedTypeFetches(log);
  const tracing = await startTracing('relevo-relay', log);
  const sql = connectSql(config.DATABASE_URL, { max: config.RELAY_SHARDS + 4, applicationName: 'relevo-relay' });
  // One CA for both the binary protocol and the admin REST calls.
  const ca = config.PULSAR_TLS_CA_FILE ? readFileSync(config.PULSAR_TLS_CA_FILE) : undefined;
  const client = createClient({
    serviceUrl: config.BROKER_URL,
    ...(config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN } : {}),
    ...(ca ? { tls: { ca } } : {}),
    logger: log,
  });
  const metrics = createRelayMetrics(sql, config.RELAY_SHARDS);

  const dedup = await createAdmin(config.PULSAR_ADMIN_URL, { ...(config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN } : {}), ...(ca ? { ca } : {}) })
    .deduplicationStatus(config.PULSAR_NAMESPACE)
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
    ready: async () => {
      await sql`select 1`;
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
