// Shared by the consumer tests: relevo's own events as the relay would publish them, alliance
// events as the external producer would, the consumers in-process, and the consumers as a
// real `relevo consumers` subprocess.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DomainEvent } from '@relevo/domain';
import { connectDatabase, type Database } from '@relevo/db';
import { encodeEvent, topicSchema, toIntegrationEvent, type IntegrationEvent, type OwnTopic } from '@relevo/events';
import { createClient, type Consumer, type Message, type Producer, type PulsarClient } from '@relevo/pulsar';
import { createLogger } from '@relevo/runtime';
import {
  ALLIANCE_SCHEMA_JSON, createConsumerMetrics, DEFAULT_RULES, encodeAllianceEvent, startConsumers,
  type AllianceEvent, type ConsumersOptions, type RunningConsumers,
} from '@relevo/consumers';
import { adminUrl, serviceUrl } from '../support/pulsar.ts';

export { serviceUrl };

export const topicUrl = (namespace: string, topic: string) => `persistent://${namespace}/${topic}`;

export function integrationEvent(event: DomainEvent, at = new Date()): IntegrationEvent {
  return toIntegrationEvent(event, randomUUID(), at);
}

export const partnerCreado = (partnerId = randomUUID()): DomainEvent => ({
  type: 'PartnerCreado', partner_id: partnerId, version: 1, nombre: 'Acme', email: `a-${partnerId}@example.test`,
  estado: 'ACTIVO', estado_kyc: 'PENDIENTE',
});
export const kyc = (partnerId: string, estado: 'VERIFICADO' | 'RECHAZADO', version = 2): DomainEvent => ({
  type: 'KYCVerificado', partner_id: partnerId, version, estado_kyc: estado, motivo: estado === 'RECHAZADO' ? 'documentos' : null,
});
export const revocada = (partnerId: string, version = 3): DomainEvent => ({
  type: 'IntegracionRevocada', partner_id: partnerId, version, integracion_id: randomUUID(), motivo: 'fin de contrato',
});
export const actualizado = (partnerId: string, estado: 'ACTIVO' | 'SUSPENDIDO', version = 4): DomainEvent => ({
  type: 'PartnerActualizado', partner_id: partnerId, version, nombre: 'Acme', email: `a-${partnerId}@example.test`,
  estado, estado_kyc: 'PENDIENTE', campos_actualizados: ['estado'],
});

/** A producer like the relay's: the topic's Avro schema declared, CloudEvents properties. */
export async function ownProducer(client: PulsarClient, namespace: string, topic: OwnTopic, producerName?: string): Promise<Producer> {
  return client.createProducer({
    topic: topicUrl(namespace, topic),
    ...(producerName ? { producerName } : {}),
    schema: { type: 'AVRO', schema: topicSchema(topic).json, name: topic },
    batching: { maxMessages: 100, maxDelayMs: 1 },
  });
}

export async function publishOwn(producer: Producer, topic: OwnTopic, events: IntegrationEvent[]): Promise<void> {
  await Promise.all(events.map((e) => producer.send({
    payload: encodeEvent(topic, e),
    partitionKey: (e.data as { partner_id: string }).partner_id,
    eventTime: e.time,
    properties: { ce_id: e.id, ce_type: e.type, ce_source: e.service_name, ce_specversion: e.specversion },
  })));
}

export async function allianceProducer(client: PulsarClient, namespace: string, schemaJson = ALLIANCE_SCHEMA_JSON, producerName?: string): Promise<Producer> {
  return client.createProducer({
    topic: topicUrl(namespace, 'gestion-de-alianzas'),
    ...(producerName ? { producerName } : {}),
    schema: { type: 'AVRO', schema: schemaJson, name: 'gestion-de-alianzas' },
    batching: false,
  });
}

export async function publishAlliance(producer: Producer, events: AllianceEvent[], schemaJson = ALLIANCE_SCHEMA_JSON): Promise<void> {
  for (const e of events) {
    await producer.send({ payload: encodeAllianceEvent(e, schemaJson), eventTime: e.time, properties: { origin: 'gestion-de-alianzas' } });
  }
}

export interface InProcess extends RunningConsumers {
  metrics: ReturnType<typeof createConsumerMetrics>;
  close(): Promise<void>;
}

/** The consumers in this process against a test database and namespace. */
export async function startInProcess(
  databaseUrl: string, namespace: string, overrides: Partial<ConsumersOptions> = {},
): Promise<InProcess> {
  const database: Database = connectDatabase(databaseUrl, { max: 20 });
  const client = createClient({ serviceUrl });
  const metrics = createConsumerMetrics();
  const running = await startConsumers({
    client, sql: database.sql, namespace, metrics,
    log: createLogger('consumers-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
    enabled: ['audit', 'alliances', 'alerts'],
    maxRedeliveries: 3, nackDelayMs: 200, concurrency: 4, rules: [...DEFAULT_RULES],
    ...overrides,
  });
  return {
    ...running,
    metrics,
    async close() {
      await running.stop();
      await client.close();
      await database.close();
    },
  };
}

/** For `beforeAck`: nack the first delivery of every message (a lost ack), ack the rest. */
export function nackFirstDeliveries() {
  const seen = new Set<string>();
  let nacked = 0;
  return {
    get nacked() {
      return nacked;
    },
    beforeAck: ({ consumer, message }: { consumer: string; message: Message }) => {
      const key = `${consumer}|${message.messageId.ledgerId}:${message.messageId.entryId}:${message.messageId.batchIndex}`;
      if (seen.has(key)) return true;
      seen.add(key);
      nacked++;
      return false;
    },
  };
}

export async function drain(consumer: Consumer, idleMs = 3_000): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    try {
      const m = await consumer.receive(idleMs);
      out.push(m);
      await consumer.ack(m);
    } catch {
      return out;
    }
  }
}

export async function metricValue(metrics: InProcess['metrics'], name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

const cli = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

export interface Subprocess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `relevo <args>` as a real child process (the consumers, or a CLI query). */
export function spawnRelevo(args: string[], env: Record<string, string>): Subprocess {
  let output = '';
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, BROKER_URL: serviceUrl, PULSAR_ADMIN_URL: adminUrl, CONSUMERS_METRICS_PORT: '0', LOG_LEVEL: 'info', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

export async function waitForOutput(p: Subprocess, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(p.output())) {
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`never saw ${pattern}; output:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
