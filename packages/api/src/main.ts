// `relevo api`: configuration from the environment, the HTTP server, and the commit
// announcement that wakes the relay (a NOTIFY sent AFTER commit, never inside the business
// transaction; the relay turns it into a drain of the shard).
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { z } from 'zod';
import { DEFAULT_POOL_MAX, connectDatabase, createCommitAnnouncer, surviveDroppedTypeFetches } from '@relevo/db';
import { createAdmin } from '@relevo/pulsar';
import { createLogger, env, onShutdown, parseEnv, startOpsServer, startTracing } from '@relevo/runtime';
import { createApp } from './app.ts';
import { DEFAULT_MAX_BODY_BYTES } from './context.ts';
import { createApiMetrics } from './metrics.ts';

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
  API_METRICS_PORT: env.port(9463),
  // The operator page's dead-letter counts come from the broker's admin API.
  PULSAR_ADMIN_URL: env.pulsarAdminUrl,
  PULSAR_NAMESPACE: env.pulsarNamespace,
  PULSAR_TOKEN: z.string().min(1).optional(),
  PULSAR_TLS_CA_FILE: z.string().min(1).optional(),
});
export type ApiConfig = z.infer<typeof ApiEnv>;

const SHUTDOWN_DRAIN_MS = 10_000;
const APPLICATION_NAME = 'relevo-api';

export async function runApiProcess(): Promise<number> {
  const config = parseEnv(ApiEnv);
  const log = createLogger('api', config.LOG_LEVEL);
  surviveDroppedTypeFetches(log);
  const tracing = await startTracing('relevo-api', log);
  const database = connectDatabase(config.DATABASE_URL, { applicationName: APPLICATION_NAME });
  const announce = createCommitAnnouncer(database.sql);
  // connectDatabase opens two pools (postgres.js and drizzle's) of DEFAULT_POOL_MAX each.
  const metrics = createApiMetrics({ sql: database.sql, applicationName: APPLICATION_NAME, poolMax: 2 * DEFAULT_POOL_MAX });

  const app = createApp({
    database,
    tokens: config.API_TOKENS,
    log,
    maxBodyBytes: config.API_MAX_BODY_BYTES,
    shards: config.RELAY_SHARDS,
    metrics,
    deadLetters: {
      admin: createAdmin(config.PULSAR_ADMIN_URL, {
        ...(config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN } : {}),
        ...(config.PULSAR_TLS_CA_FILE ? { ca: readFileSync(config.PULSAR_TLS_CA_FILE) } : {}),
        timeoutMs: 3_000,
      }),
      namespace: config.PULSAR_NAMESPACE,
    },
    // Called right after the commit: the time to the NOTIFY is the commit → wake latency.
    onCommitted: (ids) => {
      const committed = performance.now();
      return announce(ids).then(() => metrics.woken((performance.now() - committed) / 1000));
    },
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const ops = await startOpsServer({
    host: config.HOST,
    port: config.API_METRICS_PORT,
    registry: metrics.registry,
    ready: async () => {
      await database.sql`select 1`;
      return true;
    },
  });
  const opsPort = (ops.address() as AddressInfo).port;
  log.info({ host: address.address, port: address.port, shards: config.RELAY_SHARDS, metrics: `http://${config.HOST}:${opsPort}/metrics` }, 'listening');

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
      ops.close();
      await tracing.shutdown();
      await database.close();
      resolve(0);
    });
  });
}
