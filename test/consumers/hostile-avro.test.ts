// Avro payloads crafted to claim more than they hold, and strings holding U+0000, put on the real
// broker with the topics' schemas declared, read by `relevo consumers` as a real process. For
// each: the process stays up, the message is dead-lettered once with a clear reason and
// acknowledged, the healthy event after it is handled, and nothing is written for it.
import { randomUUID } from 'node:crypto';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { encodeEvent, TOPICS } from '@relevo/events';
import { createClient, type Producer, type PulsarClient } from '@relevo/pulsar';
import { ALLIANCE_SCHEMA_JSON, ALLIANCES_DLQ, DLQ_PROPERTIES, allianceEvent, encodeAllianceEvent, type AllianceEvent } from '@relevo/consumers';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import { expectHealthy, nothingWithin, startConsumersProcess, watchDeadLetters, type ConsumersProcess } from './hostile.ts';
import {
  allianceProducer, integrationEvent, ownProducer, partnerCreado, publishAlliance, publishOwn, serviceUrl,
} from './support.ts';

/** The alliances producer's schema with collections added, as a later compatible version may add them. */
const V2 = (() => {
  const s = JSON.parse(ALLIANCE_SCHEMA_JSON);
  s.fields.find((f: { name: string }) => f.name === 'data').type.fields.push(
    { name: 'etiquetas', type: { type: 'array', items: 'string' }, default: [] },
    { name: 'atributos', type: { type: 'map', values: 'string' }, default: {} },
    { name: 'adjunto', type: 'bytes', default: '' },
    { name: 'tramos', type: { type: 'array', items: { type: 'array', items: 'long' } }, default: [] },
  );
  return JSON.stringify(s);
})();
const v2 = avro.Type.forSchema(JSON.parse(V2), { wrapUnions: 'auto' });

