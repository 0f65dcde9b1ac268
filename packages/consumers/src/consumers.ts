// Starts the configured consumers in this process, each on its own subscription.
import type postgres from 'postgres';
import { OWN_TOPICS } from '@relevo/events';
import type { PulsarClient } from '@relevo/pulsar';
import type { Logger } from '@relevo/runtime';
import { alertsConsumer, type WebhookOptions } from './alerts.ts';
import type { AlertRule } from './alert-rules.ts';
import { alliancesConsumer, defaultAllianceHandlers, type AllianceHandler } from './alliances.ts';
import { auditConsumer } from './audit.ts';
import type { ConsumerName } from './config.ts';
import type { ConsumerMetrics } from './metrics.ts';
import { startRunner, type BeforeAck, type ConsumerSpec, type Runner } from './runner.ts';
import { WriterSchemas } from './writer-schemas.ts';

export interface ConsumersOptions {
  client: PulsarClient;
  sql: postgres.Sql;
  namespace: string;
  log: Logger;
  metrics: ConsumerMetrics;
  enabled: readonly ConsumerName[];
  maxRedeliveries: number;
  nackDelayMs: number;
  concurrency: number;
  rules: readonly AlertRule[];
  webhook?: WebhookOptions;
  /** Handlers of the alliances consumer per event type; the default records alliance events against partners. */
  allianceHandlers?: Map<string, AllianceHandler>;
  beforeAck?: BeforeAck;
}

export interface RunningConsumers {
  runners: Runner[];
  /** True while every subscription is established (false while one reconnects or was refused). */
  ready(): boolean;
  /** Stops receiving, lets in-flight messages finish and be acknowledged, closes the subscriptions. */
  stop(): Promise<void>;
}

/** The enabled consumers' specs: what each consumes, where it dead-letters, and its handler. */
export function consumerSpecs(o: Omit<ConsumersOptions, 'maxRedeliveries' | 'nackDelayMs' | 'concurrency' | 'beforeAck'>): ConsumerSpec[] {
  const schemas = new WriterSchemas(o.client);
  const topicUrl = (topic: string) => `persistent://${o.namespace}/${topic}`;
  const specs: ConsumerSpec[] = [];
  if (o.enabled.includes('audit')) for (const topic of OWN_TOPICS) specs.push(auditConsumer({ sql: o.sql, schemas, topicUrl }, topic));
  if (o.enabled.includes('alliances')) {
    specs.push(alliancesConsumer({ sql: o.sql, schemas, topicUrl, handlers: o.allianceHandlers ?? defaultAllianceHandlers() }));
  }
  if (o.enabled.includes('alerts')) {
    specs.push(alertsConsumer({
      sql: o.sql, schemas, topicUrl, rules: o.rules, log: o.log, metrics: o.metrics, ...(o.webhook ? { webhook: o.webhook } : {}),
    }));
  }
  return specs;
}

export async function startConsumers(o: ConsumersOptions): Promise<RunningConsumers> {
  const specs = consumerSpecs(o);
  const runners: Runner[] = [];
  try {
    for (const spec of specs) {
      runners.push(await startRunner({
        client: o.client, spec, log: o.log, metrics: o.metrics, maxRedeliveries: o.maxRedeliveries,
        nackDelayMs: o.nackDelayMs, concurrency: o.concurrency, ...(o.beforeAck ? { beforeAck: o.beforeAck } : {}),
      }));
    }
  } catch (err) {
    await Promise.allSettled(runners.map((r) => r.stop()));
    throw err;
  }
  return {
    runners,
    ready: () => runners.every((r) => r.subscribed),
    stop: async () => {
      await Promise.all(runners.map((r) => r.stop()));
    },
  };
}
