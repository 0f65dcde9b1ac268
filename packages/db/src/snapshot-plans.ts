import { query, type Query } from './query.ts';
import type { ClaimedRow, KeyRange } from './relay-plans.ts';
import { SHARD_KEY_SPACE } from './shards.ts';

// The write-once outbox's read side (RELAY_OUTBOX_DESIGN=snapshot; docs/architecture.md,
// "The write-once outbox"). No statement here writes an outbox row: each row carries the id of
// the transaction that inserted it (`txid`, pg_current_xact_id() by default), and a shard's
// cursor (relay_cursors) is a window between two transaction snapshots — the rows visible in
// `hi` and not in `lo` — read in key order (txid, shard_key, id), with the key up to which
// the broker has the rows (`after`) and the key up to which they were read and handed
// sequences (`inflight`). A partner's rows follow each other in that order: its later event's
// transaction waited for its earlier one's row lock, so it has a higher txid, or the same
// txid and a higher id.
//
// The sequence rule of this design: the rows between `after` and `inflight` are numbered from
// `inflight_sequence` in key order, every row of the range counted (those moved to the
// exceptions table leave gaps), so the rows a crashed run had in flight are read again, in
// the same order, under the same sequences; the broker drops the copies it has. Only the
// window reader advances the shard's sequence while rows are in flight.

/** Nothing is visible in it: a new cursor's first window starts at the first transaction. */
const EMPTY_SNAPSHOT = '1:1:';

/** Rows of a window: committed in `hi`'s snapshot, not in `lo`'s, read from `lo`'s xmin on. */
const IN_WINDOW = (o: string, lo: string, hi: string) => `${o}.txid >= pg_snapshot_xmin(${lo}) and ${o}.txid < pg_snapshot_xmax(${hi})
     and pg_visible_in_snapshot(${o}.txid, ${hi}) and not pg_visible_in_snapshot(${o}.txid, ${lo})`;

const KEY = (o: string) => `(${o}.txid, ${o}.shard_key, ${o}.id)`;

/** Partners held back by an exception: failed, parked, or their rows held behind one. */
const OPEN_EXCEPTIONS = `select aggregate_id from relay_exceptions where state in ('failed', 'held', 'parked')`;

const ROW_COLUMNS = (o: string) => ['id', 'event_id', 'aggregate_id', 'aggregate_version', 'event_type', 'topic', 'payload',
  'schema_fingerprint', 'headers', 'occurred_at'].map((c) => `${o}.${c}`).join(', ');

/** A row read from a shard's window, with the sequence its position gives it. */
export interface WindowRow extends ClaimedRow {
  txid: string;
  shard_key: number;
  /** Its partner has an open exception: the row moved to the exceptions table and is not sent. */
  held: boolean;
}

/** A key in a shard's window order. */
export interface WindowKey {
  txid: string;
  shardKey: number;
  id: bigint;
}

/** The key of a row. */
export const keyOf = (row: { txid: string; shard_key: number; id: bigint }): WindowKey => ({ txid: row.txid, shardKey: row.shard_key, id: row.id });

/** Makes sure each shard has its cursor; a new one has read nothing. */
export function ensureCursors(i: { shards: number }): Query {
  return query('ensure-cursors', `insert into relay_cursors (shard, lo, hi)
    select g, '${EMPTY_SNAPSHOT}', '${EMPTY_SNAPSHOT}' from generate_series(0, $1::int - 1) g on conflict do nothing`, [i.shards]);
}

/**
 * What the cursor of a shard says against the database and the broker: its sequence, and
 * whether its window's upper snapshot is ahead of this database's transactions (a dump and
 * restore, or a new cluster: transaction ids started again, and every new row would look
 * read already).
 */
export function cursorState(i: { shard: number }): Query<{ last_sequence: bigint; snapshot_ahead: boolean }> {
  return query('cursor-state', `select s.last_sequence,
      pg_snapshot_xmax(pg_current_snapshot()) < pg_snapshot_xmax(c.hi) as snapshot_ahead
    from relay_shards s join relay_cursors c using (shard) where s.shard = $1`, [i.shard]);
}

/**
 * Reads the next rows of a shard's window in key order and hands each the next sequence, in
 * one statement that also records the run's receipts so far (`ack`: the broker has every row
 * up to that key; `ackSequence` is the sequence of the row after it) and opens a new window
 * (this moment's snapshot) once the last one was read to its end and nothing is in flight.
 * Rows of a partner with an open exception are recorded as held behind it and returned with
 * `held`, unsent; they keep their place in the numbering. Fenced like the claim (the lock
 * session's pid, the active layout). Writes nothing when it read nothing and has nothing to
 * record.
 */
