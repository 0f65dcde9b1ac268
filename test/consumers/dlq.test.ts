// `relevo dlq` as a subprocess against the real broker and database, the consumers running in
// this process: a poison message is dead-lettered, listed with its error, shown decoded, fixed
// at its cause and replayed once (a second replay is refused); a purge drops one without
// handling it; bad input exits 2 with one line. Also: the dead-letter topics the consumers
// build are the ones `relevo dlq` and the operator page know, and each has its `relevo-dlq`
// subscription from before its first dead letter. Each `relevo dlq` is a process of its own
// (about 2 s to start here), hence the scenarios' longer time limits.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { CONSUMER_NAMES, DEFAULT_RULES, consumerSpecs, createConsumerMetrics, type Alert } from '@relevo/consumers';
import { DEAD_LETTER_SUBSCRIPTION, DEAD_LETTER_TOPICS, TOPICS } from '@relevo/events';
import { createAdmin, createClient, type PulsarClient } from '@relevo/pulsar';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { adminUrl, createTestNamespace } from '../support/pulsar.ts';
import { integrationEvent, kyc, metricValue, ownProducer, partnerCreado, publishOwn, serviceUrl, startInProcess, type InProcess } from './support.ts';

const cli = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
const ALERTS_DLQ = `${TOPICS.partners}-relevo-alerts-dlq`;
const AUDIT_DLQ = `${TOPICS.partners}-relevo-audit-dlq`;

