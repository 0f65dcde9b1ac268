// relevo on a real Pulsar cluster: ZooKeeper, one bookie and two brokers (the 'cluster' profile of
// scripts/pulsar.ts, ports 2191, 3192, 6652/8082, 6653/8083), started here and stopped after; the
// dev broker is not touched. The relay and the clients are given both brokers in one URL. Under
// load: the broker that owns eventos-partners is SIGKILLed (the topic moves to the other one, its
// deduplication state rebuilt there), the topic is unloaded and its namespace bundle split, and
// eventos-partners in 4 partitions across the two brokers loses one of them. Each time every
// event arrives once, in order per partner.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS, topicSchema } from '@relevo/events';
import { createAdmin, createClient, partitionForKey, type PulsarClient } from '@relevo/pulsar';
import { producerName, topicUrl } from '@relevo/relay';
import { clusterAdminUrl, clusterServiceUrl, killClusterBroker, startCluster, stopCluster } from '../../scripts/pulsar-cluster.ts';
import { createClusterNamespace, ownerOf, splitBundleOf, spreadOverBrokers, unloadTopic } from '../support/cluster.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectExactlyOnceInOrder, versionsByPartner } from '../support/ordering.ts';
import { collect, subscribeEarliest, type Received } from '../support/pulsar.ts';
import { spawnRelay, waitUntilDrained, type RelayProcess } from '../support/relay-process.ts';
import { commitWaker } from '../support/waker.ts';
import { createPartners, updateConcurrently, type OnCommitted } from '../support/writes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port on which nothing listens: the first host of a service URL that is down. */
async function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

beforeAll(async () => {
  const s = await startCluster({ timeoutMs: 170_000 });
  console.log(`pulsar cluster: ${s.started.length ? `started ${s.started.join(', ')}` : 'already running'} in ${s.seconds.toFixed(1)} s`);
}, 180_000);

afterAll(async () => {
  await stopCluster();
}, 120_000);