export function readWindow(i: {
  shard: number; range: KeyRange; limit: number; lockPid: number; generation: number; ack?: WindowKey; ackSequence?: bigint;
}): Query<WindowRow> {
  return query('read-window', `with c as (
      select c.* from relay_cursors c
       where c.shard = $1 and pg_backend_pid() = $5::int
         and exists (select from relay_layout where generation = $6 and state = 'active')
         and not exists (select from relay_layout where state = 'pending')
       for update of c
    ), s as (
      select last_sequence from relay_shards where shard = $1 for update
    ), a as (
      select c.lo, c.hi, c.exhausted,
             coalesce($7::xid8, c.after_txid) as after_txid, coalesce($8::int, c.after_key) as after_key,
             coalesce($9::bigint, c.after_id) as after_id,
             case when $9::bigint is null or c.inflight_id <> $9::bigint then c.inflight_txid end as inflight_txid,
             case when $9::bigint is null or c.inflight_id <> $9::bigint then c.inflight_key end as inflight_key,
             case when $9::bigint is null or c.inflight_id <> $9::bigint then c.inflight_id end as inflight_id,
             case when $9::bigint is null then c.inflight_sequence when c.inflight_id <> $9::bigint then $10::bigint end as inflight_sequence
        from c
    ), w as (
      select a.*, (a.inflight_id is null and a.exhausted) as opening,
             case when a.inflight_id is null and a.exhausted then a.hi else a.lo end as wlo,
             case when a.inflight_id is null and a.exhausted then pg_current_snapshot() else a.hi end as whi,
             -- Where this read starts: the key after which nothing was read yet (every key is above (0, -1, 0)).
             case when a.inflight_id is null and a.exhausted then '0'::xid8 else coalesce(a.inflight_txid, a.after_txid, '0'::xid8) end as from_txid,
             case when a.inflight_id is null and a.exhausted then -1 else coalesce(a.inflight_key, a.after_key, -1) end as from_key,
             case when a.inflight_id is null and a.exhausted then 0 else coalesce(a.inflight_id, a.after_id, 0) end as from_id
        from a
    ), picked as (
      select ${ROW_COLUMNS('o')}, o.txid, o.shard_key,
             o.aggregate_id in (${OPEN_EXCEPTIONS}) as held
        from outbox o
       where o.shard_key >= $2::bigint and o.shard_key < $3::bigint
         -- The window's values as scalars (InitPlans), not a join: the scan then runs in the
         -- index's order and stops at the limit (joined to w, it read the whole window and sorted it).
         and ${IN_WINDOW('o', '(select wlo from w)', '(select whi from w)')}
         and ${KEY('o')} > ((select from_txid from w), (select from_key from w), (select from_id from w))
       order by o.txid, o.shard_key, o.id
       limit $4
    ), numbered as (
      select p.*, (select last_sequence from s) + row_number() over (order by p.txid, p.shard_key, p.id) as publish_sequence
        from picked p
    ), last as (
      select txid, shard_key, id from numbered order by publish_sequence desc limit 1
    ), held as (
      insert into relay_exceptions (outbox_id, shard, aggregate_id, state)
      select id, $1, aggregate_id, 'held' from picked where held
      on conflict do nothing
    ), advanced as (
      update relay_shards set last_sequence = last_sequence + (select count(*) from picked)
       where shard = $1 and exists (select from picked)
    ), moved as (
      update relay_cursors r
         set lo = w.wlo, hi = w.whi,
             after_txid = case when w.opening then null else w.after_txid end,
             after_key = case when w.opening then null else w.after_key end,
             after_id = case when w.opening then null else w.after_id end,
             inflight_txid = coalesce((select txid from last), w.inflight_txid),
             inflight_key = coalesce((select shard_key from last), w.inflight_key),
             inflight_id = coalesce((select id from last), w.inflight_id),
             inflight_sequence = case when w.inflight_id is null and exists (select from picked)
                                      then (select last_sequence from s) + 1 else w.inflight_sequence end,
             exhausted = (select count(*) from picked) < $4
        from w
       where r.shard = $1 and (exists (select from picked) or $9::bigint is not null or not (w.opening or w.exhausted))
    )
    select id, event_id, aggregate_id, aggregate_version, event_type, topic, payload, schema_fingerprint, headers, occurred_at,
           0 as attempts, publish_sequence, txid::text as txid, shard_key, held
      from numbered order by publish_sequence`, [
    i.shard, i.range.from, i.range.to, i.limit, i.lockPid, i.generation,
    i.ack?.txid ?? null, i.ack?.shardKey ?? null, i.ack?.id.toString() ?? null, i.ackSequence?.toString() ?? null,
  ]);
}

/** A row a crashed run had in flight, read again under its sequence. */
export interface InFlightRow extends WindowRow {
  /** Already in the exceptions table (failed, or held): not sent again. */
  excepted: boolean;
  /** An earlier row of its partner has an open exception: held behind it, never sent. */
  behind: boolean;
}

