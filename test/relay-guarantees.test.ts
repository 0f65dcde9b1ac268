// The relay's sequence rule on the paths that once broke it, each against the real Postgres
// and broker: a run's producers outlive their idle timer while it runs, a backoff that expires
// mid-run does not have its partner claimed again, a stale mark changes nothing, a run fenced
// while it waits sends nothing, a database behind the broker gives its rows in hand new
// sequences, and a row in hand another transaction holds is waited for, never left behind.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimBatch, connectDatabase, connectSql, ensureShards, giveBack, markSent, queryRunner, reclaimInHand, requestLayout, runQuery, shardOf, shardRange,
  type ClaimedRow, type Database, type QueryRunner,
} from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { PulsarError, createClient, type PulsarClient } from '@relevo/pulsar';
import { ProducerPool, createRelayMetrics, drainShard, toOutgoingMessage, topicUrl, type DrainDeps, type DrainOutcome } from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { collect, createTestNamespace, serviceUrl, subscribeEarliest } from './support/pulsar.ts';
import { createPartners, updatePartner } from './support/writes.ts';

const SHARDS = 4;
const log = createLogger('relay-guarantees-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the sequence rule', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let session: postgres.Sql;
  let lockPid: number;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 6 });
    client = createClient({ serviceUrl });
    await runQuery(database.sql, ensureShards({ shards: SHARDS }));
    await requestLayout(database.sql, SHARDS, 'guarantees-test');
    session = connectSql(tdb.url, { max: 1 });
    lockPid = (await session<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
  });

  afterAll(async () => {
    await session?.end();
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  /** One drain run of a shard, as the worker runs it, with whatever the test puts in its way. */
  const drain = (shard: number, o: Partial<DrainDeps> & { producers: ProducerPool }, budgetMs = 2_000): Promise<DrainOutcome> => drainShard({
    session: queryRunner(session), lockPid, pool: queryRunner(database.sql), log, metrics: createRelayMetrics(database.sql, SHARDS),
    relayId: 'guarantees-test', generation: 1, shards: SHARDS, batchSize: 100, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 200, ...o,
  }, shard, budgetMs);

  /** A new partner's rows, marked sent except for `versions` more updates. */
  const partnerWith = async (versions: number): Promise<string> => {
    const [partner] = await createPartners(database, 1);
    await database.sql`update outbox set sent_at = now() where aggregate_id = ${partner!}`;
    for (let v = 0; v < versions; v++) await updatePartner(database, partner!);
    return partner!;
  };

  const counting = (runner: QueryRunner, counts: Map<string, number>): QueryRunner => (q) => {
    counts.set(q.name, (counts.get(q.name) ?? 0) + 1);
    return runner(q);
  };

  it('keeps a shard\'s producers open while a run holds it, whatever their idle timer', async () => {
    const namespace = await createTestNamespace();
    const pool = new ProducerPool({ client, namespace, idleMs: 20 });
    try {
      const producer = await pool.producer(TOPICS.partners, 0);
      pool.release(0);
      // The next run takes the shard before the timer of the last one's end fires.
      pool.acquire(0);
      await sleep(80);
      await expect(producer.send({ payload: new Uint8Array([0]) })).resolves.toMatchObject({ sequenceId: expect.any(BigInt) });
      // A run fenced off as stalled releases late, after the next run took the shard.
      pool.acquire(0);
      pool.release(0);
      await sleep(80);
      await expect(producer.send({ payload: new Uint8Array([0]) })).resolves.toMatchObject({ sequenceId: expect.any(BigInt) });
      pool.release(0);
      await sleep(80);
      await expect(producer.send({ payload: new Uint8Array([0]) })).rejects.toMatchObject({ code: 'AlreadyClosed' });
    } finally {
      await pool.closeAll();
    }
  });

  it('does not claim a failed row\'s partner again in the same run once its backoff expires', async () => {
    const namespace = await createTestNamespace();
    const partner = await partnerWith(2);
    await database.sql`update outbox set payload = jsonb_set(payload, '{data,version}', '"two"')
                        where aggregate_id = ${partner} and aggregate_version = 2`;
    const counts = new Map<string, number>();
    const producers = new ProducerPool({ client, namespace, idleMs: 1_000 });
    try {
      // A 1 ms backoff expires long before the run's 600 ms budget does.
      const outcome = await drain(shardOf(partner, SHARDS), {
        producers, session: counting(queryRunner(session), counts), pool: counting(queryRunner(database.sql), counts),
        maxAttempts: 100, backoffBaseMs: 1, backoffMaxMs: 1,
      }, 600);
      expect({ failed: outcome.failed, giveBacks: counts.get('give-back'), claims: counts.get('claim-batch') }).toEqual({ failed: 1, giveBacks: 1, claims: 2 });
    } finally {
      await producers.closeAll();
      await database.sql`update outbox set skipped_at = now() where aggregate_id = ${partner} and sent_at is null`;
    }
  });

  it('lets no stale run mark a row that was given back and claimed again under another sequence', async () => {
    const partner = await partnerWith(1);
    const shard = shardOf(partner, SHARDS);
    const claim = () => runQuery(session, claimBatch({
      shard, range: shardRange(shard, SHARDS), limit: 10, relayId: 'stale', lockPid, held: [], generation: 1,
    }));
    const [first] = await claim();
    await runQuery(database.sql, giveBack({ failed: [], held: [{ id: first!.id, sequence: first!.publish_sequence }], maxAttempts: 3, claimedBy: 'stale' }));
    const [again] = await claim();
    expect(again!.publish_sequence).toBeGreaterThan(first!.publish_sequence);
    const stale = await runQuery(database.sql, markSent({ rows: [{ id: first!.id, sequence: first!.publish_sequence, messageId: '1:1:-1:-1' }], claimedBy: 'stale' }));
    expect(stale.count).toBe(0);
    const current = await runQuery(database.sql, markSent({ rows: [{ id: again!.id, sequence: again!.publish_sequence, messageId: '1:2:-1:-1' }], claimedBy: 'stale' }));
    expect(current.count).toBe(1);
  });

  it('lets no stale run give back or mark a row the next run took in hand under the same sequence', async () => {
    const partner = await partnerWith(1);
    const shard = shardOf(partner, SHARDS);
    const [row] = await runQuery(session, claimBatch({
      shard, range: shardRange(shard, SHARDS), limit: 10, relayId: 'run-a', lockPid, held: [], generation: 1,
    }));
    // Run A is fenced off as stalled; run B takes its rows in hand, keeping their sequences.
    const [taken] = await runQuery(session, reclaimInHand({ shard, relayId: 'run-b', lockPid }));
    expect(taken!.publish_sequence).toBe(row!.publish_sequence);
    const late = { id: row!.id, sequence: row!.publish_sequence };
    await runQuery(database.sql, giveBack({ failed: [{ ...late, error: 'late', delayMs: 0 }], held: [late], maxAttempts: 1, claimedBy: 'run-a' }));
    expect((await runQuery(database.sql, markSent({ rows: [{ ...late, messageId: '1:1:-1:-1' }], claimedBy: 'run-a' }))).count).toBe(0);
    const [still] = await database.sql`select publish_sequence, attempts, parked_at, sent_at from outbox where id = ${String(row!.id)}`;
    expect(still).toMatchObject({ publish_sequence: row!.publish_sequence, attempts: 0, parked_at: null, sent_at: null });
    expect((await runQuery(database.sql, markSent({ rows: [{ ...late, messageId: '1:1:-1:-1' }], claimedBy: 'run-b' }))).count).toBe(1);
  });

  it('sends nothing once the run is fenced off, even if the fence comes while it waits for a producer', async () => {
    const namespace = await createTestNamespace();
    const partner = await partnerWith(2);
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const producers = new ProducerPool({ client, namespace, idleMs: 1_000 });
    let fenced = false;
    // The partners topic's producer takes a while, and the worker fences the run meanwhile.
    const slow = new Proxy(producers, {
      get(target, key) {
        if (key === 'producer') {
          return async (topic: string, s: number) => {
            if (topic === TOPICS.partners) {
              await sleep(200);
              fenced = true;
            }
            return target.producer(topic, s);
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      await expect(drain(shardOf(partner, SHARDS), { producers: slow, current: () => !fenced })).rejects.toMatchObject({ code: 'FENCE_LOST' });
      await expect(consumer.receive(1_000)).rejects.toMatchObject({ code: 'Timeout' });
    } finally {
      await consumer.close();
      await producers.closeAll();
      await database.sql`update outbox set skipped_at = now() where aggregate_id = ${partner} and sent_at is null`;
    }
  });

  /**
   * What a restored backup leaves: the shard's rows (three of one partner) in hand under
   * sequences the broker has since taken for other events (marked `lost_history`), that the
   * restored database no longer holds. Returns the highest sequence in hand.
   */
  const restoredBackup = async (shard: number, producers: ProducerPool): Promise<bigint> => {
    const rows = await runQuery(session, claimBatch({
      shard, range: shardRange(shard, SHARDS), limit: 10, relayId: 'before-the-backup', lockPid, held: [], generation: 1,
    }));
    expect(rows).toHaveLength(3);
    const producer = await producers.producer(TOPICS.partners, shard);
    const highest = rows.reduce((max, r) => (r.publish_sequence > max ? r.publish_sequence : max), 0n);
    for (let seq = highest - 2n; seq <= highest + 5n; seq++) {
      await producer.send({ ...toOutgoingMessage(rows[0]!), sequenceId: seq, properties: { lost_history: 'true' } });
    }
    await producers.closeShard(shard);
    return highest;
  };

  it('gives rows in hand new sequences when the broker holds sequences the database never handed out', async () => {
    const namespace = await createTestNamespace();
    const partner = await partnerWith(3);
    const shard = shardOf(partner, SHARDS);
    const producers = new ProducerPool({ client, namespace, idleMs: 1_000 });
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    try {
      const highest = await restoredBackup(shard, producers);
      await drain(shard, { producers });
      const received = await collect(consumer, TOPICS.partners, 8 + 3, 5_000);
      const ours = received.filter((r) => r.message.properties.lost_history === undefined);
      expect(ours.map((r) => Number((r.event.data as { version: number }).version))).toEqual([2, 3, 4]);
      const [sequences] = await database.sql<{ min: bigint }[]>`select min(publish_sequence) as min from outbox where aggregate_id = ${partner}`;
      expect(sequences!.min).toBeGreaterThan(highest + 5n);
    } finally {
      await consumer.close();
      await producers.closeAll();
    }
  });

  it('gives rows in hand new sequences even when the run that found the database behind stopped before it could', async () => {
    const namespace = await createTestNamespace();
    const partner = await partnerWith(3);
    const shard = shardOf(partner, SHARDS);
    const producers = new ProducerPool({ client, namespace, idleMs: 1_000 });
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    try {
      await restoredBackup(shard, producers);
      // The first run raises the shard's sequence, then its connection fails before it gives the rows back.
      const failing: QueryRunner = (q) => (q.name === 'give-back' ? Promise.reject(new Error('connection lost')) : queryRunner(database.sql)(q));
      await expect(drain(shard, { producers, pool: failing })).rejects.toThrow('connection lost');
      await producers.closeShard(shard);
      await drain(shard, { producers });
      const received = await collect(consumer, TOPICS.partners, 8 + 3, 5_000);
      expect(received.filter((r) => r.message.properties.lost_history === undefined).map((r) => Number((r.event.data as { version: number }).version)))
        .toEqual([2, 3, 4]);
    } finally {
      await consumer.close();
      await producers.closeAll();
    }
  });

  it('waits for a row in hand that another transaction holds, and leaves no row in hand behind', async () => {
    const namespace = await createTestNamespace();
    const partner = await partnerWith(3);
    const shard = shardOf(partner, SHARDS);
    const producers = new ProducerPool({ client, namespace, idleMs: 1_000 });
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const holder = connectSql(tdb.url, { max: 1 });
    try {
      const rows: ClaimedRow[] = await runQuery(session, claimBatch({
        shard, range: shardRange(shard, SHARDS), limit: 10, relayId: 'stopped', lockPid, held: [], generation: 1,
      }));
      // An operator's statement holds the partner's last row for a moment.
      let release = () => {};
      const held = new Promise<void>((r) => { release = r; });
      let locked = () => {};
      const isLocked = new Promise<void>((r) => { locked = r; });
      const holding = holder.begin(async (tx) => {
        await tx`select id from outbox where id = ${String(rows.at(-1)!.id)} for update`;
        locked();
        await held;
      });
      await isLocked;
      const run = drain(shard, { producers });
      await sleep(300);
      release();
      await holding;
      await run;
      const received = await collect(consumer, TOPICS.partners, 3, 5_000);
      expect(received.map((r) => Number((r.event.data as { version: number }).version))).toEqual([2, 3, 4]);
      const [left] = await database.sql<{ n: number }[]>`select count(*)::int as n from outbox where aggregate_id = ${partner} and sent_at is null`;
      expect(left!.n).toBe(0);
    } finally {
      await holder.end();
      await consumer.close();
      await producers.closeAll();
    }
  });

  it('keeps rows in hand of a topic whose producer the broker refuses, and settles nothing', async () => {
    const namespace = await createTestNamespace();
    const partner = await partnerWith(1);
    const shard = shardOf(partner, SHARDS);
    const producers = new ProducerPool({ client, namespace, idleMs: 1_000 });
    try {
      await runQuery(session, claimBatch({ shard, range: shardRange(shard, SHARDS), limit: 10, relayId: 'stopped', lockPid, held: [], generation: 1 }));
      const refusing = new Proxy(producers, {
        get(target, key) {
          if (key === 'producer') {
            return (topic: string, s: number) => (topic === TOPICS.partners
              ? Promise.reject(new PulsarError('AuthorizationError', 'not authorized to produce'))
              : target.producer(topic, s));
          }
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const outcome = await drain(shard, { producers: refusing });
      expect(outcome.leftInHand).toBe(1);
      const [row] = await database.sql`select publish_sequence, attempts, sent_at from outbox where aggregate_id = ${partner} and aggregate_version = 2`;
      expect(row).toMatchObject({ publish_sequence: expect.any(BigInt), attempts: 0, sent_at: null });
      const [settled] = await database.sql`select last_sequence = settled_sequence as settled from relay_shards where shard = ${shard}`;
      expect(settled!.settled).toBe(false);
      // Once the broker takes the producer, the next run sends it.
      await drain(shard, { producers });
      const [sent] = await database.sql`select sent_at from outbox where aggregate_id = ${partner} and aggregate_version = 2`;
      expect(sent!.sent_at).toBeInstanceOf(Date);
    } finally {
      await producers.closeAll();
    }
  });
});
