// Interop with the official Java client (org.apache.pulsar:pulsar-client, the broker's version),
// built with Maven and run as plain `java` processes:
//  - relevo → Java: relevo publishes the six event types to eventos-partners with the topic's
//    Avro schema; the Java client reads them with Schema.AUTO_CONSUME() (the registered writer
//    schema) and every field, the union's data record, key, eventTime and properties must match.
//  - replay → Java: events the relay published, then `relevo outbox replay` re-published, on a
//    namespace that enforces schemas: AUTO_CONSUME decodes each replay exactly like its original.
//  - Java → relevo: a Java Schema.AVRO producer with batching (the external gestion-de-alianzas
//    producer) writes N messages; relevo fetches the writer schema by the message's schema
//    version and decodes with avsc, and the result must match what Java sent.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '@relevo/domain';
import { TOPIC_SCHEMAS, TOPICS, dataRecordName, encodeEvent, toIntegrationEvent, type IntegrationEvent } from '@relevo/events';
import { connectDatabase, markSent, runQuery } from '@relevo/db';
import { createClient, formatMessageId, type Message, type PulsarClient, type SchemaInfo } from '@relevo/pulsar';
import { ProducerPool, toOutgoingMessage, topicUrl } from '@relevo/relay';
import { createTestDatabase } from '../support/database.ts';
import { adminUrl, serviceUrl } from '../support/pulsar.ts';
import { createPartners, updatePartner } from '../support/writes.ts';

const here = dirname(fileURLToPath(import.meta.url));
const javaProject = join(here, 'java');
const cli = join(here, '..', '..', 'packages', 'cli', 'src', 'main.ts');


/** Why the suite cannot run here, or undefined when mvn and java are both on the PATH. */
function missingToolchain(): string | undefined {
  for (const [cmd, arg] of [['mvn', '-v'], ['java', '-version']] as const) {
    const r = spawnSync(cmd, [arg], { stdio: 'ignore' });
    if (r.error) return `${cmd} is not available (${r.error.message})`;
  }
  return undefined;
}

const skipReason = missingToolchain();
if (skipReason) console.warn(`[interop] skipping the Java client interop tests: ${skipReason}`);

interface RunResult { stdout: string; stderr: string; ms: number }

/** Runs a command to completion; rejects with its stderr on a non-zero exit or after timeoutMs. */
function run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      if (code === 0) resolve({ stdout, stderr, ms });
      else reject(new Error(`${cmd} ${args.slice(-4).join(' ')} failed (${signal ?? `exit ${code}`}, ${ms} ms):\n${stderr.trim()}`));
    });
  });
}

let classpath = '';

function runJava(main: 'AutoConsume' | 'AvroProduce', args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('java', ['-cp', classpath, `relevo.interop.${main}`, ...args], timeoutMs);
}

function jsonLines<T>(out: string): T[] {
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
}

interface AutoConsumed {
  key: string | null;
  eventTime: number;
  publishTime: number;
  schemaVersion: number | null;
  properties: Record<string, string>;
  value: Record<string, unknown>;
}

interface JavaProduced {
  key: string;
  eventTime: number;
  properties: Record<string, string>;
  messageId: string;
  value: Record<string, unknown>;
}

/** One partner's life through the six event types, plus a KYC rejection so `motivo` is set once. */
function domainEvents(): DomainEvent[] {
  const p1 = randomUUID();
  const p2 = randomUUID();
  const integracion = randomUUID();
  return [
    { type: 'PartnerCreado', partner_id: p1, version: 1, nombre: 'Acme Pagos', email: 'ops@acme.example', estado: 'ACTIVO', estado_kyc: 'PENDIENTE' },
    { type: 'PartnerActualizado', partner_id: p1, version: 2, nombre: 'Acme Pagos S.A. — ñandú "ü"', email: 'pagos@acme.example',
      estado: 'ACTIVO', estado_kyc: 'PENDIENTE', campos_actualizados: ['nombre', 'email'] },
    { type: 'KYCVerificado', partner_id: p1, version: 3, estado_kyc: 'VERIFICADO', motivo: null },
    { type: 'IntegracionCreada', partner_id: p1, version: 4, integracion_id: integracion, tipo: 'WEBHOOK', nombre: 'Liquidaciones' },
    { type: 'IntegracionRevocada', partner_id: p1, version: 5, integracion_id: integracion, motivo: 'rotación de credenciales' },
    { type: 'PartnerEliminado', partner_id: p1, version: 6 },
    { type: 'KYCVerificado', partner_id: p2, version: 2, estado_kyc: 'RECHAZADO', motivo: 'documento vencido' },
  ];
}

/**
 * Java prints "ledger:entry:partition[:batchIndex]": a batch that holds a single message is
 * sent unbatched and its id has no batch index (relevo writes -1 there).
 */
function javaMessageId(s: string): string {
  return s.split(':').length === 3 ? `${s}:-1` : s;
}

