// Does the relay's claim stay cheap as sent history piles up? Measures, side by side in one
// run on fresh databases:
//   A. relevo's layout: sent rows stay in `outbox`, the hot path reads a partial index over
//      unsent rows; retention deletes old sent rows in batches.
//   B. the alternative: mark-sent moves each row into a day-partitioned `outbox_history`
//      (delete + insert), old partitions are dropped.
// For each: claim latency (p50 of repeated claim+rollback of 500 rows) with no history and
// after a million sent rows, and the cost of marking rows sent (rows/s).
import postgres from 'postgres';
import { claimBatch, ensureShards, markSent, requestLayout, runQuery } from '@relevo/db';
import { createTestDatabase } from '../test/support/database.ts';

const BACKLOG = 20_000;
const CLAIMS = 40;

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function insertRows(sql: postgres.Sql, count: number, sent: boolean): Promise<void> {
  await sql.unsafe(`
    insert into outbox (event_id, aggregate_type, aggregate_id, shard_key, aggregate_version, event_type, topic,
                        payload, schema_version, schema_fingerprint, occurred_at, sent_at)
    select gen_random_uuid(), 'partner', p.id, (abs(hashtext(p.id::text)) % 2147483647), g, 'PartnerActualizado',
           'eventos-partners', jsonb_build_object('pad', repeat('x', 900)), 'v1', 'f', now(),
           ${sent ? 'now()' : 'null'}
      from generate_series(1, $1::int) g
      cross join lateral (select ('00000000-0000-4000-8000-' || lpad(to_hex(g % 10000), 12, '0'))::uuid as id) p`, [count]);
}

async function claimLatency(sql: postgres.Sql): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < CLAIMS; i++) {
    const t0 = performance.now();
    await sql.begin(async (tx) => {
      const [session] = await tx.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
      await runQuery(tx, claimBatch({ shard: 0, range: { from: 0, to: 2 ** 31 }, limit: 500, relayId: 'bench', lockPid: session!.pid, held: [], generation: 1 }));
      await tx.unsafe('rollback');
    }).catch(() => undefined);
    times.push(performance.now() - t0);
  }
  return p50(times);
}

/** Marks the backlog sent the way each layout would, 500 rows a statement. */
async function markAllSent(sql: postgres.Sql, layout: 'A' | 'B'): Promise<number> {
  // Claimed as a relay would have, before the timing: a mark touches only rows claimed so.
  const rows = await sql.unsafe<{ id: bigint; publish_sequence: bigint | null }[]>(
    "update outbox set publish_sequence = id, claimed_by = 'bench' where sent_at is null returning id, publish_sequence");
  rows.sort((a, b) => (a.id < b.id ? -1 : 1));
  const ids = rows.map((r) => r.id.toString());
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    if (layout === 'A') {
      await runQuery(sql, markSent({ rows: rows.slice(i, i + 500).map((r) => ({ id: r.id, sequence: r.publish_sequence!, messageId: '1:1:-1:-1' })), claimedBy: 'bench' }));
    } else {
      await sql.unsafe(`with moved as (delete from outbox where id = any($1::bigint[]) returning *)
        insert into outbox_history select id, event_id, aggregate_id, event_type, topic, payload, occurred_at, now(), '1:1:-1:-1' from moved`, [chunk]);
    }
  }
  return ids.length / ((performance.now() - t0) / 1000);
}

async function measure(layout: 'A' | 'B', historyRows: number) {
  const db = await createTestDatabase('relevo_bench');
  const sql = postgres(db.url, { max: 2, onnotice: () => {}, types: { bigint: postgres.BigInt } });
  try {
    await runQuery(sql, ensureShards({ shards: 1 }));
    await requestLayout(sql, 1, 'bench-claim-cost');
    if (layout === 'B') {
      await sql.unsafe(`create table outbox_history (id bigint, event_id uuid, aggregate_id uuid, event_type text, topic text,
        payload jsonb, occurred_at timestamptz, sent_at timestamptz not null, broker_message_id text) partition by range (sent_at)`);
      await sql.unsafe(`create table outbox_history_today partition of outbox_history
        for values from (now() - interval '1 day') to (now() + interval '1 day')`);
    }
    await insertRows(sql, BACKLOG, false);
    await sql.unsafe('vacuum analyze outbox');
    const empty = await claimLatency(sql);
    const markRate = await markAllSent(sql, layout);
    // A million rows go through each layout's mark-sent path in one statement: in A they stay
    // in the table (leaving dead partial-index entries until vacuum), in B they move out.
    await insertRows(sql, historyRows, false);
    if (layout === 'A') await sql.unsafe('update outbox set sent_at = now() where sent_at is null');
    else await sql.unsafe(`with moved as (delete from outbox returning *)
      insert into outbox_history select id, event_id, aggregate_id, event_type, topic, payload, occurred_at, now(), null from moved`);
    await insertRows(sql, BACKLOG, false);
    const noVacuum = await claimLatency(sql);
    await sql.unsafe('vacuum analyze outbox');
    const vacuumed = await claimLatency(sql);
    return { layout, claim_ms_empty: empty, claim_ms_history_before_vacuum: noVacuum, claim_ms_history: vacuumed, mark_sent_rows_per_s: Math.round(markRate) };
  } finally {
    await sql.end();
    await db.drop();
  }
}

export async function runClaimCost(historyRows = 1_000_000) {
  const a = await measure('A', historyRows);
  const b = await measure('B', historyRows);
  return {
    history_rows: historyRows,
    partial_index: a,
    history_table: b,
    claim_growth_partial_index: +(a.claim_ms_history / a.claim_ms_empty).toFixed(2),
    claim_growth_history_table: +(b.claim_ms_history / b.claim_ms_empty).toFixed(2),
    mark_sent_ratio_partial_over_history: +(a.mark_sent_rows_per_s / b.mark_sent_rows_per_s).toFixed(2),
  };
}
