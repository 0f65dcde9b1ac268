import { z } from 'zod';
import { TOPICS, type OwnTopic } from '@relevo/events';
import { parseAdminUrls, parseServiceUrl } from '@relevo/pulsar';
import { env, parseEnv, pulsarTokenEnv, refuseInsecureToken } from '@relevo/runtime';

/** True when parse accepts the value; its message is the one an operator sees. */
function parses(parse: (value: string) => unknown): (value: string) => boolean {
  return (value) => {
    try {
      parse(value);
      return true;
    } catch {
      return false;
    }
  };
}

const schema = z.object({
  DATABASE_URL: env.databaseUrl,
  BROKER_URL: z.string().refine(parses(parseServiceUrl), 'expected pulsar://host:port or pulsar+ssl://host:port, or several hosts: pulsar://h1:6650,h2:6650')
    .default('pulsar://localhost:6650'),
  PULSAR_ADMIN_URL: z.string().refine(parses(parseAdminUrls), 'expected http(s)://host:port, or several hosts: http://h1:8080,h2:8080')
    .default('http://localhost:8080'),
  ...pulsarTokenEnv,
  PULSAR_TLS_CA_FILE: z.string().min(1).optional(),
  PULSAR_NAMESPACE: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected tenant/namespace').default('public/default'),
  // Each own topic's partition count, when the relay is to create it partitioned (docs/cluster.md).
  PULSAR_PARTITIONS_EVENTOS_PARTNERS: z.coerce.number().int().min(1).max(1024).optional(),
  PULSAR_PARTITIONS_ADMINISTRACION_FINANCIERA_COMPLIANCE: z.coerce.number().int().min(1).max(1024).optional(),
  RELAY_ID: z.string().min(1).regex(/^[^#]+$/, 'must not contain # (a claim is tagged <relay id>#<run>)').optional(),
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
}).superRefine(refuseInsecureToken(['BROKER_URL', 'PULSAR_ADMIN_URL']));

export type RelayConfig = z.infer<typeof schema>;

export function loadRelayConfig(source: NodeJS.ProcessEnv = process.env): RelayConfig {
  return parseEnv(schema, source);
}

/** The partition counts the configuration asks for, by topic (topics it says nothing of are left as they are). */
export function wantedPartitions(config: RelayConfig): Map<OwnTopic, number> {
  const wanted = new Map<OwnTopic, number>();
  if (config.PULSAR_PARTITIONS_EVENTOS_PARTNERS) wanted.set(TOPICS.partners, config.PULSAR_PARTITIONS_EVENTOS_PARTNERS);
  if (config.PULSAR_PARTITIONS_ADMINISTRACION_FINANCIERA_COMPLIANCE) {
    wanted.set(TOPICS.compliance, config.PULSAR_PARTITIONS_ADMINISTRACION_FINANCIERA_COMPLIANCE);
  }
  return wanted;
}