/**
 * The rows an earlier run of the shard had in flight (read, maybe sent, receipts not
 * recorded): the same rows in the same order under the same sequences, since rows are never
 * changed and the window and keys are stored. Fenced on the lock session.
 */
export function readInFlight(i: { shard: number; range: KeyRange; lockPid: number }): Query<InFlightRow> {
  return query('read-in-flight', `with c as (
      select * from relay_cursors where shard = $1 and inflight_id is not null and pg_backend_pid() = $4::int
    ), numbered as (
      select ${ROW_COLUMNS('o')}, o.txid, o.shard_key,
             c.inflight_sequence - 1 + row_number() over (order by o.txid, o.shard_key, o.id) as publish_sequence
        from outbox o, c
       where o.shard_key >= $2::bigint and o.shard_key < $3::bigint
         and ${IN_WINDOW('o', 'c.lo', 'c.hi')}
         and ${KEY('o')} > (coalesce(c.after_txid, '0'::xid8), coalesce(c.after_key, -1), coalesce(c.after_id, 0))
         and ${KEY('o')} <= (c.inflight_txid, c.inflight_key, c.inflight_id)
    )
    select n.id, n.event_id, n.aggregate_id, n.aggregate_version, n.event_type, n.topic, n.payload, n.schema_fingerprint,
           n.headers, n.occurred_at, 0 as attempts, n.publish_sequence, n.txid::text as txid, n.shard_key, false as held,
           exists (select from relay_exceptions x where x.outbox_id = n.id) as excepted,
           exists (select from relay_exceptions x where x.aggregate_id = n.aggregate_id and x.outbox_id < n.id
                      and x.state in ('failed', 'held', 'parked')) as behind
      from numbered n order by n.publish_sequence`, [i.shard, i.range.from, i.range.to, i.lockPid]);
}

/** Records the run's receipts: the broker has every row of the window up to `key`. */
export function ackWindow(i: { shard: number; lockPid: number; key: WindowKey; nextSequence: bigint }): Query {
  return query('ack-window', `update relay_cursors
     set after_txid = $2::xid8, after_key = $3::int, after_id = $4::bigint,
         inflight_txid = case when inflight_id = $4::bigint then null else inflight_txid end,
         inflight_key = case when inflight_id = $4::bigint then null else inflight_key end,
         inflight_sequence = case when inflight_id = $4::bigint then null else $5::bigint end,
         inflight_id = case when inflight_id = $4::bigint then null else inflight_id end
   where shard = $1 and pg_backend_pid() = $6::int`,
  [i.shard, i.key.txid, i.key.shardKey, i.key.id.toString(), i.nextSequence.toString(), i.lockPid]);
}

/** A row that failed before the broker saw it, or one held behind such a row. */
export interface ExceptionRow {
  id: bigint;
  aggregateId: string;
  error?: string;
}

/** Moves failed rows and the rows held behind them to the exceptions table, before their batch sends anything. */
export function recordExceptions(i: { shard: number; failed: readonly ExceptionRow[]; held: readonly ExceptionRow[] }): Query {
  const rows = [...i.failed.map((r) => ({ ...r, state: 'failed' })), ...i.held.map((r) => ({ ...r, state: 'held' }))];
  return query('record-exceptions', `insert into relay_exceptions (outbox_id, shard, aggregate_id, state, attempts, last_error)
    select v.id, $1, v.aggregate_id, v.state, case when v.state = 'failed' then 1 else 0 end, v.error
      from unnest($2::bigint[], $3::uuid[], $4::text[], $5::text[]) as v(id, aggregate_id, state, error)
    on conflict (outbox_id) do nothing`, [
    i.shard, rows.map((r) => r.id.toString()), rows.map((r) => r.aggregateId), rows.map((r) => r.state), rows.map((r) => r.error ?? null),
  ]);
}

/**
 * Whether every shard's cursor has passed every row of its shard: nothing in flight, each
 * window read to its end, and the shard's newest row visible in its window's upper snapshot.
 * (A shard with no new rows keeps its last window: a read that finds nothing writes nothing.)
 */
export function windowsDrained(i: { shards: number }): Query<{ drained: boolean; started: boolean }> {
  return query('windows-drained', `select count(*) = $1::int and bool_and(c.inflight_id is null and c.exhausted
             and coalesce(pg_visible_in_snapshot((select max(o.txid) from outbox o
                  where o.shard_key >= ceil(c.shard * ${SHARD_KEY_SPACE}::numeric / $1) and o.shard_key < ceil((c.shard + 1) * ${SHARD_KEY_SPACE}::numeric / $1)),
                c.hi), true)) as drained,
         bool_or(c.after_id is not null or c.inflight_id is not null) as started
    from relay_cursors c`, [i.shards]);
}
