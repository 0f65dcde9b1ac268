// How the outbox table stores rows matters for the relay's throughput: each row is updated
// by its claim and again by its mark. The claim touches no indexed column, so with room on
// the row's page (migration 0002: fillfactor 50) Postgres rewrites it in place (a HOT
// update: no new index entries). Without that room it is a full update in another page.
// A claim that finds nothing writes nothing (no WAL flush at its commit).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { claimBatch, connectDatabase, ensureShards, shardRange, type Database } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createPartners, updatePartner } from './support/writes.ts';

let tdb: TestDatabase;
let database: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  database = connectDatabase(tdb.url, { max: 1 });
});

afterAll(async () => {
  await database?.close();
  await tdb?.drop();
});

it('leaves half of each outbox page free, so that claims rewrite rows in place', async () => {
  const [options] = await database.sql<{ reloptions: string[] | null }[]>`select reloptions from pg_class where relname = 'outbox'`;
  expect(options!.reloptions).toContain('fillfactor=50');

  const ids = await createPartners(database, 40);
  // ~1 KiB events, the size the benchmarks drain.
  for (const id of ids) await updatePartner(database, id, 'n'.repeat(900));
  await database.sql.unsafe(ensureShards(), [1]);
  const range = shardRange(0, 1);
  const counts = await database.sql.begin(async (tx) => {
    const [session] = await tx.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
    const claimed = await tx.unsafe(claimBatch(), [range.from, 0, 1000, 'storage-test', session!.pid, range.to]);
    const [stats] = await tx.unsafe<{ updated: string; hot: string }[]>(
      `select n_tup_upd as updated, n_tup_hot_upd as hot from pg_stat_xact_user_tables where relname = 'outbox'`);
    return { claimed: claimed.length, updated: Number(stats!.updated), hot: Number(stats!.hot) };
  });
  expect(counts.claimed).toBe(80);
  expect(counts.updated).toBe(80);
  // A page's last claim may not fit beside the earlier ones (the claim adds a few columns).
  expect(counts.hot).toBeGreaterThanOrEqual(70);
});

it('writes nothing when a claim finds no row: no transaction id, the sequence untouched', async () => {
  await database.sql.unsafe(ensureShards(), [1]);
  await database.sql`update outbox set sent_at = now() where sent_at is null`;
  const range = shardRange(0, 1);
  const [before] = await database.sql<{ last_sequence: string }[]>`select last_sequence from relay_shards where shard = 0`;
  const after = await database.sql.begin(async (tx) => {
    const [session] = await tx.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
    const claimed = await tx.unsafe(claimBatch(), [range.from, 0, 1000, 'storage-test', session!.pid, range.to]);
    const [xact] = await tx.unsafe<{ xid: string | null }[]>('select pg_current_xact_id_if_assigned()::text as xid');
    const [shard] = await tx.unsafe<{ last_sequence: string }[]>('select last_sequence from relay_shards where shard = 0');
    return { claimed: claimed.length, xid: xact!.xid, lastSequence: shard!.last_sequence };
  });
  expect(after).toEqual({ claimed: 0, xid: null, lastSequence: before!.last_sequence });
});