/** The 8-byte big-endian schema version as a number (what the Java side prints). */
function schemaVersionNumber(v: Uint8Array | undefined): number | null {
  if (!v) return null;
  return Number(Buffer.from(v.buffer, v.byteOffset, v.byteLength).readBigInt64BE(0));
}

describe.skipIf(skipReason !== undefined)('interop with the official Java client', () => {
  let namespace: string;
  let client: PulsarClient;

  beforeAll(async () => {
    namespace = `public/interop-${randomBytes(4).toString('hex')}`;
    const res = await fetch(`${adminUrl}/admin/v2/namespaces/${namespace}`, { method: 'PUT' });
    if (!res.ok) throw new Error(`cannot create namespace ${namespace}: ${res.status} ${await res.text()}`);

    const build = await run('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', join(javaProject, 'pom.xml'), 'package'], 170_000);
    const deps = readFileSync(join(javaProject, 'target', 'classpath.txt'), 'utf8').trim();
    classpath = [join(javaProject, 'target', 'classes'), deps].join(':');
    if (process.env.INTEROP_VERBOSE) console.log(`[interop] mvn package took ${build.ms} ms`);

    client = createClient({ serviceUrl });
  }, 180_000);

  afterAll(async () => {
    await client?.close();
  });

  it('relevo → Java: AUTO_CONSUME decodes every event type, key, eventTime and properties', async () => {
    const topicName = TOPICS.partners;
    const topic = `persistent://${namespace}/${topicName}`;
    const producer = await client.createProducer({
      topic,
      producerName: 'relevo-interop',
      schema: { type: 'AVRO', schema: TOPIC_SCHEMAS[topicName].json },
      batching: { maxMessages: 100, maxDelayMs: 10 },
    });

    const baseTime = Date.UTC(2025, 0, 15, 12, 0, 0);
    const sent = domainEvents().map((domainEvent, i) => {
      const occurredAt = new Date(baseTime + i * 1_000 + 7);
      const event = toIntegrationEvent(domainEvent, randomUUID(), occurredAt);
      const properties = { 'ce-type': event.type, 'relevo-outbox-id': String(1_000 + i), 'x-acentos': 'sí, ñ' };
      return { event, partitionKey: domainEvent.partner_id, eventTime: occurredAt.getTime() + 1, properties };
    });
    await Promise.all(sent.map((s) => producer.send({
      payload: encodeEvent(topicName, s.event), partitionKey: s.partitionKey, eventTime: s.eventTime, properties: s.properties,
    })));
    const writerVersion = schemaVersionNumber(producer.schemaVersion);
    await producer.close();

    const { stdout } = await runJava('AutoConsume', [serviceUrl, topic, 'java-auto-consume', String(sent.length), '30']);
    const received = jsonLines<AutoConsumed>(stdout);
    expect(received).toHaveLength(sent.length);
    // One producer, one partition: the Java consumer sees them in publish order.
    expect(received.map((r) => r.value.id)).toEqual(sent.map((s) => s.event.id));

    const fieldNames = (JSON.parse(TOPIC_SCHEMAS[topicName].json) as { fields: { name: string }[] }).fields.map((f) => f.name);
    for (const [i, r] of received.entries()) {
      const { event, partitionKey, eventTime, properties } = sent[i]!;
      expect(r.key, `key of ${event.type}`).toBe(partitionKey);
      expect(r.eventTime, `eventTime of ${event.type}`).toBe(eventTime);
      expect(r.properties, `properties of ${event.type}`).toEqual(properties);
      expect(r.schemaVersion).toBe(writerVersion);
      expect(Object.keys(r.value)).toEqual(fieldNames);
      const expected: Record<string, unknown> = {
        ...(event as IntegrationEvent),
        // The union value arrives as the branch's own record, named after it.
        data: { '@record': dataRecordName(event.type), ...event.data },
      };
      for (const field of fieldNames) {
        expect(r.value[field], `${event.type}.${field}`).toEqual(expected[field]);
      }
    }
    expect(new Set(received.map((r) => r.value.type))).toEqual(new Set(sent.map((s) => s.event.type)));
  }, 90_000);

  it('replay → Java: a replayed event decodes in AUTO_CONSUME exactly like its original, where schemas are enforced', async () => {
    const enforced = `public/interop-enforced-${randomBytes(4).toString('hex')}`;
    for (const [method, path, body] of [['PUT', '', undefined], ['POST', '/schemaValidationEnforced', 'true']] as const) {
      const res = await fetch(`${adminUrl}/admin/v2/namespaces/${enforced}${path}`, {
        method, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
      });
      if (!res.ok) throw new Error(`${method} namespace ${enforced}${path}: ${res.status} ${await res.text()}`);
    }
    const tdb = await createTestDatabase('relevo_interop');
    const database = connectDatabase(tdb.url);
    const pool = new ProducerPool({ client, namespace: enforced, idleMs: 60_000 });
    try {
      // The originals, as the relay publishes them: its producer, the rows' sequence ids.
      const [partner] = await createPartners(database, 1);
      await updatePartner(database, partner!, 'Acme — replayed');
      // Claimed by shard 0, each under its id as sequence.
      const rows = await database.sql<Parameters<typeof toOutgoingMessage>[0][]>`
        update outbox set publish_sequence = id, publish_shard = 0, claimed_by = 'interop' returning id, event_id, aggregate_id, aggregate_version, event_type,
               topic, payload, schema_fingerprint, headers, occurred_at, attempts, publish_sequence`;
      rows.sort((x, y) => (x.id < y.id ? -1 : 1));
      const producer = await pool.producer(TOPICS.partners, 0);
      const receipts = await Promise.all(rows.map((row) => producer.send(toOutgoingMessage(row))));
      await runQuery(database.sql, markSent({ rows: rows.map((row, i) => ({ id: row.id, sequence: row.publish_sequence, messageId: formatMessageId(receipts[i]!.messageId) })), claimedBy: 'interop' }));
      await pool.closeAll();

      const replayed = await promisify(execFile)(process.execPath, [cli, 'outbox', 'replay', '--all', '--json'], {
        env: { ...process.env, DATABASE_URL: tdb.url, BROKER_URL: serviceUrl, PULSAR_NAMESPACE: enforced },
      });
      expect(JSON.parse(replayed.stdout)).toMatchObject({ replayed: rows.length, interrupted: false });

      const topic = topicUrl(enforced, TOPICS.partners);
      const { stdout } = await runJava('AutoConsume', [serviceUrl, topic, 'java-replay-check', String(2 * rows.length), '30']);
      const received = jsonLines<AutoConsumed>(stdout);
      const originals = received.slice(0, rows.length);
      const replays = received.slice(rows.length);
      for (const [i, replay] of replays.entries()) {
        const original = originals[i]!;
        expect(replay.value, `replay of ${String(original.value.type)}`).toEqual(original.value);
        expect(replay.schemaVersion).toBe(original.schemaVersion);
        expect(replay.key).toBe(original.key);
        expect(replay.eventTime).toBe(original.eventTime);
        const { relevo_replay: flag, relevo_replay_of: of, ...properties } = replay.properties;
        expect({ flag, of }).toEqual({ flag: 'true', of: formatMessageId(receipts[i]!.messageId) });
        expect(properties).toEqual(original.properties);
      }
      expect(replays).toHaveLength(rows.length);
    } finally {
      await pool.closeAll();
      await database.close();
      await tdb.drop();
    }
  }, 120_000);

  it('Java → relevo: a batched Schema.AVRO producer, decoded with the writer schema fetched by version', async () => {
    const topic = `persistent://${namespace}/${TOPICS.alianzas}`;
    const count = 25;
    const { stdout } = await runJava('AvroProduce', [serviceUrl, topic, String(count)]);
    const produced = jsonLines<JavaProduced>(stdout);
    expect(produced).toHaveLength(count);

    const consumer = await client.subscribe({ topic, subscription: 'relevo-interop', initialPosition: 'earliest' });
    const messages: Message[] = [];
    try {
      while (messages.length < count) {
        const m = await consumer.receive(20_000);
        messages.push(m);
        await consumer.ack(m);
      }
    } finally {
      await consumer.close();
    }

    const schemas = new Map<string, { info: SchemaInfo; type: avsc.Type }>();
    for (const [i, m] of messages.entries()) {
      const sent = produced[i]!;
      expect(m.schemaVersion, 'the message names its writer schema version').toBeDefined();
      const versionKey = Buffer.from(m.schemaVersion!).toString('hex');
      let writer = schemas.get(versionKey);
      if (!writer) {
        const info = await client.getSchema(topic, m.schemaVersion);
        expect(info, `schema version ${versionKey}`).toBeDefined();
        writer = { info: info!, type: avsc.Type.forSchema(JSON.parse(info!.schema)) };
        schemas.set(versionKey, writer);
      }
      expect(writer.info.type).toBe('AVRO');
      expect(JSON.parse(writer.info.schema)).toMatchObject({ name: 'EventoAlianza', namespace: 'gestion_de_alianzas.v1' });

      const payload = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
      const decoded = JSON.parse(JSON.stringify(writer.type.fromBuffer(payload))) as Record<string, unknown>;
      expect(formatMessageId(m.messageId), `message ${i}`).toBe(javaMessageId(sent.messageId));
      expect(m.producerName).toBe('gestion-de-alianzas-java');
      expect(m.partitionKey, `key of message ${i}`).toBe(sent.key);
      expect(m.eventTime, `eventTime of message ${i}`).toBe(sent.eventTime);
      expect(m.properties, `properties of message ${i}`).toEqual(sent.properties);
      expect(decoded, `value of message ${i}`).toEqual(sent.value);
    }
    expect(schemas.size).toBe(1);
    // The Java producer batched: several messages share one stored entry.
    expect(messages.some((m) => (m.messageId.batchSize ?? 0) > 1)).toBe(true);
    expect(new Set(messages.map((m) => `${m.messageId.ledgerId}:${m.messageId.entryId}`)).size).toBeLessThan(count);
  }, 90_000);
});
