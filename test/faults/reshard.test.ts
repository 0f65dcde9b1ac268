// Changing the shard count with traffic flowing: relays started with RELAY_SHARDS 4, then 8,
// then 4 again (a rolling deploy each time, old and new relays side by side), one SIGKILLed
// while it holds rows of the 8-shard layout. Every partner's versions must reach the topic
// once and in order, and the layouts must follow each other without overlap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { topicUrl } from '@relevo/relay';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectExactlyOnceInOrder } from '../support/ordering.ts';
import { collect, createTestNamespace, serviceUrl, subscribeEarliest } from '../support/pulsar.ts';
import { spawnRelay, type RelayProcess } from '../support/relay-process.ts';
import { commitWaker } from '../support/waker.ts';
import { createPartners, unsentCount, updateConcurrently } from '../support/writes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The advisory lock (two int4 keys, apart from the relay's int8 shard locks) that holds up marks. */
const HOLD_MARKS = [7270, 7271] as const;
const PARTNERS = 300;
const UPDATES = 14;

describe('changing the shard count under load', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  const relays: RelayProcess[] = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 10 });
    client = createClient({ serviceUrl });
  });

  afterAll(async () => {
    for (const r of relays) r.child.kill('SIGKILL');
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  /**
   * Runs `body` while the marks of `relayId`'s claims wait on HOLD_MARKS, which the test holds;
   * then ends the sessions whose marks wait (they roll back) and lets marks through again.
   */
  const holdMarksOf = async (relayId: string, body: () => Promise<void>) => {
    const holder = await database.sql.reserve();
    try {
      await holder`select pg_advisory_lock(${HOLD_MARKS[0]}, ${HOLD_MARKS[1]})`;
      await database.sql.unsafe(`
        create function test_hold_marks() returns trigger language plpgsql as $$
        begin
          if new.sent_at is not null and old.sent_at is null and split_part(old.claimed_by, '#', 1) = '${relayId}' then
            perform pg_advisory_xact_lock(${HOLD_MARKS[0]}, ${HOLD_MARKS[1]});
          end if;
          return new;
        end $$;
        create trigger test_hold_marks before update on outbox for each row execute function test_hold_marks();`);
      await body();
    } finally {
      await database.sql`select pg_terminate_backend(pid) from pg_locks
        where locktype = 'advisory' and classid = ${HOLD_MARKS[0]} and objid = ${HOLD_MARKS[1]} and not granted`;
      await database.sql.unsafe('drop trigger if exists test_hold_marks on outbox; drop function if exists test_hold_marks()');
      await holder`select pg_advisory_unlock(${HOLD_MARKS[0]}, ${HOLD_MARKS[1]})`;
      holder.release();
    }
  };

  const layouts = async () => database.sql<{ generation: number; shards: number; state: string }[]>`
    select generation, shards, state from relay_layout order by generation`;

  /** Waits until the layout of `shards` is the active one, naming the relays' output if it never is. */
  const activeBecomes = async (shards: number, generation: number) => {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const rows = await layouts();
      if (rows.some((l) => l.generation === generation && l.shards === shards && l.state === 'active')) return;
      if (Date.now() > deadline) {
        throw new Error(`layout ${generation} (${shards} shards) never became active: ${JSON.stringify(rows)}\n${relays.map((r) => r.output().slice(-2000)).join('\n---\n')}`);
      }
      await sleep(200);
    }
  };

  it('4 → 8 → 4 shards with relays side by side and one SIGKILLed holding rows: nothing lost, duplicated or reordered', async () => {
    const namespace = await createTestNamespace();
    const start = (id: string, shards: number) => {
      const relay = spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, RELAY_ID: id, RELAY_SHARDS: String(shards), RELAY_BATCH_SIZE: '50' });
      relays.push(relay);
      return relay;
    };
    const wake = commitWaker(database);
    const ids = await createPartners(database, PARTNERS, wake);
    // The updates come in three parts (5 + 4 + 4 = UPDATES - 1), each started with a step, so
    // that writes flow through every step however long the machine takes over it: the change
    // to 8, the 8-shard layout's drain (when one of its relays is killed), the change back to 4.
    const loads: Promise<void>[] = [];
    try {
      start('four-a', 4);
      await expect.poll(async () => (await layouts()).map((l) => [l.shards, l.state]), { timeout: 30_000 }).toEqual([[4, 'active']]);
      await sleep(1500);

      // A rolling deploy to 8 shards: the new relay asks for 8, the old one keeps running.
      const eight = start('eight-a', 8);
      loads.push(updateConcurrently(database, ids, 5, 4, wake));
      await activeBecomes(8, 2);

      // A relay of the 8-shard layout dies holding rows: claimed, sequenced, sent, not marked.
      // Its marks are held up in the database (a trigger of this test waits on a lock the test
      // holds), so it is killed with a batch the broker has answered; the marks waiting then
      // are ended with their sessions, never committed.
      const leftInHand = async () => (await database.sql<{ n: number }[]>`
        select count(*)::int as n from outbox where split_part(claimed_by, '#', 1) = 'eight-a' and sent_at is null and publish_sequence is not null`)[0]!.n;
      const marksWaiting = async () => (await database.sql<{ n: number }[]>`
        select count(*)::int as n from pg_locks where locktype = 'advisory' and classid = ${HOLD_MARKS[0]} and objid = ${HOLD_MARKS[1]} and not granted`)[0]!.n;
      let killedHolding = 0;
      await holdMarksOf('eight-a', async () => {
        loads.push(updateConcurrently(database, ids, 4, 4, wake));
        start('eight-b', 8);
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && (await marksWaiting()) === 0) await sleep(20);
        eight.child.kill('SIGKILL');
        await eight.exited;
        killedHolding = await leftInHand();
      });

      // And back to 4, while the killed relay's rows are still in hand.
      start('four-b', 4);
      loads.push(updateConcurrently(database, ids, 4, 4, wake));
      await activeBecomes(4, 3);
      await Promise.all(loads);
      const drained = Date.now() + 120_000;
      while ((await unsentCount(database)) > 0) {
        if (Date.now() > drained) throw new Error(`${await unsentCount(database)} rows unsent;\n${relays.map((r) => r.output().slice(-2000)).join('\n---\n')}`);
        await sleep(250);
      }
      expect(killedHolding).toBeGreaterThan(0);
    } finally {
      await Promise.allSettled(loads);
      for (const r of relays) if (r.child.exitCode === null) r.child.kill('SIGTERM');
    }
    expect((await layouts()).map((l) => [l.generation, l.shards, l.state])).toEqual([[1, 4, 'retired'], [2, 8, 'retired'], [3, 4, 'active']]);

    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const received = await collect(consumer, TOPICS.partners, PARTNERS * UPDATES, 5_000);
    await consumer.close();
    expectExactlyOnceInOrder(received, PARTNERS, UPDATES);
  }, 360_000);
});
