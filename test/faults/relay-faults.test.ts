// At least once, in order, nothing lost — and with broker dedup, nothing duplicated —
// while the relay is SIGKILLed, the broker restarts and its database connections are cut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { topicUrl } from '@relevo/relay';
import { startBroker, stopBroker } from '../../scripts/pulsar.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { collect, createTestNamespace, serviceUrl, subscribeEarliest } from '../support/pulsar.ts';
import { expectExactlyOnceInOrder } from '../support/ordering.ts';
import { spawnRelay, waitUntilDrained, type RelayProcess } from '../support/relay-process.ts';
import { createPartners, updateConcurrently, type OnCommitted } from '../support/writes.ts';
import { commitWaker } from '../support/waker.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('relay under faults', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let wake: OnCommitted;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 10 });
    client = createClient({ serviceUrl });
    wake = commitWaker(database);
  });

  /** Drains, stops the relay (exit 0 on SIGTERM), and checks every partner's versions arrived once, in order. */
  const drainAndCheck = async (relay: RelayProcess, namespace: string, partners: number, versions: number, timeoutMs?: number) => {
    try {
      await waitUntilDrained(database, relay, timeoutMs);
    } finally {
      relay.child.kill('SIGTERM');
    }
    expect(await relay.exited).toBe(0);
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    const received = await collect(consumer, TOPICS.partners, partners * versions, 5_000);
    await consumer.close();
    expectExactlyOnceInOrder(received, partners, versions);
  };

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  it('loses and duplicates nothing when SIGKILLed mid-batch 6 times during a 20,000-event load', async () => {
    const namespace = await createTestNamespace();
    const ids = await createPartners(database, 1000, wake);
    const load = updateConcurrently(database, ids, 19, 6, wake);
    // Rows the killed relay claimed (under its runs' tokens, <relay id>#<run>) and did not mark:
    // the next relay must send them first, with the same sequence ids.
    const leftInHand = async (relayId: string) => (await database.sql<{ n: number }[]>`
      select count(*)::int as n from outbox where split_part(claimed_by, '#', 1) = ${relayId} and sent_at is null and publish_sequence is not null`)[0]!.n;
    let killedMidBatch = 0;
    for (let kill = 0; kill < 6; kill++) {
      const relayId = `kill-${kill}`;
      const relay = spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, RELAY_ID: relayId });
      // Killed once it has rows in hand (a kill during start-up would prove little), a random
      // moment later: before or after their publish. The drain jobs the last one held stay
      // active until pg-boss sees their heartbeat lapse (about 12 s): the next relay waits for them.
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && relay.child.exitCode === null && (await leftInHand(relayId)) === 0) await sleep(5);
      await sleep(Math.random() * 15);
      relay.child.kill('SIGKILL');
      await relay.exited;
      if ((await leftInHand(relayId)) > 0) killedMidBatch++;
    }
    await load;
    expect(killedMidBatch).toBeGreaterThanOrEqual(5);
    await drainAndCheck(spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace }), namespace, 1000, 20);
  }, 420_000);

  it('counts no attempt while the broker is unreachable: nothing parks during an outage', async () => {
    const namespace = await createTestNamespace();
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    expect(await stopBroker({ quiet: true })).toBe(true);
    let relay: RelayProcess | undefined;
    try {
      const ids = await createPartners(database, 50, wake);
      await updateConcurrently(database, ids, 3, 2, wake);
      // With one attempt allowed, a single failure counted against the rows would park them.
      relay = spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, RELAY_MAX_ATTEMPTS: '1' });
      const deadline = Date.now() + 90_000;
      while (!relay.output().includes('broker unavailable')) {
        if (relay.child.exitCode !== null || Date.now() > deadline) throw new Error(`no broker-unavailable run; output:\n${relay.output().slice(-4000)}`);
        await sleep(250);
      }
      const [rows] = await database.sql<{ unsent: number; tried: number; parked: number }[]>`
        select count(*)::int as unsent, count(*) filter (where attempts > 0)::int as tried,
               count(*) filter (where parked_at is not null)::int as parked
          from outbox where sent_at is null`;
      expect(rows).toEqual({ unsent: 200, tried: 0, parked: 0 });
    } catch (err) {
      relay?.child.kill('SIGTERM');
      throw err;
    } finally {
      await startBroker({ quiet: true });
    }
    await drainAndCheck(relay, namespace, 50, 4, 120_000);
  });

  it('recovers by itself from a broker restart and killed database connections during load', async () => {
    const namespace = await createTestNamespace();
    await database.sql`update outbox set sent_at = now() where sent_at is null`;
    const relay = spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace });
    let load: Promise<void> | undefined;
    try {
      const ids = await createPartners(database, 200, wake);
      load = updateConcurrently(database, ids, 24, 4, wake);
      await sleep(1500);
      expect(await stopBroker({ quiet: true })).toBe(true);
      await sleep(1000);
      await startBroker({ quiet: true });
      for (let i = 0; i < 3; i++) {
        await database.sql`select pg_terminate_backend(pid) from pg_stat_activity
                            where datname = ${tdb.name} and application_name = 'relevo-relay'`;
        await sleep(700);
      }
      await load;
    } catch (err) {
      relay.child.kill('SIGTERM');
      // Let the writes finish before afterAll closes their pool.
      await load?.catch(() => undefined);
      throw err;
    }
    await drainAndCheck(relay, namespace, 200, 25, 180_000);
  });
});
