// The alert webhook as a hostile or broken receiver would answer it: a redirect elsewhere is not
// followed, a body that never ends is not read, and no database transaction or lock is held
// while the POST is in flight.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import { integrationEvent, kyc, metricValue, ownProducer, publishOwn, serviceUrl, startInProcess } from './support.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => void handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts` };
}

describe('alert webhook against a hostile receiver', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  const servers: Server[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_alerts_webhook');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
  });

  afterAll(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  /** Publishes one KYC rejection (a critical alert) with the webhook at url; resolves when its message is settled. */
  async function alertOnce(url: string, timeoutMs = 5_000) {
    const namespace = await createTestNamespace();
    const consumers = await startInProcess(tdb.url, namespace, { enabled: ['alerts'], webhook: { url, retries: 1, backoffMs: 20, timeoutMs } });
    const producer = await ownProducer(client, namespace, TOPICS.partners);
    const started = Date.now();
    await publishOwn(producer, TOPICS.partners, [integrationEvent(kyc(randomUUID(), 'RECHAZADO'))]);
    await expect.poll(() => metricValue(consumers.metrics, 'relevo_consumer_messages_total', { outcome: 'alerted' }), { timeout: 20_000, interval: 50 }).toBe(1);
    const ms = Date.now() - started;
    await producer.close();
    return { consumers, ms };
  }

  it('does not follow a redirect: the alert is refused, and nothing reaches where it pointed', async () => {
    const elsewhere: string[] = [];
    const other = await listen((req, res) => { elsewhere.push(req.url ?? ''); res.writeHead(204).end(); });
    const redirecting = await listen((_req, res) => { res.writeHead(307, { location: other.url }).end(); });
    servers.push(other.server, redirecting.server);
    const { consumers } = await alertOnce(redirecting.url);
    try {
      expect(await metricValue(consumers.metrics, 'relevo_alerts_total', { outcome: 'refused' })).toBe(1);
      expect(await metricValue(consumers.metrics, 'relevo_alerts_total', { outcome: 'sent' })).toBe(0);
      expect(elsewhere).toEqual([]);
    } finally {
      await consumers.close();
    }
  }, 60_000);

  it('does not read the response body: an answer that never ends does not hold the alert', async () => {
    let pushed = 0;
    const endless = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) pushed += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    servers.push(endless.server);
    const { consumers, ms } = await alertOnce(endless.url, 10_000);
    try {
      expect(await metricValue(consumers.metrics, 'relevo_alerts_total', { outcome: 'sent' })).toBe(1);
      // Settled long before the 10 s request timeout, with no more read than the socket buffers hold.
      expect(ms).toBeLessThan(8_000);
      expect(pushed).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await consumers.close();
    }
  }, 60_000);

  it('holds no database transaction or advisory lock while the POST is in flight', async () => {
    const seen: Array<{ inTransaction: number; advisoryLocks: number }> = [];
    const probing = await listen(async (_req, res) => {
      const [row] = await database.sql<{ inTransaction: number; advisoryLocks: number }[]>`select
        (select count(*)::int from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
           and state like 'idle in transaction%') as "inTransaction",
        (select count(*)::int from pg_locks l join pg_database d on d.oid = l.database
           where l.locktype = 'advisory' and d.datname = current_database()) as "advisoryLocks"`;
      seen.push(row!);
      res.writeHead(204).end();
    });
    servers.push(probing.server);
    const { consumers } = await alertOnce(probing.url);
    try {
      expect(await metricValue(consumers.metrics, 'relevo_alerts_total', { outcome: 'sent' })).toBe(1);
      expect(seen).toEqual([{ inTransaction: 0, advisoryLocks: 0 }]);
      const [n] = await database.sql`select count(*)::int as n from inbox where consumer = 'alerts'`;
      expect(n!.n).toBeGreaterThanOrEqual(1);
    } finally {
      await consumers.close();
    }
  }, 60_000);
});
