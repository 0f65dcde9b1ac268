// How the outbox table stores rows matters for the relay's throughput: each row is updated
// by its claim and again by its mark. The claim touches no indexed column, so with room on
// the row's page (migration 0002: fillfactor 50) Postgres rewrites it in place (a HOT
// update: no new index entries). Without that room it is a full update in another page.
// A claim that finds nothing writes nothing (no WAL flush at its commit). Rows left in hand
// are looked for (a scan of the whole backlog) only while their shard is unsettled. Following
// the rows as they are marked sent reads the new ones only, not the sent history, and so do
// the operators' status and their list of parked rows.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  claimBatch, connectDatabase, ensureShards, listOutbox, markSent, outboxStatus, reclaimInHand, requestLayout, runQuery, sentAfterCursor, settleShard, shardRange,
  stateTotals, statusGroups, STATUS_SENT_WINDOW_SECONDS, type Database, type Query,
} from '@relevo/db';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createPartners, updatePartner } from './support/writes.ts';

let tdb: TestDatabase;
let database: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  database = connectDatabase(tdb.url, { max: 1 });
  // Claims run only under the active shard layout.
  await requestLayout(database.sql, 1, 'storage-test');
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
  await runQuery(database.sql, ensureShards({ shards: 1 }));
  const range = shardRange(0, 1);
  const counts = await database.sql.begin(async (tx) => {
    const [session] = await tx.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
    const claimed = await runQuery(tx, claimBatch({ shard: 0, range, limit: 1000, relayId: 'storage-test', lockPid: session!.pid, held: [], generation: 1 }));
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
  await runQuery(database.sql, ensureShards({ shards: 1 }));
  await database.sql`update outbox set sent_at = now() where sent_at is null`;
  const range = shardRange(0, 1);
  const [before] = await database.sql<{ last_sequence: string }[]>`select last_sequence from relay_shards where shard = 0`;
  const after = await database.sql.begin(async (tx) => {
    const [session] = await tx.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
    const claimed = await runQuery(tx, claimBatch({ shard: 0, range, limit: 1000, relayId: 'storage-test', lockPid: session!.pid, held: [], generation: 1 }));
    const [xact] = await tx.unsafe<{ xid: string | null }[]>('select pg_current_xact_id_if_assigned()::text as xid');
    const [shard] = await tx.unsafe<{ last_sequence: string }[]>('select last_sequence from relay_shards where shard = 0');
    return { claimed: claimed.length, xid: xact!.xid, lastSequence: shard!.last_sequence };
  });
  expect(after).toEqual({ claimed: 0, xid: null, lastSequence: before!.last_sequence });
});

it('looks for rows in hand only while their shard is unsettled; a settled shard reads no outbox row', async () => {
  await runQuery(database.sql, ensureShards({ shards: 1 }));
  const ids = await createPartners(database, 20);
  for (const id of ids) await updatePartner(database, id, 'settle test');
  const range = shardRange(0, 1);
  // One session holds the shard: claims, reclaims and settles are fenced to its pid.
  await database.sql.begin(async (tx) => {
    const [session] = await tx.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
    const pid = session!.pid;
    const outboxReads = async () => {
      const [stats] = await tx.unsafe<{ reads: string }[]>(
        `select seq_scan + coalesce(idx_scan, 0) as reads from pg_stat_xact_user_tables where relname = 'outbox'`);
      return Number(stats!.reads);
    };
    const claimed = await runQuery(tx, claimBatch({ shard: 0, range, limit: 15, relayId: 'settle-test', lockPid: pid, held: [], generation: 1 }));
    expect(claimed).toHaveLength(15);

    // Claimed and not settled (a relay stopped here): the rows come back with their sequences.
    const reclaimed = await runQuery(tx, reclaimInHand({ shard: 0, relayId: 'settle-test-2', lockPid: pid }));
    expect(reclaimed.map((r) => r.publish_sequence).sort()).toEqual(claimed.map((r) => r.publish_sequence).sort());

    await runQuery(tx, markSent({ rows: claimed.map((r) => ({ id: r.id, sequence: r.publish_sequence, messageId: `${r.id}:0:-1:-1` })), claimedBy: 'settle-test-2' }));
    const settle = settleShard({ shard: 0, lockPid: pid });
    const [settled] = await tx.unsafe<{ shard: number }[]>(`${settle.text} returning shard`, settle.values as never[]);
    expect(settled).toEqual({ shard: 0 });
    const before = await outboxReads();
    expect(await runQuery(tx, reclaimInHand({ shard: 0, relayId: 'settle-test-2', lockPid: pid }))).toHaveLength(0);
    expect(await outboxReads()).toBe(before);

    // A claim unsettles the shard again.
    await runQuery(tx, claimBatch({ shard: 0, range, limit: 5, relayId: 'settle-test', lockPid: pid, held: [], generation: 1 }));
    const unsettled = await outboxReads();
    expect(await runQuery(tx, reclaimInHand({ shard: 0, relayId: 'settle-test-2', lockPid: pid }))).toHaveLength(5);
    expect(await outboxReads()).toBeGreaterThan(unsettled);
  });
});

it('settles a shard only on the session that holds its lock', async () => {
  await runQuery(database.sql, ensureShards({ shards: 1 }));
  await database.sql`update relay_shards set last_sequence = last_sequence + 1 where shard = 0`;
  const stranger = await runQuery(database.sql, settleShard({ shard: 0, lockPid: -1 }));
  expect(stranger.count).toBe(0);
  const [shard] = await database.sql<{ unsettled: boolean }[]>`select last_sequence > settled_sequence as unsettled from relay_shards where shard = 0`;
  expect(shard!.unsettled).toBe(true);
});