describe('relevo on a Pulsar cluster', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let wake: OnCommitted;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 10 });
    client = createClient({ serviceUrl: clusterServiceUrl });
    wake = commitWaker(database);
  });

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const sent = async (ids: string[]) => (await database.sql<{ n: number }[]>`
    select count(*)::int as n from outbox where sent_at is not null and aggregate_id = any(${ids}::uuid[])`)[0]!.n;

  const relayOnCluster = (namespace: string, env: Record<string, string> = {}) => spawnRelay({
    DATABASE_URL: tdb.url, BROKER_URL: clusterServiceUrl, PULSAR_ADMIN_URL: clusterAdminUrl, PULSAR_NAMESPACE: namespace, ...env,
  });

  /** Waits for the outbox to drain, then stops the relay (exit 0 on SIGTERM). */
  async function drainAndStop(relay: RelayProcess): Promise<void> {
    try {
      await waitUntilDrained(database, relay, 150_000);
    } finally {
      relay.child.kill('SIGTERM');
    }
    expect(await relay.exited).toBe(0);
  }

  /**
   * The relay publishes partners × versions events while `during` runs its faults. The test's
   * subscription exists from the start: a topic without one keeps nothing once its ledger is
   * rolled over (an unload, a new owner), unless the namespace has a retention policy.
   */
  async function underLoad(namespace: string, partners: number, updates: number, during: (ids: string[]) => Promise<void>, env: Record<string, string> = {}): Promise<void> {
    await (await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners))).close();
    const relay = relayOnCluster(namespace, env);
    let load: Promise<void> | undefined;
    let ids: string[] = [];
    try {
      ids = await createPartners(database, partners, wake);
      load = updateConcurrently(database, ids, updates, 4, wake);
      await during(ids);
      await load;
    } catch (err) {
      relay.child.kill('SIGKILL');
      await load?.catch(() => undefined);
      throw err;
    }
    await drainAndStop(relay);
    // A broker gone or a topic on the move is no row's fault: its sends wait for the topic to
    // answer again, and no publish attempt is counted. (A send failed by closing its producer
    // under the run gave rows back without their sequence ids, and the re-sends went out as
    // new messages: duplicates.)
    const [tried] = await database.sql<{ n: number }[]>`
      select count(*)::int as n from outbox where attempts > 0 and aggregate_id = any(${ids}::uuid[])`;
    expect(tried!.n, 'rows that needed a second publish attempt').toBe(0);
  }

  /** What the test's subscription (made before the load) holds, read from its start. */
  async function readAll(topic: string, count: number): Promise<Received[]> {
    const consumer = await subscribeEarliest(client, topic);
    try {
      return await collect(consumer, TOPICS.partners, count, 10_000);
    } finally {
      await consumer.close();
    }
  }

  async function waitForSent(ids: string[], n: number, timeoutMs = 60_000): Promise<void> {
    await expect.poll(() => sent(ids), { timeout: timeoutMs, interval: 100 }).toBeGreaterThanOrEqual(n);
  }

  it('takes several brokers in one URL: a client and the admin API get past a first host that is down', async () => {
    const down = await deadPort();
    const namespace = await createClusterNamespace();
    const topic = topicUrl(namespace, TOPICS.partners);
    const viaDead = createClient({ serviceUrl: `pulsar://127.0.0.1:${down},${clusterServiceUrl.slice('pulsar://'.length)}` });
    try {
      const schema = { type: 'AVRO' as const, schema: topicSchema(TOPICS.partners).json, name: TOPICS.partners };
      const consumer = await viaDead.subscribe({ topic, subscription: 'first-host-down', initialPosition: 'earliest' });
      const producer = await viaDead.createProducer({ topic, schema });
      await producer.send({ payload: Buffer.from('through the second host') });
      expect(Buffer.from((await consumer.receive(20_000)).payload).toString()).toBe('through the second host');
      await Promise.all([producer.close(), consumer.close()]);
      // The admin API: the first host is down, and the topic's calls redirect to its owner.
      const admin = createAdmin(`http://127.0.0.1:${down},${clusterAdminUrl.slice('http://'.length)}`, { timeoutMs: 10_000 });
      expect((await admin.getSchema(topic))?.type).toBe('AVRO');
      expect(await admin.partitionCount(topic)).toBe(0);
      expect(await admin.deduplicationStatus(namespace)).toBe(true);
    } finally {
      await viaDead.close();
    }
  });

  it('the broker that owns eventos-partners is SIGKILLed mid-load: the topic moves, its deduplication state with it, nothing is lost or duplicated', async () => {
    const namespace = await createClusterNamespace();
    const topic = topicUrl(namespace, TOPICS.partners);
    let killed = '';
    let partners: string[] = [];
    await underLoad(namespace, 300, 19, async (ids) => {
      partners = ids;
      await waitForSent(ids, 1_500);
      const owner = await ownerOf(topic);
      killed = owner.name;
      const killedAt = new Date();
      await killClusterBroker(owner.name);
      // The first rows sent after the kill: the topic answers on the other broker.
      const before = await sent(ids);
      await waitForSent(ids, before + 1, 90_000);
      console.log(`owner ${owner.name} killed: rows sent again after ${((Date.now() - killedAt.getTime()) / 1000).toFixed(1)} s`);
    });
    expect((await ownerOf(topic)).name).not.toBe(killed);
    const restarting = startCluster({ timeoutMs: 170_000 });
    try {
      // The new owner rebuilt each relay producer's deduplication state from the topic's ledgers:
      // it knows the last sequence id each shard sent, and drops a re-send of it.
      const last = await database.sql<{ shard: number; seq: string }[]>`
        select publish_shard as shard, max(publish_sequence)::text as seq from outbox
         where topic = ${TOPICS.partners} and aggregate_id = any(${partners}::uuid[]) group by publish_shard order by 1`;
      expect(last.length).toBeGreaterThan(1);
      for (const { shard, seq } of last) {
        const producer = await client.createProducer({
          topic, producerName: producerName(TOPICS.partners, shard), batching: false,
          schema: { type: 'AVRO', schema: topicSchema(TOPICS.partners).json, name: TOPICS.partners },
        });
        expect(producer.lastSequenceId, `shard ${shard}`).toBe(BigInt(seq));
        const resend = await producer.send({ payload: Buffer.from('a copy'), sequenceId: BigInt(seq) });
        expect(resend.messageId.ledgerId, `shard ${shard}: a re-sent sequence id is dropped`).toBe(-1n);
        await producer.close();
      }
      expectExactlyOnceInOrder(await readAll(topic, 300 * 20), 300, 20);
    } finally {
      await restarting;
    }
  }, 300_000);

  it('a topic unloaded twice and its namespace bundle split under load: nothing is lost or duplicated', async () => {
    const namespace = await createClusterNamespace();
    const topic = topicUrl(namespace, TOPICS.partners);
    const owners = new Set<string>();
    await underLoad(namespace, 200, 19, async (ids) => {
      for (const at of [800, 1_600]) {
        await waitForSent(ids, at);
        owners.add((await ownerOf(topic)).name);
        await unloadTopic(topic);
      }
      await waitForSent(ids, 2_400);
      expect(await splitBundleOf(namespace, topic)).toBe(5);
      owners.add((await ownerOf(topic)).name);
    });
    console.log(`eventos-partners was owned by ${[...owners].join(', ')} in turn`);
    expectExactlyOnceInOrder(await readAll(topic, 200 * 20), 200, 20);
  }, 240_000);

  it('eventos-partners in 4 partitions across both brokers, one broker SIGKILLed: every partition keeps each partner in order, once', async () => {
    // 16 bundles: the 4 partitions are (almost surely) not all in one, so they can be spread.
    const namespace = await createClusterNamespace(16);
    const topic = topicUrl(namespace, TOPICS.partners);
    const partitions = [0, 1, 2, 3].map((p) => `${topic}-partition-${p}`);
    await createAdmin(clusterAdminUrl).createPartitionedTopic(topic, 4);
    const owners = await spreadOverBrokers(namespace, partitions);
    console.log(`partitions owned by ${owners.map((o) => o.name).join(', ')}`);
    expect(new Set(owners.map((o) => o.name)).size, 'the partitions are spread over both brokers').toBe(2);
    let received: Received[] = [];
    await underLoad(namespace, 300, 15, async (ids) => {
      await waitForSent(ids, 1_000);
      await killClusterBroker(owners[0]!.name);
      const before = await sent(ids);
      await waitForSent(ids, before + 500, 90_000);
    }, { PULSAR_PARTITIONS_EVENTOS_PARTNERS: '4' });
    const restarting = startCluster({ timeoutMs: 170_000 });
    try {
      received = await readAll(topic, 300 * 16);
    } finally {
      await restarting;
    }
    expectExactlyOnceInOrder(received, 300, 16);
    const byPartition = new Map<number, Received[]>();
    for (const r of received) byPartition.set(r.message.messageId.partition, [...(byPartition.get(r.message.messageId.partition) ?? []), r]);
    expect([...byPartition.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const [partition, messages] of byPartition) {
      for (const [partner, versions] of versionsByPartner(messages)) {
        expect(partitionForKey(partner, 4), `partner ${partner}`).toBe(partition);
        expect(versions, `partner ${partner} on partition ${partition}`).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      }
    }
  }, 300_000);
});
