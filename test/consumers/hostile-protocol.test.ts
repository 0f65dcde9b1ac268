// Messages crafted at the protocol level and put on the real broker by a raw producer, read by
// `relevo consumers` as a real process. For each: the process stays up and connected (no
// reconnect), the bad message is dead-lettered once with a clear reason and acknowledged, and
// the healthy message sent after it is handled. A message without the optional checksum is a
// healthy message.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS, topicSchema } from '@relevo/events';
import { createClient, type Producer, type PulsarClient } from '@relevo/pulsar';
import { ALLIANCE_SCHEMA_JSON, ALLIANCES_DLQ, DLQ_PROPERTIES, allianceEvent, encodeAllianceEvent } from '@relevo/consumers';
import type { ProtoWriter } from '../../packages/pulsar/src/protocol/proto.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import { batchEntry, openRawProducer, type RawProducer } from '../support/raw-producer.ts';
import { expectHealthy, nothingWithin, startConsumersProcess, watchDeadLetters, type ConsumersProcess } from './hostile.ts';
import {
  allianceProducer, integrationEvent, ownProducer, partnerCreado, publishAlliance, publishOwn, serviceUrl, topicUrl,
} from './support.ts';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const batchOf = (n: number) => (w: ProtoWriter) => { w.int32(11, n); };

interface Case {
  name: string;
  checksum: boolean;
  metadata: (w: ProtoWriter) => void;
  payload: (valid: Buffer) => Buffer;
  reason: RegExp;
}

// Each is stored by the broker as sent and delivered to every subscription of its topic.
const CASES: Case[] = [
  { name: 'num_messages_in_batch 2147483647 and an empty payload', checksum: true, metadata: batchOf(2 ** 31 - 1), payload: () => Buffer.alloc(0),
    reason: /MALFORMED_MESSAGE: the message cannot be read: num_messages_in_batch 2147483647 does not fit a payload of 0 bytes/ },
  { name: 'num_messages_in_batch 2147483647, no checksum', checksum: false, metadata: batchOf(2 ** 31 - 1), payload: () => Buffer.alloc(0),
    reason: /num_messages_in_batch 2147483647 does not fit/ },
  { name: 'a negative num_messages_in_batch', checksum: true, metadata: batchOf(-1), payload: (v) => batchEntry(v),
    reason: /num_messages_in_batch -1 does not fit/ },
  { name: 'num_messages_in_batch 3 over two messages', checksum: true, metadata: batchOf(3), payload: (v) => Buffer.concat([batchEntry(v), batchEntry(v)]),
    reason: /batch ends after 2 of its 3 messages/ },
  { name: 'a batch entry whose metadata size overruns the payload', checksum: false, metadata: batchOf(1),
    payload: (v) => Buffer.concat([u32(200), v]), reason: /metadata of batch message 0 \(200 bytes\) exceeds the payload/ },
  { name: 'a batch entry whose payload_size overruns the payload', checksum: true, metadata: batchOf(1),
    payload: () => Buffer.concat([u32(3), Buffer.from([0x18, 0xe8, 0x07]), Buffer.from('abc')]), reason: /batch message 0 of 1000 bytes exceeds the payload/ },
  { name: 'LZ4 compression, which relevo does not read', checksum: true, metadata: (w) => { w.uint(8, 1).uint(14, 64); },
    payload: () => Buffer.from('not really lz4'), reason: /compressed with LZ4, which this client does not read/ },
];