it('runs relevo\'s statements uncompiled: no JIT on its sessions, even for a plan estimated to cost a whole-backlog scan', async () => {
  await runQuery(database.sql, ensureShards({ shards: 1 }));
  await database.sql.begin(async (tx) => {
    const [session] = await tx.unsafe<{ pid: number; jit: string }[]>('select pg_backend_pid() as pid, current_setting(\'jit\') as jit');
    expect(session!.jit).toBe('off');
    // With JIT on, this threshold would compile every plan; a million-row backlog crosses the default one.
    await tx.unsafe('set local jit_above_cost = 0');
    const reclaim = reclaimInHand({ shard: 0, relayId: 'jit-test', lockPid: session!.pid });
    const [plan] = await tx.unsafe<{ 'QUERY PLAN': [Record<string, unknown>] }[]>(
      `explain (analyze, format json) ${reclaim.text}`, reclaim.values as never[]);
    expect(plan!['QUERY PLAN'][0]).not.toHaveProperty('JIT');
  });
});

interface PlanNode { 'Relation Name'?: string; 'Actual Rows': number; 'Actual Loops': number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] }

/** Outbox rows a plan's scans returned or filtered out: what it read of the table. */
function outboxRowsRead(node: PlanNode): number {
  const own = node['Relation Name'] === 'outbox' ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + outboxRowsRead(child), 0);
}

/** Runs a plan under EXPLAIN ANALYZE and says how many outbox rows it read. */
async function outboxRowsReadBy(q: Query): Promise<number> {
  const [plan] = await database.sql.unsafe<{ 'QUERY PLAN': [{ Plan: PlanNode }] }[]>(`explain (analyze, format json) ${q.text}`, q.values as never[]);
  return outboxRowsRead(plan!['QUERY PLAN'][0].Plan);
}

it('follows rows as they are marked sent by reading the new ones only, not the sent history', async () => {
  const ids = await createPartners(database, 200);
  await database.sql`update outbox set sent_at = now() - interval '1 hour' + id * interval '1 millisecond', broker_message_id = id || ':0:-1:-1'`;
  const [recent] = await database.sql<{ id: string }[]>`
    update outbox set sent_at = now() - interval '5 seconds' where id = (select max(id) from outbox) returning id::text`;
  await database.sql`analyze outbox`;
  const history = (await database.sql<{ n: number }[]>`select count(*)::int as n from outbox where sent_at is not null`)[0]!.n;
  expect(history).toBeGreaterThanOrEqual(ids.length);

  const cursor = new Date(Date.now() - 60_000);
  expect(await outboxRowsReadBy(sentAfterCursor({ at: cursor, id: '0' }, {}))).toBe(1);
  const rows = await runQuery(database.sql, sentAfterCursor({ at: cursor, id: '0' }, {}));
  expect(rows.map((r) => r.id.toString())).toEqual([recent!.id]);
});

it('counts unsent, skipped and recently sent rows for the status without reading the sent history', async () => {
  await database.sql`delete from outbox`;
  const ids = await createPartners(database, 1_020);
  // 1,000 rows sent two hours ago (history), 1 sent a minute ago, 1 skipped, 18 unsent.
  await database.sql`update outbox set sent_at = now() - interval '2 hours', broker_message_id = id || ':0:-1:-1'
    where id in (select id from outbox order by id limit 1000)`;
  await database.sql`update outbox set sent_at = now() - interval '1 minute', broker_message_id = id || ':0:-1:-1'
    where id = (select id from outbox where sent_at is null order by id limit 1)`;
  await database.sql`update outbox set attempts = 8, parked_at = now(), skipped_at = now(), skip_reason = 'test'
    where id = (select id from outbox where sent_at is null order by id limit 1)`;
  await database.sql`analyze outbox`;

  const status = await outboxStatus(database.sql, 4);
  expect(stateTotals(status.groups).totals).toEqual({ pending: ids.length - 1_002, backoff: 0, parked: 0, sent: 1, skipped: 1 });
  expect(status.sentWindowSeconds).toBe(STATUS_SENT_WINDOW_SECONDS);
  expect(await outboxRowsReadBy(statusGroups({ shards: 4, sentWindowSeconds: STATUS_SENT_WINDOW_SECONDS }))).toBe(ids.length - 1_000);
});

it('lists the rows of an unsent state without reading the sent history', async () => {
  await database.sql`delete from outbox`;
  await createPartners(database, 1_010);
  await database.sql`update outbox set sent_at = now() - interval '2 hours', broker_message_id = id || ':0:-1:-1'
    where id in (select id from outbox order by id limit 1000)`;
  await database.sql`update outbox set attempts = 8, parked_at = now() where id = (select max(id) from outbox)`;
  await database.sql`analyze outbox`;
  await database.sql.begin(async (tx) => {
    const tuplesRead = async () => {
      const [stats] = await tx.unsafe<{ n: string }[]>(
        `select seq_tup_read + coalesce(idx_tup_fetch, 0) as n from pg_stat_xact_user_tables where relname = 'outbox'`);
      return Number(stats!.n);
    };
    const before = await tuplesRead();
    const parked = await listOutbox(tx as unknown as Parameters<typeof listOutbox>[0], { state: 'parked', order: 'oldest', limit: 100 });
    expect(parked.map((r) => r.state)).toEqual(['parked']);
    expect(await tuplesRead() - before).toBeLessThanOrEqual(10);
  });
});
