// What the API reads for its own metrics and for the operator page's charts: plans, and
// their runners.
import type postgres from 'postgres';
import { UNSENT } from './outbox-states.ts';
import { query, runQuery, type Query } from './query.ts';

/**
 * Connections of the pools named $1 (postgres.js's application_name) on this database, by
 * state (`active`, `idle`, `idle in transaction`, …). Every process of that name is counted:
 * postgres.js does not tell how many of its own connections are busy.
 */
export function connectionsByState(i: { applicationName: string }): Query<{ state: string; connections: number }> {
  return query('connections-by-state', `select coalesce(state, 'unknown') as state, count(*)::int as connections
            from pg_stat_activity where datname = current_database() and application_name = $1 group by 1`, [i.applicationName]);
}

export async function readConnectionsByState(sql: postgres.Sql, applicationName: string): Promise<{ state: string; connections: number }[]> {
  return [...await runQuery(sql, connectionsByState({ applicationName }))];
}

/**
 * The outbox over the last `buckets` buckets of `stepSeconds` each (the last one ends at
 * `end`), from the rows that were waiting at some point of that window: every unsent row, and
 * the rows sent or skipped within it (through the same partial indexes as the status counts). Rows:
 *  - kind 'occurred': rows per bucket of their occurred_at (bucket -1: before the window);
 *  - kind 'done':     rows per bucket of their sent_at or skipped_at, with how many were sent
 *                     and the longest occurred → sent delay among them;
 *  - kind 'oldest':   one row, `lag` = the occurred_at of the oldest unsent, unparked row as
 *                     epoch seconds (null when there is none).
 * The backlog at a bucket's end is the running sum of 'occurred' less that of 'done': a row
 * done before the window never counts, and a row's done time is never before its occurred
 * time (see outboxHistory).
 */
export function outboxHistoryPlan(i: { buckets: number; stepSeconds: number; end: Date }): Query<OutboxHistoryRow> {
  return query('outbox-history', `with w as (select $3::timestamptz - $1::int * $2::int * interval '1 second' as start),
    rows as (
      select occurred_at, coalesce(sent_at, skipped_at) as done_at, sent_at, parked_at
        from outbox, w
       where (${UNSENT}) or sent_at >= w.start or skipped_at >= w.start),
    b as (
      select rows.*,
             greatest(-1, least($1::int - 1, floor(extract(epoch from occurred_at - w.start) / $2::int)))::int as occurred_bucket,
             least($1::int - 1, floor(extract(epoch from done_at - w.start) / $2::int))::int as done_bucket
        from rows, w)
    select 'occurred' as kind, occurred_bucket as bucket, count(*)::int as n, 0 as sent, null::float8 as lag
      from b group by occurred_bucket
    union all
    select 'done', done_bucket, count(*)::int, count(sent_at)::int, max(extract(epoch from sent_at - occurred_at))::float8
      from b where done_at is not null group by done_bucket
    union all
    select 'oldest', null, 0, 0, extract(epoch from min(occurred_at) filter (where done_at is null and parked_at is null))::float8
      from b`, [i.buckets, i.stepSeconds, i.end.toISOString()]);
}

interface OutboxHistoryRow { kind: string; bucket: number | null; n: number; sent: number; lag: number | null }

export interface OutboxHistoryPoint {
  /** The end of the bucket. */
  at: Date;
  /** Rows sent within the bucket. */
  sent: number;
  /** Unsent rows (parked included) at the bucket's end. */
  backlog: number;
  /**
   * The longest wait, in seconds, seen in the bucket: of the rows sent within it (commit →
   * sent), and of the oldest row still unsent and unparked now, if it was already waiting.
   */
  publishLagSeconds: number;
}

export async function outboxHistory(sql: postgres.Sql, buckets: number, stepSeconds: number, now = new Date()): Promise<OutboxHistoryPoint[]> {
  const rows = await runQuery(sql, outboxHistoryPlan({ buckets, stepSeconds, end: now }));
  const occurred = new Array<number>(buckets).fill(0);
  const done = new Array<number>(buckets).fill(0);
  const sent = new Array<number>(buckets).fill(0);
  const sentLag = new Array<number>(buckets).fill(0);
  let before = 0;
  let oldest: number | null = null;
  for (const r of rows) {
    if (r.kind === 'oldest') oldest = r.lag;
    else if (r.kind === 'occurred' && r.bucket === -1) before += r.n;
    else if (r.kind === 'occurred') occurred[r.bucket!]! += r.n;
    else {
      done[r.bucket!]! += r.n;
      sent[r.bucket!]! += r.sent;
      sentLag[r.bucket!] = Math.max(sentLag[r.bucket!]!, r.lag ?? 0);
    }
  }
  const points: OutboxHistoryPoint[] = [];
  let backlog = before;
  const start = now.getTime() - buckets * stepSeconds * 1000;
  for (let i = 0; i < buckets; i++) {
    backlog += occurred[i]! - done[i]!;
    const end = start + (i + 1) * stepSeconds * 1000;
    const waiting = oldest !== null && oldest * 1000 <= end ? (end - oldest * 1000) / 1000 : 0;
    points.push({ at: new Date(end), sent: sent[i]!, backlog, publishLagSeconds: Math.max(sentLag[i]!, waiting) });
  }
  return points;
}
