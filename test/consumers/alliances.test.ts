// The external gestion-de-alianzas topic against the real broker: writer schemas by version,
// the inbox making duplicates and redeliveries harmless, unknown types recorded, and a
// message that keeps failing dead-lettered after its redeliveries while the rest flow.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { createClient, type Consumer, type PulsarClient } from '@relevo/pulsar';
import { ALLIANCE_SCHEMA_JSON, ALLIANCES_DLQ, DLQ_PROPERTIES, allianceEvent, type AllianceHandler } from '@relevo/consumers';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import {
  allianceProducer, drain, metricValue, nackFirstDeliveries, publishAlliance, serviceUrl, startInProcess, topicUrl, type InProcess,
} from './support.ts';

/** v2 of the producer's schema: one more field, with a default (a compatible evolution). */
const V2 = (() => {
  const s = JSON.parse(ALLIANCE_SCHEMA_JSON);
  const data = s.fields.find((f: { name: string }) => f.name === 'data').type;
  data.fields.push({ name: 'comision_bps', type: ['null', 'int'], default: null });
  return JSON.stringify(s);
})();

const MAX_REDELIVERIES = 3;

describe('alliances consumer', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;
  let consumers: InProcess;
  let dlq: Consumer;
  const lostAcks = nackFirstDeliveries();

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_consumers_alliances');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
    dlq = await client.subscribe({ topic: topicUrl(namespace, ALLIANCES_DLQ), subscription: 'test', initialPosition: 'earliest' });
    consumers = await startInProcess(tdb.url, namespace, {
      enabled: ['alliances'], maxRedeliveries: MAX_REDELIVERIES, nackDelayMs: 300, beforeAck: lostAcks.beforeAck,
    });
  });

  afterAll(async () => {
    await consumers?.close();
    await dlq?.close();
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const effects = () => database.sql<{ partner_id: string; event_id: string; event_type: string; data: Record<string, unknown>; schema_version: string; received_at: Date }[]>`
    select partner_id, event_id, event_type, data, schema_version, received_at from partner_alliance_events order by id`;
  const inbox = () => database.sql<{ message_key: string; status: string; event_type: string; error: string | null; processed_at: Date }[]>`
    select message_key, status, event_type, error, processed_at from inbox where consumer = 'alliances'`;

  it('records alliance events against their partner once, across schema versions, duplicates and redeliveries; a poison message goes to the DLQ while the rest flow', async () => {
    const partner = randomUUID();
    const other = randomUUID();
    const poison = allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-bad', partner_id: 'not-a-partner' } });
    const v1 = [
      allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-1', partner_id: partner, nombre: 'Ñandú & Co' } }),
      allianceEvent({ id: randomUUID(), type: 'AlianzaActualizada', data: { alianza_id: 'ali-1', partner_id: partner, estado: 'ACTIVA' } }),
      allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-2', partner_id: other } }),
      // No partner referenced: processed, nothing recorded.
      allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-3' } }),
      // A type without a handler: recorded as unhandled and acknowledged.
      allianceEvent({ id: randomUUID(), type: 'AlianzaAuditada', data: { alianza_id: 'ali-1', partner_id: partner } }),
    ];
    const v2 = [
      { ...allianceEvent({ id: randomUUID(), type: 'AlianzaFinalizada', data: { alianza_id: 'ali-1', partner_id: partner, motivo: 'fin' } }),
        data: { alianza_id: 'ali-1', partner_id: partner, nombre: null, estado: 'FINALIZADA', motivo: 'fin', comision_bps: 125 } },
    ];

    const p1 = await allianceProducer(client, namespace, ALLIANCE_SCHEMA_JSON, 'alianzas-a');
    const p2 = await allianceProducer(client, namespace, V2, 'alianzas-b');
    const p3 = await allianceProducer(client, namespace, ALLIANCE_SCHEMA_JSON, 'alianzas-c');
    await publishAlliance(p1, [poison, ...v1]);
    await publishAlliance(p2, v2, V2);
    // The same events again from another producer (broker dedup cannot drop these).
    await publishAlliance(p3, v1);
    await publishAlliance(p2, v2, V2);

    await expect.poll(async () => (await inbox()).filter((r) => r.status !== 'dead_lettered').length, { timeout: 30_000, interval: 100 }).toBe(6);
    const flowedAt = Date.now();

    const first = await dlq.receive(20_000);
    await dlq.ack(first);
    // Its ack to the main topic was "lost" once too (beforeAck): still one dead-letter copy.
    const dead = [first, ...await drain(dlq, 3_000)];
    expect(dead).toHaveLength(1);
    expect(Date.now()).toBeGreaterThan(flowedAt);
    expect(dead[0]!.properties).toMatchObject({
      origin: 'gestion-de-alianzas',
      [DLQ_PROPERTIES.error]: expect.stringMatching(/MALFORMED_EVENT: data\.partner_id "not-a-partner" of AlianzaCreada .* is not a partner id/),
      [DLQ_PROPERTIES.topic]: topicUrl(namespace, 'gestion-de-alianzas'),
      [DLQ_PROPERTIES.subscription]: 'relevo-alianzas',
      [DLQ_PROPERTIES.redeliveries]: String(MAX_REDELIVERIES),
      [DLQ_PROPERTIES.schemaVersion]: '0',
    });
    expect(Buffer.from(dead[0]!.payload).includes(Buffer.from('ali-bad'))).toBe(true);

    const rows = await effects();
    expect(rows.map((r) => `${r.event_type}:${r.partner_id === partner ? 'partner' : 'other'}`).sort()).toEqual([
      'AlianzaActualizada:partner', 'AlianzaCreada:other', 'AlianzaCreada:partner', 'AlianzaFinalizada:partner',
    ]);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(4);
    expect(rows.find((r) => r.event_id === v1[0]!.id)!.data).toMatchObject({ alianza_id: 'ali-1', nombre: 'Ñandú & Co' });
    // Read with its own writer schema (version 1): the v2-only field is there.
    expect(rows.find((r) => r.event_id === v2[0]!.id)!).toMatchObject({ schema_version: '1', data: { comision_bps: 125, estado: 'FINALIZADA' } });

    const entries = await inbox();
    const status = Object.fromEntries(entries.map((e) => [e.message_key, e.status]));
    expect(status).toEqual({
      ...Object.fromEntries([...v1, ...v2].map((e) => [e.id, e.type === 'AlianzaAuditada' ? 'unhandled' : 'processed'])),
      [poison.id]: 'dead_lettered',
    });
    const deadEntry = entries.find((e) => e.message_key === poison.id)!;
    expect(deadEntry.error).toMatch(/not a partner id/);
    // The healthy messages were all done before the poison message left for the DLQ.
    for (const r of rows) expect(r.received_at.getTime()).toBeLessThan(deadEntry.processed_at.getTime());

    expect(await metricValue(consumers.metrics, 'relevo_consumer_messages_total', { outcome: 'duplicate' })).toBeGreaterThanOrEqual(6);
    expect(await metricValue(consumers.metrics, 'relevo_consumer_dead_lettered_total', {})).toBe(1);
    await Promise.all([p1.close(), p2.close(), p3.close()]);
  }, 90_000);

  it('applies a handler effect and its inbox row together: a handler that throws leaves neither', async () => {
    const ns = await createTestNamespace();
    let calls = 0;
    const flaky: AllianceHandler = async (event, ctx) => {
      calls++;
      await ctx.tx.unsafe(`insert into partner_alliance_events (partner_id, event_id, event_type, data, occurred_at, message_id)
        values ($1::uuid, $2, $3, '{}'::jsonb, now(), $4)`, [event.data.partner_id as string, event.id, event.type, ctx.messageId]);
      if (calls === 1) throw new Error('handler failed after writing');
    };
    const local = await startInProcess(tdb.url, ns, { enabled: ['alliances'], nackDelayMs: 200, allianceHandlers: new Map([['AlianzaCreada', flaky]]) });
    try {
      const event = allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-tx', partner_id: randomUUID() } });
      const p = await allianceProducer(client, ns);
      await publishAlliance(p, [event]);
      await expect.poll(async () => (await inbox()).find((r) => r.message_key === event.id)?.status, { timeout: 20_000, interval: 100 }).toBe('processed');
      expect(calls).toBe(2);
      const [n] = await database.sql`select count(*)::int as n from partner_alliance_events where event_id = ${event.id}`;
      expect(n!.n).toBe(1);
      await p.close();
    } finally {
      await local.close();
    }
  }, 60_000);
});
