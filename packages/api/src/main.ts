// `relevo api`: configuration from the environment, the HTTP server, and the commit
// announcement that wakes the relay (a NOTIFY sent AFTER commit, never inside the business
// transaction; the relay turns it into a drain of the shard).
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { z } from 'zod';
import { AnnouncerConnection, connectDatabase, connectSql, ping, runQuery, surviveDroppedTypeFetches } from '@relevo/db';
import { createAdmin } from '@relevo/pulsar';
import { createLogger, env, onShutdown, parseEnv, pulsarTokenEnv, refuseInsecureToken, startOpsServer, startTracing } from '@relevo/runtime';
import { createApp } from './app.ts';
import { parseApiTokens, secretProblem, tokenCheck, TokenListError, type ApiToken } from './auth.ts';
import { DEFAULT_MAX_BODY_BYTES } from './context.ts';
import { createApiMetrics } from './metrics.ts';

/** A token list, or a config issue carrying TokenListError's message (which quotes no secret). */
function tokenList(text: string, ctx: z.RefinementCtx): ApiToken[] {
  try {
    return parseApiTokens(text);
  } catch (err) {
    if (!(err instanceof TokenListError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
    return z.NEVER;
  }
}

const TOKEN_FORMAT = 'name:scope+scope:secret entries (scopes: read, write, operator)';

export const ApiEnv = z.object({
  DATABASE_URL: env.databaseUrl,
  PORT: env.port(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  API_TOKENS: z.string().optional().transform((s, ctx) => (s === undefined ? undefined : tokenList(s, ctx))),
  API_TOKENS_FILE: z.string().min(1).optional().transform((path, ctx) => {
    if (path === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      return z.NEVER;
    }
    return tokenList(text, ctx);
  }),
  API_PRINCIPAL_SECRET: z.string({ error: 'set it to a random string of 32 characters or more (openssl rand -hex 32); it keys the HMAC of the tokens idempotency keys are stored under' })
    .superRefine((secret, ctx) => {
      const problem = secretProblem(secret);
      if (problem) ctx.addIssue({ code: 'custom', message: `too weak: ${problem}` });
    }),
  LOG_LEVEL: env.logLevel,
  RELAY_SHARDS: env.positiveInt(4),
  API_MAX_BODY_BYTES: env.positiveInt(DEFAULT_MAX_BODY_BYTES),
  API_DB_POOL_MAX: env.positiveInt(10),
  API_METRICS_PORT: env.port(9463),
  // The operator page's dead-letter counts come from the broker's admin API.
  PULSAR_ADMIN_URL: env.pulsarAdminUrl,
  PULSAR_NAMESPACE: env.pulsarNamespace,
  ...pulsarTokenEnv,
  PULSAR_TLS_CA_FILE: z.string().min(1).optional(),
}).superRefine(refuseInsecureToken(['PULSAR_ADMIN_URL'])).transform(({ API_TOKENS, API_TOKENS_FILE, ...rest }, ctx) => {
  if (API_TOKENS !== undefined && API_TOKENS_FILE !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['API_TOKENS_FILE'], message: 'set API_TOKENS or API_TOKENS_FILE, not both' });
    return z.NEVER;
  }
  const tokens = API_TOKENS ?? API_TOKENS_FILE;
  if (tokens === undefined) {
    ctx.addIssue({ code: 'custom', path: ['API_TOKENS'], message: `set it (or API_TOKENS_FILE) to comma-separated ${TOKEN_FORMAT}` });
    return z.NEVER;
  }
  return { ...rest, API_TOKENS: tokens };
});
export type ApiConfig = z.infer<typeof ApiEnv>;

const SHUTDOWN_DRAIN_MS = 10_000;
const APPLICATION_NAME = 'relevo-api';

export async function runApiProcess(): Promise<number> {
  const config = parseEnv(ApiEnv);
  const log = createLogger('api', config.LOG_LEVEL);
  const { described } = tokenCheck(config.API_TOKENS, config.API_PRINCIPAL_SECRET);
  const bare = described.filter((t) => t.bare).map((t) => t.name);
  if (bare.length > 0) {
    // Tokens from before tokens had names and scopes keep what they had: everything.
    log.warn({ tokens: bare }, 'API_TOKENS has bare secrets without a name or scopes: each keeps every scope (read, write, operator) '
      + `and is recorded under the name shown; write each as ${TOKEN_FORMAT}`);
  }
  surviveDroppedTypeFetches(log);
  const tracing = await startTracing('relevo-api', log);
  const database = connectDatabase(config.DATABASE_URL, { applicationName: APPLICATION_NAME, max: config.API_DB_POOL_MAX });
  // Not on the pool: a NOTIFY there would wait behind the writes queued for a connection
  // (packages/api/test/process.test.ts: "announces a commit at once while every connection
  // of its pool is taken").
  const announcer = new AnnouncerConnection(() => connectSql(config.DATABASE_URL, { applicationName: `${APPLICATION_NAME}-announcer`, max: 1 }));
  // The scrape reads the pool's connections over a connection of its own: on the pool it would
  // wait behind every queued write, and /metrics would hang just when the pool is saturated.
  const scrapes = connectSql(config.DATABASE_URL, { applicationName: `${APPLICATION_NAME}-metrics`, max: 1 });
  const metrics = createApiMetrics({ sql: scrapes, applicationName: APPLICATION_NAME, poolMax: config.API_DB_POOL_MAX });

  const app = createApp({
    database,
    tokens: config.API_TOKENS,
    principalSecret: config.API_PRINCIPAL_SECRET,
    log,
    maxBodyBytes: config.API_MAX_BODY_BYTES,
    shards: config.RELAY_SHARDS,
    metrics,
    deadLetters: {
      admin: createAdmin(config.PULSAR_ADMIN_URL, {
        ...(config.PULSAR_TOKEN ? { token: config.PULSAR_TOKEN, allowInsecureToken: config.PULSAR_ALLOW_INSECURE_TOKEN } : {}),
        ...(config.PULSAR_TLS_CA_FILE ? { ca: readFileSync(config.PULSAR_TLS_CA_FILE) } : {}),
        timeoutMs: 3_000,
      }),
      namespace: config.PULSAR_NAMESPACE,
    },
    // Called right after the commit: the time to the NOTIFY is the commit → wake latency.
    onCommitted: (ids) => {
      const committed = performance.now();
      return announcer.announce(ids).then(() => metrics.woken((performance.now() - committed) / 1000));
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
      await runQuery(database.sql, ping());
      return true;
    },
  });
  const opsPort = (ops.address() as AddressInfo).port;
  log.info({ host: address.address, port: address.port, shards: config.RELAY_SHARDS, metrics: `http://${config.HOST}:${opsPort}/metrics`,
    tokens: described.map(({ name, scopes }) => `${name}:${scopes}`) }, 'listening');

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
      await Promise.all([database.close(), announcer.close(), scrapes.end({ timeout: 5 })]);
      resolve(0);
    });
  });
}
