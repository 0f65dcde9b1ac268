// The write-once outbox (RELAY_OUTBOX_DESIGN=snapshot) against the real Postgres and broker:
// every event once and in order per partner under concurrent writes, rows a stopped relay
// had in flight re-read under the same sequences (the broker drops the copies it has), and
// a shard whose cursor is behind the broker stops instead of publishing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDatabase, connectSql, ensureCursors, ensureShards, readWindow, requestLayout, runQuery, shardOf, shardRange, windowsDrained,
  type Database,
} from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { ProducerPool, createRelayMetrics, startRelayWorker, toOutgoingMessage, topicUrl, type RelayWorker } from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { expectExactlyOnceInOrder } from './support/ordering.ts';
import { collect, createTestNamespace, serviceUrl, subscribeEarliest } from './support/pulsar.ts';
import { commitWaker } from './support/waker.ts';
import { createPartners, updateConcurrently, updatePartner, type OnCommitted } from './support/writes.ts';

const SHARDS = 4;
const log = createLogger('snapshot-test', process.env.TEST_LOG_LEVEL ?? 'silent');

describe('the write-once outbox', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let wake: OnCommitted;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 12 });
    client = createClient({ serviceUrl });
    wake = commitWaker(database);
  });

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  async function startRelay(namespace: string, relayId: string) {
    const relayClient = createClient({ serviceUrl });
    const metrics = createRelayMetrics(database.sql, SHARDS);
    const worker: RelayWorker = await startRelayWorker({
      databaseUrl: tdb.url, sql: database.sql, log, metrics, relayId, design: 'snapshot',
      producers: new ProducerPool({ client: relayClient, namespace, idleMs: 500 }),
      shards: SHARDS, batchSize: 200, runBudgetMs: 2_000, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 200, busyDelayMs: 200, idleLingerMs: 500,
    });
    return { worker, metrics, stop: async () => { await worker.stop(); await relayClient.close(); } };
  }

  /** Marks every window read to now without publishing: the next test starts from an empty outbox. */
  async function skipToNow(): Promise<void> {
    await database.sql`insert into relay_cursors (shard, lo, hi) select g, pg_current_snapshot(), pg_current_snapshot()
      from generate_series(0, ${SHARDS - 1}) g
      on conflict (shard) do update set lo = excluded.lo, hi = excluded.hi, after_txid = null, after_key = null, after_id = null,
        inflight_txid = null, inflight_key = null, inflight_id = null, inflight_sequence = null, exhausted = true`;
  }

  it('publishes every event once and in version order per partner (300 partners × 10 concurrent updates)', async () => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const relay = await startRelay(namespace, 'relay-order');
    try {
      const ids = await createPartners(database, 300, wake);
      await updateConcurrently(database, ids, 10, 8, wake);
      const received = await collect(consumer, TOPICS.partners, 3_300);
      expectExactlyOnceInOrder(received, 300, 11);
      await expect.poll(async () => (await runQuery(database.sql, windowsDrained({ shards: SHARDS })))[0]?.drained, { timeout: 90_000, interval: 500 }).toBe(true);
      // No outbox row was written after its insert.
      const [written] = await database.sql`select count(*)::int as n from outbox where sent_at is not null or publish_sequence is not null`;
      expect(written!.n).toBe(0);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 240_000);

  it('re-reads the rows a stopped relay had in flight under the same sequences: the broker drops the copies it has', async () => {
    await skipToNow();
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const [partner] = await createPartners(database, 1);
    for (let v = 2; v <= 10; v++) await updatePartner(database, partner!);
    const shard = shardOf(partner!, SHARDS);
    // A relay that stopped mid-way: it read the partner's ten rows, the broker stored the
    // first five it sent, their receipts never recorded.
    const session = connectSql(tdb.url, { max: 1 });
    const producers = new ProducerPool({ client, namespace, idleMs: 500 });
    try {
      await runQuery(session, ensureShards({ shards: SHARDS }));
      await runQuery(session, ensureCursors({ shards: SHARDS }));
      await requestLayout(session, SHARDS, 'stopping-relay');
      const [holder] = await session.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
      const read = await runQuery(session, readWindow({ shard, range: shardRange(shard, SHARDS), limit: 100, lockPid: holder!.pid, generation: 1 }));
      expect(read).toHaveLength(10);
      const producer = await producers.producer(TOPICS.partners, shard);
      await Promise.all(read.slice(0, 5).map((row) => producer.send(toOutgoingMessage(row))));
    } finally {
      await producers.closeAll();
      await session.end();
    }
    const relay = await startRelay(namespace, 'relay-resend');
    try {
      const received = await collect(consumer, TOPICS.partners, 10, 5_000);
      expect(received.map((r) => Number((r.event.data as { version: number }).version))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);

  it('stops a shard whose cursor is behind the broker (a restored database) and publishes nothing of it', async () => {
    await skipToNow();
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const [partner] = await createPartners(database, 1);
    const shard = shardOf(partner!, SHARDS);
    const [{ last } = { last: 0n }] = await database.sql<{ last: bigint }[]>`select last_sequence as last from relay_shards where shard = ${shard}`;
    // The broker holds a sequence this database never handed out.
    const producers = new ProducerPool({ client, namespace, idleMs: 500 });
    const producer = await producers.producer(TOPICS.partners, shard);
    const [row] = await database.sql`select id, event_id, aggregate_id, aggregate_version, event_type, topic, payload, schema_fingerprint,
      headers, occurred_at, 0 as attempts from outbox where aggregate_id = ${partner!}`;
    await producer.send(toOutgoingMessage({ ...row, publish_sequence: BigInt(last) + 50n } as never));
    await producers.closeAll();
    await collect(consumer, TOPICS.partners, 1, 5_000);
    const relay = await startRelay(namespace, 'relay-behind');
    try {
      await expect.poll(async () => {
        const metric = await relay.metrics.registry.getSingleMetric('relevo_relay_drain_runs_total')!.get();
        return metric.values.some((v) => v.labels.shard === String(shard) && v.labels.outcome === 'cursor_behind');
      }, { timeout: 20_000, interval: 200 }).toBe(true);
      const more = await collect(consumer, TOPICS.partners, 1, 2_000).catch(() => []);
      expect(more).toHaveLength(0);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);
});
