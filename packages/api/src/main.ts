// `relevo api`: configuration from the environment, the HTTP server, and the commit
// announcement that wakes the relay (a NOTIFY sent AFTER commit, never inside the business
// transaction; the relay turns it into a drain of the shard).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { z } from 'zod';
import { connectDatabase, createCommitAnnouncer, surviveDroppedTypeFetches } from '@relevo/db';
import { createLogger, env, onShutdown, parseEnv, startTracing } from '@relevo/runtime';
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

const SHUTDOWN_DRAIN_MS = 10_000;

export async function runApiProcess(): Promise<number> {
  const config = parseEnv(ApiEnv);
  const log = createLogger('api', config.LOG_LEVEL);
  surviveDroppedTypeFetches(log);
  const tracing = await startTracing('relevo-api', log);
  const database = connectDatabase(config.DATABASE_URL, { applicationName: 'relevo-api' });
  const announce = createCommitAnnouncer(database.sql);

  const app = createApp({
    database,
    tokens: config.API_TOKENS,
    log,
    maxBodyBytes: config.API_MAX_BODY_BYTES,
    shards: config.RELAY_SHARDS,
    onCommitted: announce,
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
      await tracing.shutdown();
      await database.close();
      resolve(0);
    });
  });
}
