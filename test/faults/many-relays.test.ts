// Three relays on one database, one SIGKILLed mid-load: the shards it was draining are taken
// over by the other two within a bounded time, no shard is ever in the hands of two relays at
// once, and every event arrives once, in order per partner. Against the dev broker (not
// restarted here).
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
const SHARDS = 6;
/** pg-boss fails a killed relay's drain jobs once their 10 s heartbeat lapsed (monitor every 2 s), then a wake-up or the minute schedule starts the next run. */
const TAKEOVER_BOUND_MS = 30_000;

describe('three relays, one killed', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 10 });
    client = createClient({ serviceUrl });
  });

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  /** Rows claimed and not yet marked sent, by shard and relay: what each relay has in hand now. */
  const inHand = () => database.sql<{ shard: number; relay: string; n: number }[]>`
    select publish_shard as shard, split_part(claimed_by, '#', 1) as relay, count(*)::int as n from outbox
     where sent_at is null and claimed_by is not null and publish_shard is not null group by 1, 2`;

  it('the others take over the killed relay\'s shards within a bounded time, one relay per shard at a time, nothing lost or duplicated', async () => {
    const namespace = await createTestNamespace();
    const topic = topicUrl(namespace, TOPICS.partners);
    // The subscription exists before anything is published.
    await (await subscribeEarliest(client, topic)).close();
    const relays = new Map<string, RelayProcess>(['relay-a', 'relay-b', 'relay-c'].map((id) => [id, spawnRelay({
      DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, RELAY_ID: id, RELAY_SHARDS: String(SHARDS),
    })]));
    // Watches, the whole time, that no shard has rows in the hands of two relays.
    const doubles: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const byShard = new Map<number, string[]>();
        for (const r of await inHand()) byShard.set(r.shard, [...(byShard.get(r.shard) ?? []), r.relay]);
        for (const [shard, holders] of byShard) if (holders.length > 1) doubles.push(`shard ${shard}: ${holders.join(', ')}`);
        await sleep(25);
      }
    })();
    const wake = commitWaker(database);
    let load: Promise<void> | undefined;
    let victim = '';
    const takeovers: { shard: number; ms: number; by: string[] }[] = [];
    try {
      const ids = await createPartners(database, 300, wake);
      load = updateConcurrently(database, ids, 14, 6, wake);
      // Killed while it drains: the relay holding rows of the most shards, once one holds two.
      let held: number[] = [];
      const deadline = Date.now() + 60_000;
      while (held.length < 2) {
        if (Date.now() > deadline) throw new Error(`no relay held two shards at once: ${JSON.stringify(await inHand())}`);
        const byRelay = new Map<string, number[]>();
        for (const r of await inHand()) if (relays.has(r.relay)) byRelay.set(r.relay, [...(byRelay.get(r.relay) ?? []), r.shard]);
        [victim, held] = [...byRelay].sort((x, y) => y[1].length - x[1].length)[0] ?? ['', []];
        await sleep(10);
      }
      const killedAt = Date.now();
      relays.get(victim)!.child.kill('SIGKILL');
      await relays.get(victim)!.exited;
      relays.delete(victim);
      // What it left in hand (a batch may have been marked between the look and the kill).
      held = [...new Set((await inHand()).filter((r) => r.relay === victim).map((r) => r.shard))];
      expect(held.length, `${victim} had rows in hand when killed`).toBeGreaterThan(0);
      // A shard is taken over when another relay has re-claimed the rows the killed one left in hand.
      await Promise.all(held.map(async (shard) => {
        const by = new Set<string>();
        let takenAt = 0;
        for (;;) {
          const rows = (await inHand()).filter((r) => r.shard === shard);
          if (!takenAt && !rows.some((r) => r.relay === victim)) takenAt = Date.now();
          for (const r of rows) if (r.relay !== victim) by.add(r.relay);
          // Re-claimed: then who drains it now (its rows are sent, and the claims cleared, quickly).
          if (!rows.some((r) => r.relay === victim) && (by.size > 0 || Date.now() - killedAt > TAKEOVER_BOUND_MS * 3)) break;
          if (Date.now() - killedAt > TAKEOVER_BOUND_MS * 3) throw new Error(`shard ${shard} still in the killed relay's hands`);
          await sleep(50);
        }
        takeovers.push({ shard, ms: takenAt - killedAt, by: [...by] });
      }));
      console.log(`${victim} SIGKILLed holding shards ${held.join(', ')}; taken over: ${
        takeovers.map((t) => `shard ${t.shard} after ${(t.ms / 1000).toFixed(1)} s${t.by.length ? ` by ${t.by.join('/')}` : ''}`).join('; ')}`);
      await load;
      const drained = Date.now() + 120_000;
      while ((await unsentCount(database)) > 0) {
        if (Date.now() > drained) throw new Error(`rows left unsent; ${JSON.stringify(await inHand())}`);
        await sleep(250);
      }
    } finally {
      watching = false;
      await watcher;
      await load?.catch(() => undefined);
      for (const relay of relays.values()) relay.child.kill('SIGTERM');
    }
    for (const relay of relays.values()) expect(await relay.exited).toBe(0);
    expect(doubles).toEqual([]);
    for (const t of takeovers) expect(t.ms, `shard ${t.shard}`).toBeLessThan(TAKEOVER_BOUND_MS);
    const consumer = await subscribeEarliest(client, topic);
    try {
      expectExactlyOnceInOrder(await collect(consumer, TOPICS.partners, 300 * 15, 10_000), 300, 15);
    } finally {
      await consumer.close();
    }
  }, 300_000);
});