describe('consumers against messages crafted at the protocol level', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;
  let p: ConsumersProcess;
  let alliances: Producer;
  let rawAlliances: RawProducer;
  let dlq: Awaited<ReturnType<typeof watchDeadLetters>>;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_hostile_protocol');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
    alliances = await allianceProducer(client, namespace);
    rawAlliances = await openRawProducer(topicUrl(namespace, TOPICS.alianzas), { type: 'AVRO', schema: ALLIANCE_SCHEMA_JSON, name: TOPICS.alianzas });
    dlq = await watchDeadLetters(client, namespace, ALLIANCES_DLQ);
    p = await startConsumersProcess({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace });
  });

  afterAll(async () => {
    if (p?.child.exitCode === null) p.child.kill('SIGKILL');
    rawAlliances?.close();
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const inboxStatus = async (key: string) =>
    (await database.sql<{ status: string }[]>`select status from inbox where consumer = 'alliances' and message_key = ${key}`)[0]?.status;
  const rows = async () => {
    const [r] = await database.sql<{ inbox: number; effects: number }[]>`select
      (select count(*)::int from inbox) as inbox, (select count(*)::int from partner_alliance_events) as effects`;
    return r!;
  };

  it('handles an alliance event sent without the optional magic number and checksum', async () => {
    const event = allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-bare', partner_id: randomUUID() } });
    await rawAlliances.send({
      checksum: false, payload: encodeAllianceEvent(event), metadata: (w) => { w.bytes(16, rawAlliances.schemaVersion!); },
    });
    await expect.poll(() => inboxStatus(event.id), { timeout: 20_000, interval: 100 }).toBe('processed');
    expect(await nothingWithin(dlq, 1_000)).toEqual([]);
    await expectHealthy(p);
  }, 60_000);

  it.each(CASES)('dead-letters $name once, acknowledges it, and handles the next event', async (c) => {
    const before = await rows();
    const valid = encodeAllianceEvent(allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-x' } }));
    const badId = await rawAlliances.send({
      checksum: c.checksum, payload: c.payload(valid),
      metadata: (w) => { w.bytes(16, rawAlliances.schemaVersion!); c.metadata(w); },
    });
    const healthy = allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-next', partner_id: randomUUID() } });
    await publishAlliance(alliances, [healthy]);

    const copy = await dlq.next();
    expect(copy.properties[DLQ_PROPERTIES.error]).toMatch(c.reason);
    expect(copy.properties[DLQ_PROPERTIES.messageId]).toMatch(new RegExp(`^${badId}:`));
    await expect.poll(() => inboxStatus(healthy.id), { timeout: 20_000, interval: 100 }).toBe('processed');
    // Acknowledged: no second copy, however long the broker had to redeliver it.
    expect(await nothingWithin(dlq, 1_500)).toEqual([]);
    // One dead-letter record (by message id: it has no readable event id) and the healthy event's two rows.
    expect(await rows()).toEqual({ inbox: before.inbox + 2, effects: before.effects + 1 });
    const [dead] = await database.sql<{ error: string }[]>`select error from inbox where status = 'dead_lettered' and message_key like ${`message:${badId}:%`}`;
    expect(dead!.error).toMatch(c.reason.source.startsWith('MALFORMED') ? /the message cannot be read/ : c.reason);
    await expectHealthy(p);
  }, 60_000);

  it('dead-letters a lying batch on relevo\'s own topic for audit and alerts alike, and audits the next event', async () => {
    const auditDlq = await watchDeadLetters(client, namespace, `${TOPICS.partners}-relevo-audit-dlq`);
    const alertsDlq = await watchDeadLetters(client, namespace, `${TOPICS.partners}-relevo-alerts-dlq`);
    const own = await ownProducer(client, namespace, TOPICS.partners);
    const raw = await openRawProducer(topicUrl(namespace, TOPICS.partners), { type: 'AVRO', schema: topicSchema(TOPICS.partners).json, name: TOPICS.partners });
    try {
      await raw.send({ checksum: false, payload: Buffer.alloc(0), metadata: batchOf(2 ** 31 - 1) });
      const next = integrationEvent(partnerCreado());
      await publishOwn(own, TOPICS.partners, [next]);
      for (const watch of [auditDlq, alertsDlq]) {
        expect((await watch.next()).properties[DLQ_PROPERTIES.error]).toMatch(/num_messages_in_batch 2147483647/);
      }
      await expect.poll(async () => (await database.sql`select 1 from audit_events where event_id = ${next.id}`).length,
        { timeout: 20_000, interval: 100 }).toBe(1);
      expect([...await nothingWithin(auditDlq, 1_000), ...await nothingWithin(alertsDlq, 500)]).toEqual([]);
      await expectHealthy(p);
    } finally {
      raw.close();
      await own.close();
    }
  }, 60_000);

  it('counts every dead-lettered message in its metrics under the type "other"', async () => {
    const metrics = await (await fetch(`${p.base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`relevo_consumer_dead_lettered_total\\{consumer="alliances",topic="${TOPICS.alianzas}"\\} ${CASES.length}`));
    expect(metrics).toMatch(/relevo_consumer_messages_total\{consumer="alliances",topic="gestion-de-alianzas",type="other",outcome="dead_lettered"\} \d+/);
  });
});