describe('relevo dlq', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;
  let consumers: InProcess;
  let server: Server;
  let webhookUp = false;
  const delivered: Alert[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_dlq');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        if (!webhookUp) return void res.writeHead(503).end();
        delivered.push(JSON.parse(body) as Alert);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
    consumers = await startInProcess(tdb.url, namespace, {
      enabled: ['audit', 'alerts'], maxRedeliveries: 1, nackDelayMs: 200, rules: [...DEFAULT_RULES],
      webhook: { url, retries: 0, backoffMs: 10, timeoutMs: 2_000 },
    });
    env = {
      ...process.env, DATABASE_URL: tdb.url, BROKER_URL: serviceUrl, PULSAR_ADMIN_URL: adminUrl, PULSAR_NAMESPACE: namespace,
      ALERT_WEBHOOK_URL: url, ALERT_WEBHOOK_RETRIES: '0', NO_COLOR: '1', LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    await consumers?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  let env: NodeJS.ProcessEnv;
  const dlq = async (...args: string[]) => {
    try {
      const r = await promisify(execFile)(process.execPath, [cli, 'dlq', ...args], { env });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const json = async (...args: string[]) => {
    const r = await dlq(...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };
  const deadLettered = (consumer: string) => metricValue(consumers.metrics, 'relevo_consumer_dead_lettered_total', { consumer });

  it('the consumers dead-letter to the topics relevo dlq knows, each kept by its relevo-dlq subscription', () => {
    const specs = consumerSpecs({
      client, sql: database.sql, namespace, log: createLogger('dlq-test', 'silent'), metrics: createConsumerMetrics(),
      enabled: [...CONSUMER_NAMES], rules: [...DEFAULT_RULES],
    });
    expect(specs.map((s) => ({ consumer: s.name, topic: s.topic, subscription: s.subscription, deadLetterTopic: s.deadLetterTopic })).sort((a, b) => a.consumer.localeCompare(b.consumer)))
      .toEqual(DEAD_LETTER_TOPICS.map((t) => ({
        consumer: t.consumer, topic: `persistent://${namespace}/${t.topic}`, subscription: t.subscription,
        deadLetterTopic: `persistent://${namespace}/${t.deadLetterTopic}`,
      })).sort((a, b) => a.consumer.localeCompare(b.consumer)));
  });

  it('a poison message is dead-lettered, listed with its error, shown, fixed at its cause and replayed once', async () => {
    const partner = randomUUID();
    const rejected = integrationEvent(kyc(partner, 'RECHAZADO'));
    const producer = await ownProducer(client, namespace, TOPICS.partners);
    // The webhook is down: the kyc-rechazado alert fails on every delivery and is dead-lettered.
    await publishOwn(producer, TOPICS.partners, [rejected]);
    await expect.poll(() => deadLettered('alerts'), { timeout: 20_000, interval: 200 }).toBe(1);
    // The dead-letter topic's subscription was there before the dead letter: it holds it.
    expect((await createAdmin(adminUrl).subscriptionBacklogs(`persistent://${namespace}/${ALERTS_DLQ}`))?.[DEAD_LETTER_SUBSCRIPTION]).toBe(1);

    const listed = await json('list');
    expect(listed.topics).toContainEqual({ dead_letter_topic: ALERTS_DLQ, consumer: 'alerts', pending: 1 });
    expect(listed.topics).toContainEqual({ dead_letter_topic: AUDIT_DLQ, consumer: `audit:${TOPICS.partners}`, pending: 0 });
    expect(listed.items).toHaveLength(1);
    const [item] = listed.items;
    expect(item).toMatchObject({
      id: expect.stringMatching(/^\d+:\d+$/), dead_letter_topic: ALERTS_DLQ, consumer: 'alerts', subscription: 'relevo-alerts',
      original_topic: `persistent://${namespace}/${TOPICS.partners}`, original_message_id: expect.stringMatching(/^\d+:\d+:-1:\d+$/),
      event_type: 'KYCVerificado', event_id: rejected.id, redeliveries: 1,
      error: 'ALERT_WEBHOOK_FAILED: the alert webhook answered 503',
    });
    expect(listed.by_error).toEqual([{ error: 'ALERT_WEBHOOK_FAILED: the alert webhook answered 503', count: 1 }]);
    const human = await dlq('list', '--topic', 'alerts');
    expect(human.stdout).toMatch(new RegExp(`${ALERTS_DLQ}\\s+alerts\\s+1`));
    expect(human.stdout).toContain(`${item.id}  alerts`);

    const shown = await json('show', item.id);
    expect(shown).toMatchObject({ id: item.id, error: 'ALERT_WEBHOOK_FAILED: the alert webhook answered 503', properties: { ce_id: rejected.id } });
    expect(shown.event).toMatchObject({ id: rejected.id, type: 'KYCVerificado', data: { partner_id: partner, estado_kyc: 'RECHAZADO' } });

    // The cause is fixed: the webhook is back. The replay runs the alerts consumer's handler here.
    webhookUp = true;
    const replayed = await dlq('replay', item.id, '--reason', 'webhook back after the outage', '--json');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(JSON.parse(replayed.stdout)).toMatchObject({ replayed: 1, failed: 0, items: [{ id: item.id, outcome: 'alerted' }] });
    expect(delivered.map((a) => ({ rule: a.rule, event: a.event.id }))).toEqual([{ rule: 'kyc-rechazado', event: rejected.id }]);
    const logged = replayed.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'dead letter replayed', deadLetter: item.id, reason: 'webhook back after the outage', outcome: 'alerted' }));
    expect((await json('list', '--topic', ALERTS_DLQ)).topics).toEqual([{ dead_letter_topic: ALERTS_DLQ, consumer: 'alerts', pending: 0 }]);

    // Once: a second replay of the same dead letter is refused, and nothing is sent again.
    const again = await dlq('replay', item.id, '--reason', 'again');
    expect(again.code).toBe(4);
    expect(again.stderr.trim().split('\n')).toEqual([`relevo: dead letter ${item.id} on ${ALERTS_DLQ} was already replayed or purged: it is no longer pending`]);
    expect(delivered).toHaveLength(1);
  }, 120_000);

  it('the replayed message carries the reason to its handler: the audit trail stores it', async () => {
    // The audit table refuses this partner's events for a while (a constraint added by hand).
    const partner = randomUUID();
    await database.sql.unsafe(`alter table audit_events add constraint refuses_one check (partner_id is distinct from '${partner}')`);
    const created = integrationEvent(partnerCreado(partner));
    const before = await deadLettered(`audit:${TOPICS.partners}`);
    await publishOwn(await ownProducer(client, namespace, TOPICS.partners), TOPICS.partners, [created]);
    await expect.poll(() => deadLettered(`audit:${TOPICS.partners}`), { timeout: 20_000, interval: 200 }).toBe(before + 1);
    const [item] = (await json('list', '--topic', AUDIT_DLQ)).items;
    expect(item).toMatchObject({ event_id: created.id, error: expect.stringMatching(/refuses_one/) });

    // Replayed before the fix: it fails again and stays pending.
    const early = await dlq('replay', item.id, '--topic', AUDIT_DLQ, '--reason', 'too soon');
    expect(early.code).toBe(1);
    expect(early.stdout).toMatch(new RegExp(`failed +${item.id} \\(audit:${TOPICS.partners}\\): .*refuses_one.*; it stays in ${AUDIT_DLQ}`));
    expect((await json('list', '--topic', AUDIT_DLQ)).items.map((i: { id: string }) => i.id)).toEqual([item.id]);

    await database.sql.unsafe('alter table audit_events drop constraint refuses_one');
    expect((await dlq('replay', item.id, '--reason', 'constraint dropped')).code).toBe(0);
    const [stored] = await database.sql<{ properties: Record<string, string>; message_id: string }[]>`
      select properties, message_id from audit_events where event_id = ${created.id}`;
    expect(stored!.properties).toMatchObject({ relevo_dlq_replay_reason: 'constraint dropped', relevo_dlq_replayed_from: item.id, ce_id: created.id });
    expect(stored!.message_id).toBe(item.original_message_id);
  }, 120_000);

  it('purge drops a dead letter without handling it, with the reason logged', async () => {
    webhookUp = false;
    const rejected = integrationEvent(kyc(randomUUID(), 'RECHAZADO'));
    const before = await deadLettered('alerts');
    await publishOwn(await ownProducer(client, namespace, TOPICS.partners), TOPICS.partners, [rejected]);
    await expect.poll(() => deadLettered('alerts'), { timeout: 20_000, interval: 200 }).toBe(before + 1);
    const [item] = (await json('list', '--topic', 'alerts')).items;
    const purged = await dlq('purge', item.id, '--reason', 'test alert, nobody needs it');
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toBe(`purged 1 dead letter(s): ${item.id}\n`);
    expect(purged.stderr).toContain('"reason":"test alert, nobody needs it"');
    expect((await json('list', '--topic', 'alerts')).items).toEqual([]);
    expect((await dlq('replay', item.id, '--reason', 'x')).code).toBe(4);
  }, 120_000);

  it.each([
    { args: ['list', '--topic', 'nope'], line: /^relevo: --topic: "nope" is not a dead-letter topic or consumer; one of: / },
    { args: ['show', 'not-an-id'], line: /^relevo: "not-an-id" is not a dead-letter id/ },
    { args: ['show'], line: /^relevo: give one dead-letter id/ },
    { args: ['replay', '1:2'], line: /^relevo: --reason "…" is required/ },
    { args: ['replay', '--all', '--reason', 'x'], line: /^relevo: --all needs --topic/ },
    { args: ['purge', '--reason', 'x'], line: /^relevo: give the dead-letter ids to purge/ },
    { args: ['list', '--bogus'], line: /^relevo: Unknown option '--bogus'/ },
    { args: ['frobnicate'], line: /^relevo: unknown dlq command "frobnicate"/ },
  ])('bad input exits 2 with one line: dlq $args', async ({ args, line }) => {
    const r = await dlq(...args);
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('relevo:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
  });

  it('an id no dead-letter topic holds exits 3', async () => {
    const r = await dlq('show', '999999999:0');
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toMatch(/^relevo: no dead letter 999999999:0 on /);
  });
});
