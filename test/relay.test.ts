// The relay in-process against the real Postgres and the real broker: order per partner,
// a poison row parked while everything else flows, commit announcements turned into drains
// (lingering run, idle shard, lost listener), and two relays sharing the shards.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DRAIN_QUEUE, OUTBOX_COMMIT_CHANNEL, claimBatch, connectDatabase, connectSql, createCommitAnnouncer, drainKey, ensureShards, queryRunner, requestLayout, retryParked,
  runQuery, shardOf, shardRange, wakeShards, type CommitAnnouncer, type Database, type QueryRunner,
} from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type OutgoingMessage, type Producer, type PulsarClient } from '@relevo/pulsar';
import {
  ProducerPool, createRelayMetrics, drainShard, startRelayWorker, toOutgoingMessage, topicUrl, type RelayWorker,
} from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { collect, createTestNamespace, serviceUrl, subscribeEarliest } from './support/pulsar.ts';
import { expectExactlyOnceInOrder } from './support/ordering.ts';
import { createPartners, unsentCount, updateConcurrently, updatePartner, type OnCommitted } from './support/writes.ts';
import { commitWaker } from './support/waker.ts';

const SHARDS = 4;
const log = createLogger('relay-test', process.env.TEST_LOG_LEVEL ?? 'silent');

interface RunningRelay {
  worker: RelayWorker;
  client: PulsarClient;
  metrics: ReturnType<typeof createRelayMetrics>;
  stop(): Promise<void>;
}

async function startRelay(
  database: Database, url: string, namespace: string, relayId: string,
  timing: { idleLingerMs?: number; runBudgetMs?: number; batchSize?: number; stallAfterMs?: number } = {},
): Promise<RunningRelay> {
  const client = createClient({ serviceUrl });
  const metrics = createRelayMetrics(database.sql, SHARDS);
  const worker = await startRelayWorker({
    databaseUrl: url, sql: database.sql, log, metrics, relayId,
    producers: new ProducerPool({ client, namespace, idleMs: 500 }),
    shards: SHARDS, batchSize: timing.batchSize ?? 200, runBudgetMs: timing.runBudgetMs ?? 2_000, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 200,
    busyDelayMs: 200, idleLingerMs: timing.idleLingerMs ?? 0, ...(timing.stallAfterMs ? { stallAfterMs: timing.stallAfterMs } : {}),
  });
  return { worker, client, metrics, stop: async () => { await worker.stop(); await client.close(); } };
}

/** A shard's drain runs so far, by how they ended. */
async function drainOutcomes(relay: RunningRelay, shard: number): Promise<Record<string, number>> {
  const metric = await relay.metrics.registry.getSingleMetric('relevo_relay_drain_runs_total')!.get();
  return Object.fromEntries(metric.values.filter((v) => v.labels.shard === String(shard)).map((v) => [v.labels.outcome, v.value]));
}

async function drainRuns(relay: RunningRelay, shard: number): Promise<number> {
  return Object.values(await drainOutcomes(relay, shard)).reduce((sum, n) => sum + n, 0);
}

