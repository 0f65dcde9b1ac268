// eventos-partners as a partitioned topic: `relevo relay` creates it with the partitions its
// configuration asks for (and refuses to start on a topic partitioned otherwise), routes each
// partner's events to one partition by the partner id, and every event arrives once, in order
// per partner. Against the dev broker; with two brokers and one killed:
// test/faults/pulsar-cluster.test.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createAdmin, createClient, partitionForKey, type PulsarClient } from '@relevo/pulsar';
import { TopicPartitionsError, ensurePartitions, topicUrl } from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { expectExactlyOnceInOrder } from './support/ordering.ts';
import { adminUrl, collect, createTestNamespace, serviceUrl, subscribeEarliest } from './support/pulsar.ts';
import { spawnRelay } from './support/relay-process.ts';
import { commitWaker } from './support/waker.ts';
import { createPartners, unsentCount, updateConcurrently } from './support/writes.ts';

const log = createLogger('relay-partitions-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const admin = createAdmin(adminUrl);

describe('partitioned topics', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 8 });
    client = createClient({ serviceUrl });
  });

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  it('creates a wanted topic partitioned once, and refuses one partitioned otherwise or not at all', async () => {
    const namespace = await createTestNamespace();
    const wanted = new Map([[TOPICS.partners, 4], [TOPICS.compliance, 2]] as const);
    await ensurePartitions(admin, namespace, wanted, log);
    expect(await admin.partitionCount(topicUrl(namespace, TOPICS.partners))).toBe(4);
    expect(await admin.partitionCount(topicUrl(namespace, TOPICS.compliance))).toBe(2);
    // Again, as every relay does at start: nothing to do.
    await ensurePartitions(admin, namespace, wanted, log);

    await expect(ensurePartitions(admin, namespace, new Map([[TOPICS.partners, 8]]), log)).rejects.toThrow(TopicPartitionsError);
    // A topic a producer created first is unpartitioned: the relay does not publish to it as if it were.
    const other = await createTestNamespace();
    const producer = await client.createProducer({ topic: topicUrl(other, TOPICS.partners) });
    await producer.close();
    const err = await ensurePartitions(admin, other, new Map([[TOPICS.partners, 4]]), log).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TopicPartitionsError);
    expect((err as TopicPartitionsError).code).toBe('TOPIC_PARTITIONS_MISMATCH');
  });

  it('a relay publishes each partner to the partition of its id, every event once and in order', async () => {
    const namespace = await createTestNamespace();
    const relay = spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, PULSAR_PARTITIONS_EVENTOS_PARTNERS: '4' });
    try {
      const wake = commitWaker(database);
      const ids = await createPartners(database, 200, wake);
      await updateConcurrently(database, ids, 9, 6, wake);
      const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
      const received = await collect(consumer, TOPICS.partners, 2_000);
      await consumer.close();
      expectExactlyOnceInOrder(received, 200, 10);
      for (const { message, event } of received) {
        const partner = (event.data as { partner_id: string }).partner_id;
        expect(message.messageId.partition).toBe(partitionForKey(partner, 4));
      }
      expect(new Set(received.map((r) => r.message.messageId.partition))).toEqual(new Set([0, 1, 2, 3]));
      await expect.poll(() => unsentCount(database), { timeout: 20_000, interval: 100 }).toBe(0);
    } finally {
      relay.child.kill('SIGTERM');
    }
    expect(await relay.exited).toBe(0);
  });

  it('a relay configured for another partition count than the topic has does not start', async () => {
    const namespace = `public/relevo-${randomBytes(4).toString('hex')}`;
    await fetch(`${adminUrl}/admin/v2/namespaces/${namespace}`, { method: 'PUT' });
    await admin.createPartitionedTopic(topicUrl(namespace, TOPICS.partners), 2);
    const relay = spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, PULSAR_PARTITIONS_EVENTOS_PARTNERS: '4' });
    try {
      expect(await Promise.race([relay.exited, new Promise((r) => setTimeout(r, 30_000, 'still running'))])).toBe(1);
    } finally {
      relay.child.kill('SIGKILL');
    }
    expect(relay.output()).toMatch(/TOPIC_PARTITIONS_MISMATCH: .*has 2 partitions, the configuration asks for 4/);
  });
});
