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
    const load = updateConcurrently(database, ids, UPDATES - 1, 4, wake);
    try {
      start('four-a', 4);
      await expect.poll(async () => (await layouts()).map((l) => [l.shards, l.state]), { timeout: 30_000 }).toEqual([[4, 'active']]);
      await sleep(1500);

      // A rolling deploy to 8 shards: the new relay asks for 8, the old one keeps running.
      const eight = start('eight-a', 8);
      await activeBecomes(8, 2);
      start('eight-b', 8);

      // A relay of the 8-shard layout dies holding rows: claimed, sequenced, not marked.
      const leftInHand = async () => (await database.sql<{ n: number }[]>`
        select count(*)::int as n from outbox where split_part(claimed_by, '#', 1) = 'eight-a' and sent_at is null and publish_sequence is not null`)[0]!.n;
      // Frozen (SIGSTOP) the moment it is seen holding rows, so it cannot mark them before the
      // kill; statements already on the wire settle during the pause, then the count decides.
      let killedHolding = 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && killedHolding === 0) {
        if ((await leftInHand()) === 0) {
          await sleep(5);
          continue;
        }
        eight.child.kill('SIGSTOP');
        await sleep(200);
        killedHolding = await leftInHand();
        if (killedHolding === 0) eight.child.kill('SIGCONT');
      }
      eight.child.kill('SIGKILL');
      await eight.exited;

      // And back to 4, while the killed relay's rows are still in hand.
      start('four-b', 4);
      await activeBecomes(4, 3);
      await load;
      const drained = Date.now() + 120_000;
      while ((await unsentCount(database)) > 0) {
        if (Date.now() > drained) throw new Error(`${await unsentCount(database)} rows unsent;\n${relays.map((r) => r.output().slice(-2000)).join('\n---\n')}`);
        await sleep(250);
      }
      expect(killedHolding).toBeGreaterThan(0);
    } finally {
      await load.catch(() => undefined);
      for (const r of relays) if (r.child.exitCode === null) r.child.kill('SIGTERM');
    }
    expect((await layouts()).map((l) => [l.generation, l.shards, l.state])).toEqual([[1, 4, 'retired'], [2, 8, 'retired'], [3, 4, 'active']]);

    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const received = await collect(consumer, TOPICS.partners, PARTNERS * UPDATES, 5_000);
    await consumer.close();
    expectExactlyOnceInOrder(received, PARTNERS, UPDATES);
  }, 360_000);
});