async function publishedTotal(relay: RunningRelay): Promise<number> {
  const metric = await relay.metrics.registry.getSingleMetric('relevo_relay_published_total')!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

describe('relay', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let announce: CommitAnnouncer;
  let wake: OnCommitted;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 12 });
    client = createClient({ serviceUrl });
    announce = createCommitAnnouncer(database.sql);
    wake = commitWaker(database);
  });

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  it('publishes every event once and in version order per partner (1,000 partners × 20 concurrent updates)', async () => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const relay = await startRelay(database, tdb.url, namespace, 'relay-order');
    try {
      const ids = await createPartners(database, 1000, wake);
      await updateConcurrently(database, ids, 20, 8, wake);
      const received = await collect(consumer, TOPICS.partners, 21_000);
      expectExactlyOnceInOrder(received, 1000, 21);
      for (const { message, event } of received.slice(0, 50)) {
        expect(message.partitionKey).toBe((event.data as { partner_id: string }).partner_id);
        expect(message.properties.ce_id).toBe(event.id);
        if (event.type === 'PartnerActualizado') expect(message.properties.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
        expect(message.properties).toMatchObject({ ce_specversion: 'v1', ce_datacontenttype: 'AVRO', ce_source: 'gestion-de-integraciones' });
      }
      const unsent = await unsentCount(database);
      expect(unsent).toBe(0);
    } finally {
      await consumer.close();
      await relay.stop();
    }
    // Runs that ended cleanly settled their shards: the next run does not scan for rows in hand.
    const shards = await database.sql<{ shard: number; settled: boolean }[]>`
      select shard, settled_sequence = last_sequence and last_sequence > 0 as settled from relay_shards order by shard`;
    expect(shards).toEqual([0, 1, 2, 3].map((shard) => ({ shard, settled: true })));
  }, 240_000);

  // In batches of one, the partner's next row is in the claim made while the poison row's
  // publish is still out: it must be held back all the same.
  it.each([200, 1])('parks a poison row after its attempts; only its partner waits, and a retry releases it in order (batches of %i)', async (batchSize) => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const [poisoned, healthy] = await createPartners(database, 2);
    await database.sql`update outbox set sent_at = now() where aggregate_id in (${poisoned!}, ${healthy!})`;
    await updatePartner(database, poisoned!, 'will-be-poisoned');
    await updatePartner(database, poisoned!, 'waits-behind');
    await updatePartner(database, healthy!, 'flows');
    // An operator's bad hand edit: the payload no longer fits the Avro schema.
    const [bad] = await database.sql`
      update outbox set payload = jsonb_set(payload, '{data,version}', '"two"')
       where aggregate_id = ${poisoned!} and aggregate_version = 2 returning id`;
    const relay = await startRelay(database, tdb.url, namespace, `relay-poison-${batchSize}`, { batchSize });
    try {
      const first = await collect(consumer, TOPICS.partners, 1);
      expect((first[0]!.event.data as { partner_id: string }).partner_id).toBe(healthy);
      await expect.poll(async () => {
        const [row] = await database.sql`select attempts, parked_at, last_error from outbox where id = ${bad!.id}`;
        return row;
      }, { timeout: 20_000, interval: 200 }).toMatchObject({ attempts: 3, parked_at: expect.any(Date), last_error: expect.stringMatching(/EVENT_SCHEMA_MISMATCH.*version/) });
      const [waiting] = await database.sql`select sent_at, attempts from outbox where aggregate_id = ${poisoned!} and aggregate_version = 3`;
      expect(waiting).toMatchObject({ sent_at: null, attempts: 0 });

      await database.sql`update outbox set payload = jsonb_set(payload, '{data,version}', '2') where id = ${bad!.id}`;
      expect(await retryParked(database.sql, { ids: [bad!.id] }, 'cli:relay-test')).toBe(1);
      await wakeShards(relay.worker.boss, Array.from({ length: SHARDS }, (_, s) => s));
      const released = await collect(consumer, TOPICS.partners, 2);
      expect(released.map((r) => (r.event.data as { version: number }).version).map(Number)).toEqual([2, 3]);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);

  it('a run lingering on its emptied shard publishes new commits at once, with no new drain run', async () => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    // Linger and budget far beyond the test's timeout: stop() must end the lingering run itself.
    const relay = await startRelay(database, tdb.url, namespace, 'relay-linger', { idleLingerMs: 600_000, runBudgetMs: 600_000 });
    try {
      const [partner] = await createPartners(database, 1, wake);
      expect(await collect(consumer, TOPICS.partners, 1)).toHaveLength(1);
      const shard = shardOf(partner!, SHARDS);
      const runs = await drainRuns(relay, shard);
      // No drain job is asked for from here on: only the commit announcement (as the API sends
      // it after commit) can wake the run.
      for (let version = 2; version <= 4; version++) {
        await updatePartner(database, partner!);
        await announce([partner!]);
        const [received] = await collect(consumer, TOPICS.partners, 1, 10_000);
        expect(Number((received!.event.data as { version: number }).version)).toBe(version);
      }
      expect(await drainRuns(relay, shard)).toBe(runs);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);

  it('re-sends rows left in hand, some of which the broker already stored, without losing the others', async () => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    const [partner] = await createPartners(database, 1);
    for (let v = 2; v <= 10; v++) await updatePartner(database, partner!);
    // A relay that stopped mid-way: it claimed the partner's ten rows, the broker stored the
    // first five it sent (its receipts never recorded), the other five were not sent yet.
    const shard = shardOf(partner!, SHARDS);
    const range = shardRange(shard, SHARDS);
    await asRelayThatStops(namespace, async (session, pid, producers) => {
      const claimed = await runQuery(session, claimBatch({ shard, range, limit: 100, relayId: 'stopped-relay', lockPid: pid, held: [], generation: 1 }));
      expect(claimed).toHaveLength(10);
      const producer = await producers.producer(TOPICS.partners, shard);
      const sent = [...claimed].sort((a, b) => (a.publish_sequence < b.publish_sequence ? -1 : 1)).slice(0, 5);
      await Promise.all(sent.map((row) => producer.send(toOutgoingMessage(row))));
    });
    const relay = await startRelay(database, tdb.url, namespace, 'relay-resend');
    try {
      await expect.poll(() => unsentCount(database), { timeout: 20_000, interval: 100 }).toBe(0);
      const received = await collect(consumer, TOPICS.partners, 10, 5_000);
      expect(received.map((r) => Number((r.event.data as { version: number }).version))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);

  // Both fail before the broker sees the row: it is decided before the batch sends anything.
  it.each([
    { how: 'cannot be encoded', path: '{data,version}', broken: 'two', repaired: 2 },
    { how: "is over the broker's size limit", path: '{data,nombre}', broken: 'x'.repeat(6 << 20), repaired: 'repaired' },
  ])('gives a row that $how, and the row held behind it, their sequences back before the batch sends any later row', async ({ path, broken, repaired }) => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    // Two partners on one shard, so their rows share the shard's producer and sequence.
    const ids = await createPartners(database, SHARDS + 1);
    const sharesShard = (id: string, other: string) => other !== id && shardOf(other, SHARDS) === shardOf(id, SHARDS);
    const failing = ids.find((id) => ids.some((other) => sharesShard(id, other)))!;
    const healthy = ids.find((other) => sharesShard(failing, other))!;
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    await updatePartner(database, failing, 'fails-this-time');
    await updatePartner(database, failing, 'held-behind');
    await updatePartner(database, healthy, 'sent-after-both');
    const [bad] = await database.sql`
      update outbox set payload = jsonb_set(payload, ${path}::text[], ${database.sql.json(broken)})
       where aggregate_id = ${failing} and aggregate_version = 2 returning id`;
    // A relay that dies the first time it writes through its pool: without giving the failed
    // and held rows back first, the healthy row (the highest sequence) would be stored by then.
    const dying: QueryRunner = () => Promise.reject(new Error('the relay died here'));
    await asRelayThatStops(namespace, async (session, lockPid, producers) => {
      await expect(drainShard({
        session: queryRunner(session), lockPid, pool: dying, producers, log, metrics: createRelayMetrics(database.sql, SHARDS),
        relayId: 'dying-relay', generation: 1, shards: SHARDS, batchSize: 100, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 200,
      }, shardOf(failing, SHARDS), 5_000)).rejects.toThrow('the relay died here');
    });
    // The failure was passing: the next relay gets all three rows to the broker, in order.
    await database.sql`update outbox set payload = jsonb_set(payload, ${path}::text[], ${database.sql.json(repaired)}) where id = ${bad!.id}`;
    const relay = await startRelay(database, tdb.url, namespace, 'relay-after-dying');
    try {
      await expect.poll(() => unsentCount(database), { timeout: 20_000, interval: 100 }).toBe(0);
      const received = await collect(consumer, TOPICS.partners, 3, 5_000);
      const versionsOf = (partner: string) => received
        .filter((r) => (r.event.data as { partner_id: string }).partner_id === partner)
        .map((r) => Number((r.event.data as { version: number }).version));
      expect({ failing: versionsOf(failing), healthy: versionsOf(healthy) }).toEqual({ failing: [2, 3], healthy: [2] });
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);

  it("claims again after a partial batch's receipts, so a row committed while they were awaited goes out in the same run", async () => {
    const namespace = await createTestNamespace();
    const [id] = await createPartners(database, 1);
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    await updatePartner(database, id!, 'in-the-first-batch');
    let heldOnce = false;
    // The first send waits until a second row is committed; by then a claim issued along
    // with the send would long have come back empty.
    const holdFirstSend = async () => {
      if (heldOnce) return;
      heldOnce = true;
      await new Promise((r) => setTimeout(r, 300));
      await updatePartner(database, id!, 'committed-while-awaiting-receipts');
    };
    const holding = (producer: Producer): Producer => new Proxy(producer, {
      get(target, key) {
        if (key === 'send') return (m: OutgoingMessage) => holdFirstSend().then(() => target.send(m));
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    await asRelayThatStops(namespace, async (session, lockPid, producers) => {
      const held = new Proxy(producers, {
        get(target, key) {
          if (key === 'producer') return (topic: string, shard: number) => target.producer(topic, shard).then(holding);
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const outcome = await drainShard({
        session: queryRunner(session), lockPid, pool: queryRunner(database.sql), producers: held, log, metrics: createRelayMetrics(database.sql, SHARDS),
        relayId: 'partial-batch-relay', generation: 1, shards: SHARDS, batchSize: 100, maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 200,
      }, shardOf(id!, SHARDS), 5_000);
      expect({ published: outcome.published, reason: outcome.reason, unsent: await unsentCount(database) }).toEqual({ published: 2, reason: 'empty', unsent: 0 });
    });
  }, 60_000);

  it('runs one drain of a shard at a time in a process, even after pg-boss gave up on the job of the run still going', async () => {
    const namespace = await createTestNamespace();
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    const relay = await startRelay(database, tdb.url, namespace, 'relay-one-run', { runBudgetMs: 600_000 });
    let shardZero: { release(): Promise<void> } | undefined;
    const activeRuns = async () => (await database.sql<{ n: number }[]>`
      select count(*)::int as n from pgboss.job where name = ${DRAIN_QUEUE} and singleton_key = ${drainKey(0)} and state = 'active'`)[0]!.n;
    try {
      await expect.poll(activeRuns, { timeout: 20_000, interval: 100 }).toBe(0);
      // Shard 0's next run stalls in its claim, job active.
      shardZero = await lockShardZeroSequence();
      const ids = await createPartners(database, 20, wake);
      expect(ids.some((id) => shardOf(id, SHARDS) === 0)).toBe(true);
      await expect.poll(activeRuns, { timeout: 20_000, interval: 100 }).toBe(1);
      // What pg-boss's monitor does to a job whose heartbeat lapsed while its run goes on (a
      // busy event loop): the shard's next job may start. Its run would share the shard's lock
      // connection, where the advisory lock is taken again without waiting.
      await database.sql`update pgboss.job set state = 'failed', completed_on = now()
        where name = ${DRAIN_QUEUE} and singleton_key = ${drainKey(0)} and state = 'active'`;
      await wakeShards(relay.worker.boss, [0]);
      await expect.poll(() => drainOutcomes(relay, 0), { timeout: 20_000, interval: 100 }).toHaveProperty('locked');
      await shardZero.release();
      await expect.poll(() => unsentCount(database), { timeout: 20_000, interval: 100 }).toBe(0);
    } finally {
      await shardZero?.release();
      await relay.stop();
    }
  }, 60_000);

  it('fences off a drain run stuck past its budget: its session is ended and the shard drained anew', async () => {
    const namespace = await createTestNamespace();
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    const relay = await startRelay(database, tdb.url, namespace, 'relay-stall', { runBudgetMs: 500, stallAfterMs: 1_500 });
    // Shard 0's next run waits in its claim: a call that does not settle.
    const shardZero = await lockShardZeroSequence();
    try {
      const ids = await createPartners(database, 20, wake);
      expect(ids.some((id) => shardOf(id, SHARDS) === 0)).toBe(true);
      const waiting = async () => (await database.sql<{ pid: number }[]>`
        select pid from pg_stat_activity where datname = ${tdb.name} and application_name = 'relevo-relay' and wait_event_type = 'Lock'`)
        .map((r) => r.pid);
      await expect.poll(waiting, { timeout: 20_000, interval: 100 }).toHaveLength(1);
      const [stuck] = await waiting();
      await expect.poll(() => drainOutcomes(relay, 0), { timeout: 20_000, interval: 100 }).toHaveProperty('stalled');
      await expect.poll(async () => (await database.sql`select 1 from pg_stat_activity where pid = ${stuck!}`).length,
        { timeout: 10_000, interval: 100 }).toBe(0);
      await shardZero.release();
      await expect.poll(() => unsentCount(database), { timeout: 20_000, interval: 100 }).toBe(0);
    } finally {
      await shardZero.release();
      await relay.stop();
    }
  }, 60_000);

  it('after a drain run fails, the shard\'s next run takes its lock on a new session: the failed one is closed', async () => {
    const namespace = await createTestNamespace();
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    // Shard 0's claims fail: its sequence row refuses updates. setval is not rolled back, so
    // the failing session's pid survives the error.
    await database.sql.unsafe(`
      create sequence failed_claim_pid;
      create function fail_shard_zero() returns trigger language plpgsql as $$
        begin
          if new.shard = 0 then
            perform setval('failed_claim_pid', pg_backend_pid());
            raise exception 'injected: shard 0 refuses claims';
          end if;
          return new;
        end $$;
      create trigger fail_shard_zero before update on relay_shards for each row execute function fail_shard_zero();`);
    const relay = await startRelay(database, tdb.url, namespace, 'relay-failed-run');
    try {
      const ids = await createPartners(database, 20, wake);
      expect(ids.some((id) => shardOf(id, SHARDS) === 0)).toBe(true);
      await expect.poll(() => drainOutcomes(relay, 0), { timeout: 20_000, interval: 100 }).toHaveProperty('error');
      const [failed] = await database.sql<{ pid: number }[]>`select last_value::int as pid from failed_claim_pid`;
      const pid = failed!.pid;
      // Reused, postgres.js could keep a wedged client timing out on every connect.
      await expect.poll(async () => (await database.sql`select 1 from pg_stat_activity where pid = ${pid}`).length,
        { timeout: 10_000, interval: 100 }).toBe(0);
      await database.sql.unsafe('drop trigger fail_shard_zero on relay_shards');
      await expect.poll(() => unsentCount(database), { timeout: 20_000, interval: 100 }).toBe(0);
    } finally {
      await database.sql.unsafe(`drop trigger if exists fail_shard_zero on relay_shards;
        drop function if exists fail_shard_zero(); drop sequence if exists failed_claim_pid`);
      await relay.stop();
    }
  }, 60_000);

  /** Runs `act` as a relay that then stops: a session of its own (the claims' lock holder) and its own producers, closed after. */
  async function asRelayThatStops(
    namespace: string, act: (session: postgres.Sql, lockPid: number, producers: ProducerPool) => Promise<void>,
  ): Promise<void> {
    const session = connectSql(tdb.url, { max: 1 });
    const producers = new ProducerPool({ client, namespace, idleMs: 500 });
    try {
      await runQuery(session, ensureShards({ shards: SHARDS }));
      await requestLayout(session, SHARDS, 'stopping-relay');
      const [lockHolder] = await session.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
      await act(session, lockHolder!.pid, producers);
    } finally {
      await producers.closeAll();
      await session.end();
    }
  }

  /** Locks shard 0's sequence row on a connection of its own, so the shard's claims wait until release(). */
  async function lockShardZeroSequence(): Promise<{ release(): Promise<void> }> {
    const holder = connectSql(tdb.url, { max: 1 });
    let unlock = () => {};
    const held = new Promise<void>((r) => { unlock = r; });
    let locked = () => {};
    const isLocked = new Promise<void>((r) => { locked = r; });
    const holding = holder.begin(async (tx) => {
      await tx`select shard from relay_shards where shard = 0 for update`;
      locked();
      await held;
    });
    await isLocked;
    let released: Promise<void> | undefined;
    return {
      release: () => (released ??= (async () => {
        unlock();
        await holding;
        await holder.end();
      })()),
    };
  }

  /** A relay that drains only when told: its per-minute backstop schedule removed, its start-up runs over. */
  async function startAnnouncedOnlyRelay(namespace: string, relayId: string): Promise<RunningRelay> {
    const relay = await startRelay(database, tdb.url, namespace, relayId);
    for (let shard = 0; shard < SHARDS; shard++) await relay.worker.boss.unschedule(DRAIN_QUEUE, drainKey(shard));
    await expect.poll(async () => {
      const [jobs] = await database.sql`select count(*)::int as n from pgboss.job where name = ${DRAIN_QUEUE} and state in ('created', 'retry', 'active')`;
      return jobs!.n;
    }, { timeout: 20_000, interval: 100 }).toBe(0);
    return relay;
  }

  it('drains a shard it is not running when a commit is announced: the relay asks pg-boss for the job itself', async () => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    const relay = await startAnnouncedOnlyRelay(namespace, 'relay-announced');
    try {
      const [partner] = await createPartners(database, 1);
      // Nothing else wakes this relay: unannounced, the row stays.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await unsentCount(database)).toBe(1);
      const runs = await drainRuns(relay, shardOf(partner!, SHARDS));
      await announce([partner!]);
      const [received] = await collect(consumer, TOPICS.partners, 1, 10_000);
      expect((received!.event.data as { partner_id: string }).partner_id).toBe(partner);
      await expect.poll(() => drainRuns(relay, shardOf(partner!, SHARDS)), { timeout: 5_000, interval: 50 }).toBeGreaterThan(runs);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);

  it('drains every shard when it listens again after losing its connection: announcements sent meanwhile are lost', async () => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    const relay = await startAnnouncedOnlyRelay(namespace, 'relay-relisten');
    try {
      // Committed while the relay was not listening: its announcement never reached it.
      const [partner] = await createPartners(database, 1);
      const killed = await database.sql`
        select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and query ilike ${`listen %${OUTBOX_COMMIT_CHANNEL}%`}`;
      expect(killed).toHaveLength(1);
      const [received] = await collect(consumer, TOPICS.partners, 1, 15_000);
      expect((received!.event.data as { partner_id: string }).partner_id).toBe(partner);
    } finally {
      await consumer.close();
      await relay.stop();
    }
  }, 60_000);

  it('two relays share the shards and publish each row once', async () => {
    const namespace = await createTestNamespace();
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    const a = await startRelay(database, tdb.url, namespace, 'relay-a');
    const b = await startRelay(database, tdb.url, namespace, 'relay-b');
    try {
      const ids = await createPartners(database, 200, wake);
      await updateConcurrently(database, ids, 10, 6, wake);
      const received = await collect(consumer, TOPICS.partners, 2_200);
      expectExactlyOnceInOrder(received, 200, 11);
      // A message can reach the consumer before its relay has marked it sent and counted it.
      await expect.poll(async () => (await database.sql`select count(*)::int as n from outbox where sent_at is null`)[0]!.n,
        { timeout: 20_000, interval: 100 }).toBe(0);
      await expect.poll(async () => (await publishedTotal(a)) + (await publishedTotal(b)), { timeout: 5_000, interval: 50 }).toBe(2_200);
    } finally {
      await consumer.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 120_000);
});
