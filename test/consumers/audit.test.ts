// The audit consumer against the real broker: every event on relevo's own topics is stored
// once per (event id, topic), however the broker redelivers it or a producer duplicates it.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import {
  integrationEvent, kyc, metricValue, nackFirstDeliveries, ownProducer, partnerCreado, publishOwn,
  serviceUrl, startInProcess, type InProcess,
} from './support.ts';

const cli = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

describe('audit consumer', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_consumers_audit');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
  });

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const auditRows = () => database.sql<{ event_id: string; topic: string; n: number }[]>`
    select event_id, topic, count(*)::int as n from audit_events group by event_id, topic`;

  let consumers: InProcess;
  const partners = Array.from({ length: 40 }, () => randomUUID());
  const created = partners.map((p) => integrationEvent(partnerCreado(p), new Date(Date.now() - 1_000)));
  const kycs = partners.slice(0, 10).map((p) => integrationEvent(kyc(p, 'VERIFICADO')));

  it('stores each event once per topic when every first delivery is nacked and a second producer repeats them', async () => {
    const lostAcks = nackFirstDeliveries();
    consumers = await startInProcess(tdb.url, namespace, { enabled: ['audit'], beforeAck: lostAcks.beforeAck });
    const a = await ownProducer(client, namespace, TOPICS.partners, 'relay-a');
    const b = await ownProducer(client, namespace, TOPICS.partners, 'relay-b');
    const compliance = await ownProducer(client, namespace, TOPICS.compliance);
    // The same envelopes, byte for byte, from two producers: broker dedup cannot drop them.
    await publishOwn(a, TOPICS.partners, [...created, ...kycs]);
    await publishOwn(b, TOPICS.partners, [...created, ...kycs]);
    await publishOwn(compliance, TOPICS.compliance, kycs);
    await publishOwn(compliance, TOPICS.compliance, kycs.slice(0, 3));

    await expect.poll(async () => (await auditRows()).length, { timeout: 30_000, interval: 200 }).toBe(60);
    // 113 messages, each handled at least twice (nacked once, then redelivered; a nack redelivers
    // a whole batch entry, so some more often): 60 stored, the rest duplicates.
    await expect.poll(() => metricValue(consumers.metrics, 'relevo_consumer_messages_total', { outcome: 'duplicate' }),
      { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(113 * 2 - 60);
    expect(await metricValue(consumers.metrics, 'relevo_consumer_messages_total', { outcome: 'stored' })).toBe(60);
    const rows = await auditRows();
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(rows.filter((r) => r.topic === TOPICS.partners)).toHaveLength(50);
    expect(rows.filter((r) => r.topic === TOPICS.compliance).map((r) => r.event_id).sort()).toEqual(kycs.map((e) => e.id).sort());
    await expect.poll(() => lostAcks.nacked, { timeout: 10_000 }).toBe(50 * 2 + 13);

    const [row] = await database.sql`select * from audit_events where event_id = ${kycs[0]!.id} and topic = ${TOPICS.compliance}`;
    expect(row).toMatchObject({
      event_type: 'KYCVerificado', partner_id: partners[0], message_id: expect.stringMatching(/^\d+:\d+:-1:-?\d+$/),
      envelope: { id: kycs[0]!.id, type: 'KYCVerificado', data: { partner_id: partners[0], estado_kyc: 'VERIFICADO' } },
      properties: { ce_id: kycs[0]!.id, ce_type: 'KYCVerificado' },
      event_time: new Date(kycs[0]!.time),
    });
    expect((row!.received_at as Date).getTime()).toBeGreaterThanOrEqual((row!.publish_time as Date).getTime());
    // Stored on its first delivery (the nack came after the insert).
    expect(Number(row!.redelivery_count)).toBe(0);
    await Promise.all([a.close(), b.close(), compliance.close()]);
  }, 90_000);

  it('exports counts and event → receipt latency per type and topic', async () => {
    const text = await consumers.metrics.registry.metrics();
    expect(text).toMatch(/relevo_consumer_messages_total\{consumer="audit:eventos-partners",topic="eventos-partners",type="PartnerCreado",outcome="stored"\} 40/);
    expect(text).toMatch(/relevo_consumer_event_to_receipt_seconds_count\{consumer="audit:administracion-financiera-compliance",topic="administracion-financiera-compliance",type="KYCVerificado"\} \d+/);
    await consumers.close();
  });

  it('refuses to update or delete audit rows', async () => {
    await expect(database.sql`update audit_events set event_type = 'x'`).rejects.toThrow(/append-only/);
    await expect(database.sql`delete from audit_events`).rejects.toThrow(/append-only/);
  });

  describe('relevo audit', () => {
    const run = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, 'audit', ...args], {
          env: { ...process.env, DATABASE_URL: tdb.url, NO_COLOR: '1' },
        });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };

    it('filters by partner, type and time, in a table or as JSON', async () => {
      const byPartner = JSON.parse((await run('--partner', partners[0]!, '--json')).stdout);
      expect(byPartner.rows.map((r: { event_type: string; topic: string }) => `${r.event_type}@${r.topic}`).sort()).toEqual([
        `KYCVerificado@${TOPICS.compliance}`, `KYCVerificado@${TOPICS.partners}`, `PartnerCreado@${TOPICS.partners}`,
      ]);
      const byType = JSON.parse((await run('--type', 'KYCVerificado', '--topic', TOPICS.compliance, '--limit', '100', '--json')).stdout);
      expect(byType.rows).toHaveLength(10);
      expect(byType.next_cursor).toBeNull();
      const recent = JSON.parse((await run('--since', new Date(Date.now() - 500).toISOString(), '--json')).stdout);
      expect(recent.rows).toHaveLength(0);
      const page1 = JSON.parse((await run('--limit', '30', '--json')).stdout);
      const page2 = JSON.parse((await run('--limit', '30', '--cursor', page1.next_cursor, '--json')).stdout);
      expect(new Set([...page1.rows, ...page2.rows].map((r: { id: string }) => r.id)).size).toBe(60);
      const human = await run('--partner', partners[1]!);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(/event time\s+type\s+topic\s+partner/);
      expect(human.stdout).toContain(partners[1]);
    });

    it.each([
      [['--since', 'yesterday'], 2, /--since: "yesterday" is not a time/],
      [['--partner', 'nope'], 2, /--partner: "nope" is not a UUID/],
      [['--bogus'], 2, /Unknown option '--bogus'/],
    ])('%j → exit %i with one clear line', async (args, code, message) => {
      const r = await run(...args);
      expect(r.code).toBe(code);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  });
});

