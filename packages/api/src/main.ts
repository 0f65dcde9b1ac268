// `relevo api`: configuration from the environment, the HTTP server, and the relay wake-up
// (pg-boss drain jobs sent AFTER each commit, never inside the business transaction).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { PgBoss } from 'pg-boss';
import { z } from 'zod';
import { DRAIN_QUEUE, announceCommit, connectDatabase, ensureDrainQueue, shardOf, wakeShards, type Database } from '@relevo/db';
import { createLogger, env, onShutdown, parseEnv, startTracing, type Logger } from '@relevo/runtime';
import { createApp } from './app.ts';
import { DEFAULT_MAX_BODY_BYTES } from './context.ts';

export const ApiEnv = z.object({
  DATABASE_URL: env.databaseUrl,
  PORT: env.port(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  API_TOKENS: z.string({ error: 'set it to a comma-separated list of bearer tokens' })
    .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
    .refine((tokens) => tokens.length > 0, 'give at least one non-empty token'),
  LOG_LEVEL: env.logLevel,
  RELAY_SHARDS: env.positiveInt(4),
  API_MAX_BODY_BYTES: env.positiveInt(DEFAULT_MAX_BODY_BYTES),
});
export type ApiConfig = z.infer<typeof ApiEnv>;

const BOSS_RETRY_MS = 5_000;
const SHUTDOWN_DRAIN_MS = 10_000;

/** pg-boss, used only to send drain wake-ups; a database that is down at start is retried. */
function startWaker(config: ApiConfig, database: Database, log: Logger) {
  const boss = new PgBoss({ connectionString: config.DATABASE_URL, schema: 'pgboss', max: 2, supervise: false, schedule: false });
  boss.on('error', (err: unknown) => log.warn({ err }, 'pg-boss error'));
  let ready = false;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  const start = async (): Promise<void> => {
    try {
      await boss.start();
      // The relay's own queue definition: whichever process starts first creates it.
      await ensureDrainQueue(boss).catch(async (err: unknown) => {
        if (!(await boss.getQueue(DRAIN_QUEUE))) throw err; // lost a creation race: fine
      });
      ready = true;
      log.info({ queue: DRAIN_QUEUE }, 'relay wake-up ready');
    } catch (err) {
      log.warn({ err, retryInMs: BOSS_RETRY_MS }, 'pg-boss did not start; the relay backstop covers until it does');
      if (!stopped) retry = setTimeout(() => void start(), BOSS_RETRY_MS);
    }
  };

  return {
    start,
    /**
     * Best effort, after commit: a NOTIFY for a relay run lingering on the shard, and one drain
     * job per distinct shard for an idle relay (a queued one absorbs the rest: stately + singletonKey).
     */
    async wake(aggregateIds: string[]): Promise<void> {
      await Promise.all([
        announceCommit(database.sql, aggregateIds),
        ready ? wakeShards(boss, new Set(aggregateIds.map((id) => shardOf(id, config.RELAY_SHARDS)))) : undefined,
      ]);
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(retry);
      if (ready) await boss.stop({ graceful: true, timeout: 5_000 });
    },
  };
}

export async function runApiProcess(): Promise<number> {
  const config = parseEnv(ApiEnv);
  const log = createLogger('api', config.LOG_LEVEL);
  const tracing = await startTracing('relevo-api', log);
  const database = connectDatabase(config.DATABASE_URL, { applicationName: 'relevo-api' });
  const waker = startWaker(config, database, log);
  await waker.start();

  const app = createApp({
    database,
    tokens: config.API_TOKENS,
    log,
    maxBodyBytes: config.API_MAX_BODY_BYTES,
    shards: config.RELAY_SHARDS,
    onCommitted: (ids) => waker.wake(ids),
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  log.info({ host: address.address, port: address.port, shards: config.RELAY_SHARDS }, 'listening');

  return new Promise<number>((resolve) => {
    onShutdown(log, async () => {
      // Stop accepting; close keep-alive sockets that are idle; in-flight requests finish.
      const closed = new Promise<void>((res, rej) => server.close((err) => (err ? rej(err) : res())));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      // A client that keeps a connection open past the drain window is cut off.
      const force = setTimeout(() => {
        if ('closeAllConnections' in server) server.closeAllConnections();
      }, SHUTDOWN_DRAIN_MS);
      await closed.finally(() => clearTimeout(force));
      await waker.stop();
      await tracing.shutdown();
      await database.close();
      resolve(0);
    });
  });
}
