import { z } from 'zod';
import { env, parseEnv, pulsarTokenEnv, refuseInsecureToken } from '@relevo/runtime';

export const CONSUMER_NAMES = ['audit', 'alliances', 'alerts'] as const;
export type ConsumerName = (typeof CONSUMER_NAMES)[number];

const schema = z.object({
  DATABASE_URL: env.databaseUrl,
  BROKER_URL: z.string().regex(/^pulsar(\+ssl)?:\/\//, 'expected pulsar:// or pulsar+ssl://').default('pulsar://localhost:6650'),
  ...pulsarTokenEnv,
  PULSAR_TLS_CA_FILE: z.string().min(1).optional(),
  PULSAR_NAMESPACE: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected tenant/namespace').default('public/default'),
  CONSUMERS: env.list.pipe(z.array(z.enum(CONSUMER_NAMES)).min(1, 'name at least one of audit, alliances, alerts'))
    .default([...CONSUMER_NAMES]),
  CONSUMERS_METRICS_PORT: env.port(9465),
  CONSUMER_MAX_REDELIVERIES: z.coerce.number().int().min(0).default(5),
  CONSUMER_NACK_DELAY_MS: env.durationMs(1_000),
  CONSUMER_CONCURRENCY: env.positiveInt(4),
  ALERT_RULES: z.string().min(1).optional(),
  ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  ALERT_WEBHOOK_RETRIES: z.coerce.number().int().min(0).default(4),
  ALERT_WEBHOOK_BACKOFF_MS: env.durationMs(500),
  ALERT_WEBHOOK_TIMEOUT_MS: env.positiveInt(5_000),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: env.logLevel,
}).superRefine(refuseInsecureToken(['BROKER_URL']));

export type ConsumersConfig = z.infer<typeof schema>;

export function loadConsumersConfig(source: NodeJS.ProcessEnv = process.env): ConsumersConfig {
  return parseEnv(schema, source);
}
