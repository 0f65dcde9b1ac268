// A database outage longer than the consumers' redeliveries. The audit consumer reaches
// Postgres through a TCP relay the test cuts for a few seconds: messages that failed only
// because the database was unreachable come back until it is, none is dead-lettered, and
// every event ends up stored once.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import { integrationEvent, metricValue, ownProducer, partnerCreado, publishOwn, serviceUrl, startInProcess } from './support.ts';

/** A TCP relay to Postgres that can be cut (listener closed, every connection dropped) and restored on the same port. */
class CuttableLink {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(5432, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as { port: number }).port;
  }

  async cut(): Promise<void> {
    const closed = new Promise((resolve) => this.server?.close(resolve));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('consumers during a database outage', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;
  const link = new CuttableLink();

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_consumers_outage');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
    await link.open();
  });

  afterAll(async () => {
    await link.cut().catch(() => undefined);
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  it('redelivers what failed on the database until it is back, and dead-letters none of it', async () => {
    const viaLink = tdb.url.replace('127.0.0.1:5432', `127.0.0.1:${link.port}`);
    const consumers = await startInProcess(viaLink, namespace, { enabled: ['audit'], maxRedeliveries: 1, nackDelayMs: 100 });
    const producer = await ownProducer(client, namespace, TOPICS.partners);
    try {
      const events = Array.from({ length: 20 }, () => integrationEvent(partnerCreado(randomUUID())));
      await link.cut();
      await publishOwn(producer, TOPICS.partners, events);
      // Long enough for every message to fail more often than maxRedeliveries allows.
      await sleep(2_500);
      expect(await metricValue(consumers.metrics, 'relevo_consumer_messages_total', { outcome: 'retry' })).toBeGreaterThan(20);
      await link.open();
      await expect.poll(async () => (await database.sql<{ n: number }[]>`select count(*)::int as n from audit_events`)[0]!.n,
        { timeout: 30_000, interval: 200 }).toBe(20);
      expect(await metricValue(consumers.metrics, 'relevo_consumer_dead_lettered_total', {})).toBe(0);
    } finally {
      await producer.close();
      await consumers.close();
    }
  });
});
