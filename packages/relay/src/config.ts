import { z } from 'zod';
import { env, parseEnv } from '@relevo/runtime';

const schema = z.object({
  DATABASE_URL: env.databaseUrl,
  BROKER_URL: z.string().regex(/^pulsar(\+ssl)?:\/\//, 'expected pulsar:// or pulsar+ssl://').default('pulsar://localhost:6650'),
  PULSAR_ADMIN_URL: z.url().default('http://localhost:8080'),
  PULSAR_TOKEN: z.string().min(1).optional(),
  PULSAR_TLS_CA_FILE: z.string().min(1).optional(),
  PULSAR_NAMESPACE: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected tenant/namespace').default('public/default'),
  RELAY_ID: z.string().min(1).optional(),
  RELAY_SHARDS: env.positiveInt(4),
  RELAY_BATCH_SIZE: env.positiveInt(500),
  RELAY_RUN_BUDGET_MS: env.durationMs(10_000),
  RELAY_IDLE_LINGER_MS: env.durationMs(1_000),
  RELAY_STALL_AFTER_MS: env.durationMs(120_000),
  RELAY_MAX_ATTEMPTS: env.positiveInt(8),
  RELAY_BACKOFF_BASE_MS: env.durationMs(1_000),
  RELAY_BACKOFF_MAX_MS: env.durationMs(300_000),
  RELAY_PRODUCER_IDLE_MS: env.durationMs(30_000),
  RELAY_RETENTION_HOURS: env.positiveInt(24 * 7),
  IDEMPOTENCY_KEY_RETENTION_HOURS: env.positiveInt(24),
  METRICS_PORT: env.port(9464),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: env.logLevel,
});

export type RelayConfig = z.infer<typeof schema>;

export function loadRelayConfig(source: NodeJS.ProcessEnv = process.env): RelayConfig {
  return parseEnv(schema, source);
}