/** Avro's zigzag varint. */
function long(n: number): Buffer {
  let z = n >= 0 ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n;
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

/** An alliance event whose four collection fields (its last four bytes when empty) are replaced by `tail`. */
function craftedAlliance(tail: Buffer): Buffer {
  const valid = v2.toBuffer({ ...allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-crafted' } }),
    data: { alianza_id: 'ali-crafted', partner_id: null, nombre: null, estado: null, motivo: null, etiquetas: [], atributos: {}, adjunto: Buffer.alloc(0), tramos: [] } });
  return Buffer.concat([valid.subarray(0, -4), tail]);
}

const AVRO_CASES: Array<[string, Buffer, RegExp]> = [
  ['an array claiming 2^31 - 1 items', craftedAlliance(long(2 ** 31 - 1)), /MALFORMED_AVRO: malformed Avro at data\.etiquetas: a block of 2147483647 items/],
  ['a map claiming 2^40 entries', craftedAlliance(Buffer.concat([long(0), long(2 ** 40)])), /MALFORMED_AVRO: .*data\.atributos: a block of 1099511627776 items/],
  ['bytes claiming 2^31 bytes', craftedAlliance(Buffer.concat([long(0), long(0), long(2 ** 31)])), /MALFORMED_AVRO: .*data\.adjunto: a bytes of 2147483648 bytes/],
  ['an array inside an array claiming 2^31 - 1 items', craftedAlliance(Buffer.concat([long(0), long(0), long(0), long(1), long(2 ** 31 - 1)])),
    /MALFORMED_AVRO: .*data\.tramos\[0\]: a block of 2147483647 items/],
  ['a string claiming 2^40 bytes', Buffer.concat([long(36), Buffer.from(randomUUID()), long(2), long(2 ** 40)]), /MALFORMED_AVRO: .*specversion: a string of 1099511627776 bytes/],
];

describe('consumers against crafted Avro and unstorable strings', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;
  let p: ConsumersProcess;
  let alliances: Producer;
  let dlq: Awaited<ReturnType<typeof watchDeadLetters>>;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_hostile_avro');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
    alliances = await allianceProducer(client, namespace, V2);
    dlq = await watchDeadLetters(client, namespace, ALLIANCES_DLQ);
    p = await startConsumersProcess({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace });
  });

  afterAll(async () => {
    if (p?.child.exitCode === null) p.child.kill('SIGKILL');
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const inboxStatus = async (key: string) =>
    (await database.sql<{ status: string }[]>`select status from inbox where consumer = 'alliances' and message_key = ${key}`)[0]?.status;
  const rows = async () => {
    const [r] = await database.sql<{ inbox: number; effects: number; audit: number }[]>`select (select count(*)::int from inbox) as inbox,
      (select count(*)::int from partner_alliance_events) as effects, (select count(*)::int from audit_events) as audit`;
    return r!;
  };
  const healthyAlliance = (): AllianceEvent => ({
    ...allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-ok', partner_id: randomUUID() } }),
    data: { alianza_id: 'ali-ok', partner_id: randomUUID(), nombre: null, estado: null, motivo: null, etiquetas: ['a'], atributos: { k: 'v' }, adjunto: Buffer.from([1]), tramos: [[1, 2]] },
  });

  it.each(AVRO_CASES)('dead-letters an alliance event with %s once and handles the next', async (_name, payload, reason) => {
    const before = await rows();
    await alliances.send({ payload, properties: { origin: 'gestion-de-alianzas' } });
    const next = healthyAlliance();
    await publishAlliance(alliances, [next], V2);

    const copy = await dlq.next();
    expect(copy.properties[DLQ_PROPERTIES.error]).toMatch(reason);
    expect(Buffer.compare(Buffer.from(copy.payload), payload)).toBe(0);
    await expect.poll(() => inboxStatus(next.id), { timeout: 20_000, interval: 100 }).toBe('processed');
    expect(await nothingWithin(dlq, 1_500)).toEqual([]);
    // The healthy event's inbox row and effect, and one dead-letter record.
    expect(await rows()).toMatchObject({ inbox: before.inbox + 2, effects: before.effects + 1 });
    await expectHealthy(p);
  }, 60_000);

  it('dead-letters an alliance event with U+0000 in a string once, recording it with U+FFFD, and handles the next', async () => {
    const before = await rows();
    const nul = allianceEvent({ id: randomUUID(), type: 'AlianzaCreada', data: { alianza_id: 'ali-nul', partner_id: randomUUID(), nombre: 'Acme\u0000Corp' } });
    const plain = { ...nul, data: { ...nul.data, etiquetas: [], atributos: {}, adjunto: Buffer.alloc(0), tramos: [] } };
    await alliances.send({ payload: encodeAllianceEvent(plain, V2) });
    const next = healthyAlliance();
    await publishAlliance(alliances, [next], V2);

    expect((await dlq.next()).properties[DLQ_PROPERTIES.error]).toMatch(/UNSTORABLE_TEXT: envelope\.data\.nombre holds U\+0000, which PostgreSQL cannot store/);
    await expect.poll(() => inboxStatus(next.id), { timeout: 20_000, interval: 100 }).toBe('processed');
    // Dead-lettered once: the record of it does not fail on the same NUL and bring the message back.
    expect(await nothingWithin(dlq, 3_000)).toEqual([]);
    expect(await inboxStatus(nul.id)).toBe('dead_lettered');
    const [record] = await database.sql<{ envelope: { data: { nombre: string } }; error: string }[]>`
      select envelope, error from inbox where message_key = ${nul.id}`;
    expect(record!.envelope.data.nombre).toBe('Acme\uFFFDCorp');
    expect(await rows()).toMatchObject({ inbox: before.inbox + 2, effects: before.effects + 1 });
    await expectHealthy(p);
  }, 60_000);

  it('dead-letters relevo\'s own events with a lying array count, a NUL in a string or in a property, once each for audit and alerts', async () => {
    const auditDlq = await watchDeadLetters(client, namespace, `${TOPICS.partners}-relevo-audit-dlq`);
    const alertsDlq = await watchDeadLetters(client, namespace, `${TOPICS.partners}-relevo-alerts-dlq`);
    const own = await ownProducer(client, namespace, TOPICS.partners);
    try {
      const before = await rows();
      // PartnerActualizado.campos_actualizados is its last field: 5 bytes in place of its empty array.
      const valid = encodeEvent(TOPICS.partners, integrationEvent({
        type: 'PartnerActualizado', partner_id: randomUUID(), version: 2, nombre: 'Acme', email: 'a@example.test', estado: 'SUSPENDIDO',
        estado_kyc: 'PENDIENTE', campos_actualizados: [],
      }));
      await own.send({ payload: Buffer.concat([valid.subarray(0, -1), long(2 ** 31 - 1)]), properties: { ce_type: 'PartnerActualizado' } });
      const nulName = integrationEvent({
        type: 'PartnerCreado', partner_id: randomUUID(), version: 1, nombre: 'Acme\u0000', email: 'nul@example.test', estado: 'ACTIVO', estado_kyc: 'PENDIENTE',
      });
      await publishOwn(own, TOPICS.partners, [nulName]);
      const nulProperty = integrationEvent(partnerCreado());
      await own.send({ payload: encodeEvent(TOPICS.partners, nulProperty), properties: { ce_id: nulProperty.id, ce_type: 'PartnerCreado', ce_source: 'x\u0000y' } });
      const next = integrationEvent(partnerCreado());
      await publishOwn(own, TOPICS.partners, [next]);

      const errors = [];
      for (let i = 0; i < 3; i++) errors.push((await auditDlq.next()).properties[DLQ_PROPERTIES.error]);
      expect(errors).toHaveLength(3);
      expect(errors).toEqual(expect.arrayContaining([
        expect.stringMatching(/^MALFORMED_AVRO: malformed Avro at data\.campos_actualizados: a block of 2147483647 items/),
        expect.stringMatching(/^UNSTORABLE_TEXT: envelope\.data\.nombre holds U\+0000/),
        expect.stringMatching(/^UNSTORABLE_TEXT: properties\.ce_source holds U\+0000/),
      ]));
      // Alerts store nothing for these events; only the lying count keeps them from being read.
      expect((await alertsDlq.next()).properties[DLQ_PROPERTIES.error]).toMatch(/MALFORMED_AVRO: .*campos_actualizados/);
      await expect.poll(async () => (await database.sql`select 1 from audit_events where event_id = ${next.id}`).length,
        { timeout: 20_000, interval: 100 }).toBe(1);
      expect([...await nothingWithin(auditDlq, 2_000), ...await nothingWithin(alertsDlq, 500)]).toEqual([]);
      expect(await rows()).toMatchObject({ audit: before.audit + 1 });
      await expectHealthy(p);
    } finally {
      await own.close();
    }
  }, 90_000);

  it('reports event types it does not know as "other" in its metrics', async () => {
    const types = Array.from({ length: 20 }, () => `Alianza${randomUUID().replaceAll('-', '')}`);
    const events = types.map((type) => ({ ...healthyAlliance(), type }));
    await publishAlliance(alliances, events, V2);
    await expect.poll(async () => (await database.sql`select 1 from inbox where status = 'unhandled'`).length, { timeout: 20_000, interval: 100 }).toBe(20);
    const metrics = await (await fetch(`${p.base}/metrics`)).text();
    for (const type of types) expect(metrics).not.toContain(type);
    expect(metrics).toMatch(/relevo_consumer_messages_total\{consumer="alliances",topic="gestion-de-alianzas",type="other",outcome="unhandled"\} 20/);
    expect(metrics).toMatch(/relevo_consumer_messages_total\{consumer="alliances",topic="gestion-de-alianzas",type="AlianzaCreada",outcome="processed"\} \d+/);
    await expectHealthy(p);
  }, 60_000);
});
