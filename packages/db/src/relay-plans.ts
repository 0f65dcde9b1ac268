import { BLOCKED_AGGREGATES, QUEUED, UNSENT, unsentAs } from './outbox-states.ts';
import { query, type Query } from './query.ts';
import { SHARD_OF_ROW } from './shards.ts';

// The relay's statements, as plans that bind their text and values (pg-boss's `plans` with
// their inputs): the relay runs them; tests and the CLI read the same predicates. Row states
// are defined in outbox-states.ts.
//
// The sequence rule every plan keeps (the guarantee rests on it; test/faults/drain-faults.test.ts
// breaks each step of a drain run to check it): a row's publish sequence is given back only if
// the broker never stored the row under it, and before any higher sequence of its producer is
// handed to the broker. So a row still in hand whose sequence is at or below what the broker
// holds for its producer was stored; one above it was not.

export const OUTBOX_ROW_COLUMNS = `id, event_id, aggregate_id, aggregate_version, event_type, topic, payload,
  schema_fingerprint, headers, occurred_at, attempts, publish_sequence`;

export interface ClaimedRow {
  id: bigint;
  event_id: string;
  aggregate_id: string;
  aggregate_version: number;
  event_type: string;
  topic: string;
  payload: unknown;
  schema_fingerprint: string;
  headers: Record<string, string>;
  occurred_at: Date;
  attempts: number;
  publish_sequence: bigint;
}

/** A row left in hand by an earlier run. */
export interface InHandRow extends ClaimedRow {
  /** An earlier unsent row of its partner is not in hand (given back, backing off, parked). */
  behind: boolean;
  /** At or below the shard's untrusted sequence: handed out by a history the broker does not share. */
  untrusted: boolean;
}

/** A shard's key range, [from, to): see shardRange. */
export interface KeyRange {
  from: number;
  to: number;
}

/** Makes sure each shard has its sequence row; the sequence never goes back. */
export function ensureShards(i: { shards: number }): Query {
  return query('ensure-shards', 'insert into relay_shards (shard) select generate_series(0, $1::int - 1) on conflict do nothing', [i.shards]);
}

/**
 * The fence of the statements only the shard's drainer may run: the statement only runs on
 * the session that holds the shard's advisory lock. If that connection died and the pool
 * opened a new one, it finds nothing instead of acting without the lock.
 */
const FENCED = (pidParam: string) => `pg_backend_pid() = ${pidParam}::int`;

/** Advisory-lock namespace of the relay's shard locks ('relv'). */
export const SHARD_LOCK_SPACE = 0x72656c76;

/** Takes a shard's advisory lock on the calling session if free; with the session's pid, the fence of its run. */
export function tryShardLock(i: { shard: number }): Query<{ ok: boolean; pid: number }> {
  return query('try-shard-lock', 'select pg_try_advisory_lock($1, $2) as ok, pg_backend_pid() as pid', [SHARD_LOCK_SPACE, i.shard]);
}

export function unlockShard(i: { shard: number }): Query {
  return query('unlock-shard', 'select pg_advisory_unlock($1, $2)', [SHARD_LOCK_SPACE, i.shard]);
}

/** Ends a backend from another session: a stalled run's lock session, and its lock with it. */
export function terminateBackend(i: { pid: number }): Query {
  return query('terminate-backend', 'select pg_terminate_backend($1)', [i.pid]);
}

/** The backend pid of the session a statement runs on: the fence's check that a lock session is still the one. */
export function sessionPid(): Query<{ pid: number }> {
  return query('session-pid', 'select pg_backend_pid() as pid');
}

/**
 * Takes the rows this shard claimed before whose fate is unknown (a run stopped between claim
 * and mark), each with whether an earlier row of its partner is out of hand. Waits for rows
 * another transaction holds (an operator's skip, a late mark), never skips them: the run
 * settles the shard afterwards only if it resolved every row in hand. Finding them scans the
 * whole unsent backlog (no index on the claim's columns: that would end HOT claims), so it
 * runs only while the shard is unsettled (see settleShard).
 */
export function reclaimInHand(i: { shard: number; relayId: string; lockPid: number }): Query<InHandRow> {
  return query('reclaim-in-hand', `update outbox o set claimed_by = $2, claimed_at = now()
    where ${FENCED('$3')}
      and exists (select from relay_shards where shard = $1 and last_sequence > settled_sequence)
      and o.id in (
      select id from outbox
       where ${UNSENT} and publish_shard = $1 and publish_sequence is not null
       for update)
    returning ${OUTBOX_ROW_COLUMNS.split(',').map((c) => `o.${c.trim()}`).join(', ')},
      exists (select from outbox e
               where e.aggregate_id = o.aggregate_id and e.id < o.id and ${unsentAs('e')}
                 and e.publish_sequence is null) as behind,
      o.publish_sequence <= (select untrusted_sequence from relay_shards where shard = $1) as untrusted`, [i.shard, i.relayId, i.lockPid]);
}

/**
 * Moves the shard's sequence past what the broker holds for its producers, and says whether
 * it had to: the database then is behind the broker (a restored backup, a failover that lost
 * the old primary's last commits), and its rows in hand cannot be trusted to be what the
 * broker stored under their sequences. The same statement marks every sequence handed out so
 * far untrusted, so a run that stops before giving those rows new sequences leaves the next
 * one the same verdict. Returns the sequence before, or no row when it was not behind.
 */
export function raiseSequenceFloor(i: { shard: number; brokerFloor: bigint }): Query<{ before: bigint }> {
  return query('raise-sequence-floor', `update relay_shards r set last_sequence = $2::bigint,
         untrusted_sequence = greatest(r.untrusted_sequence, before.last_sequence)
      from relay_shards before
     where r.shard = $1 and before.shard = $1 and r.last_sequence < $2::bigint
    returning before.last_sequence as before`, [i.shard, i.brokerFloor.toString()]);
}

/**
 * A run that ended with nothing in hand (every row it took marked sent or given back, none
 * left by an earlier run, and it held the shard's lock throughout) settles the shard: nothing
 * is in hand up to the last sequence handed out. Writes nothing when already settled.
 */
export function settleShard(i: { shard: number; lockPid: number }): Query {
  return query('settle-shard', `update relay_shards set settled_sequence = last_sequence, untrusted_sequence = 0
    where shard = $1 and (settled_sequence <> last_sequence or untrusted_sequence <> 0) and ${FENCED('$2')}`, [i.shard, i.lockPid]);
}

/**
 * Claims the next unsent rows of one shard in id order and hands each the shard's next publish
 * sequence, all in one statement. Skips aggregates blocked by a backing-off or parked row, and
 * those the run holds back (`held`: its rows failed in this run; a backoff that expires
 * mid-run must not have them claimed, held and given back again and again). Claims only under
 * the active shard layout, and only while no other is pending (relay-layout.ts): a relay still
 * on a retired layout, or one closing for the next, claims nothing. A claim that finds
 * nothing writes nothing: a lingering run is woken for rows it often has already claimed, and
 * an empty claim that advanced the sequence by 0 would still be a write waiting on a WAL flush.
 */
export function claimBatch(i: {
  shard: number; range: KeyRange; limit: number; relayId: string; lockPid: number; held: readonly string[]; generation: number;
}): Query<ClaimedRow> {
  return query('claim-batch', `with picked as (
      select id from outbox o
       where ${FENCED('$5')} and ${QUEUED} and publish_sequence is null
         and shard_key >= $1::bigint and shard_key < $6::bigint
         and (next_attempt_at is null or next_attempt_at <= now())
         and aggregate_id not in (${BLOCKED_AGGREGATES})
         and aggregate_id <> all($7::uuid[])
         and exists (select from relay_layout where generation = $8 and state = 'active')
         and not exists (select from relay_layout where state = 'pending')
       order by id
       limit $3
       for update skip locked
    ), advanced as (
      update relay_shards set last_sequence = last_sequence + (select count(*) from picked)
       where shard = $2 and exists (select from picked) returning last_sequence
    ), numbered as (
      select id, (select last_sequence from advanced) - (select count(*) from picked)
                 + row_number() over (order by id) as seq
        from picked
    )
    update outbox o set publish_sequence = n.seq, publish_shard = $2, claimed_by = $4, claimed_at = now()
      from numbered n
     where o.id = n.id
    returning ${OUTBOX_ROW_COLUMNS.split(',').map((c) => `o.${c.trim()}`).join(', ')}`,
  [i.range.from, i.shard, i.limit, i.relayId, i.lockPid, i.range.to, i.held, i.generation]);
}

/** A row the broker has: its message id, or null when its answer was that it already had it. */
export interface SentRow {
  id: bigint;
  sequence: bigint;
  messageId: string | null;
}

/**
 * Marks rows sent. Only a row still held by the run (`claimedBy`, the run's own token) under the
 * sequence it was sent with is marked: a stale run (fenced off, its rows given back and claimed
 * anew, or taken in hand by the next run) cannot mark a row of another run.
 */
export function markSent(i: { rows: readonly SentRow[]; claimedBy: string }): Query {
  return query('mark-sent', `update outbox o
     set sent_at = now(), broker_message_id = v.message_id, claimed_by = null, claimed_at = null,
         last_error = null, next_attempt_at = null
    from unnest($1::bigint[], $2::bigint[], $3::text[]) as v(id, seq, message_id)
   where o.id = v.id and o.publish_sequence = v.seq and o.claimed_by = $4 and o.sent_at is null`, [
    i.rows.map((r) => r.id.toString()), i.rows.map((r) => r.sequence.toString()), i.rows.map((r) => r.messageId), i.claimedBy,
  ]);
}

/** A row the broker never saw that failed: it backs off (or is parked) without a sequence. */
export interface FailedRow {
  id: bigint;
  sequence: bigint;
  error: string;
  delayMs: number;
}

/** A row in hand that the broker never saw, going back in line without a sequence. */
export interface HeldRow {
  id: bigint;
  sequence: bigint;
}

/**
 * In one statement: failed rows count an attempt and back off (or are parked, at
 * `maxAttempts`), and the rows of their partner held behind them go back in line, all without
 * their sequences. One statement, so no stop between recording a failure and releasing the
 * rows behind it can leave a later row in hand to be sent ahead of the failed one. Rows are
 * only touched while the run (`claimedBy`) still holds them under the sequence it knows them
 * by. Returns the failed rows, with whether each is parked.
 */
export function giveBack(i: { failed: readonly FailedRow[]; held: readonly HeldRow[]; maxAttempts: number; claimedBy: string }): Query<{ id: bigint; parked: boolean }> {
  const release = 'publish_sequence = null, publish_shard = null, claimed_by = null, claimed_at = null';
  return query('give-back', `with failed as (
      update outbox o
         set attempts = o.attempts + 1, last_error = v.error,
             next_attempt_at = now() + v.delay_ms * interval '1 millisecond',
             parked_at = case when o.attempts + 1 >= $5::int then now() end,
             ${release}
        from unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[]) as v(id, seq, error, delay_ms)
       where o.id = v.id and o.publish_sequence = v.seq and o.claimed_by = $8
      returning o.id, o.parked_at is not null as parked
    ), held as (
      update outbox o set ${release}
        from unnest($6::bigint[], $7::bigint[]) as h(id, seq)
       where o.id = h.id and o.publish_sequence = h.seq and o.claimed_by = $8
      returning o.id
    )
    select id, parked from failed`, [
    i.failed.map((f) => f.id.toString()), i.failed.map((f) => f.sequence.toString()), i.failed.map((f) => f.error),
    i.failed.map((f) => String(f.delayMs)), i.maxAttempts,
    i.held.map((h) => h.id.toString()), i.held.map((h) => h.sequence.toString()), i.claimedBy,
  ]);
}

/**
 * When the next backing-off row of a shard becomes due; none while the layout's claims are
 * closed (a layout pending, or this one retired), or the wake would find nothing to claim,
 * again and again.
 */
export function nextRetryAt(i: { range: KeyRange; generation: number }): Query<{ at: Date | null }> {
  return query('next-retry-at', `select min(next_attempt_at) as at from outbox
   where ${QUEUED} and attempts > 0 and shard_key >= $1::bigint and shard_key < $2::bigint
     and exists (select from relay_layout where generation = $3 and state = 'active')
     and not exists (select from relay_layout where state = 'pending')`, [i.range.from, i.range.to, i.generation]);
}

/** Backlog per shard for metrics. */
export function backlogByShard(i: { shards: number }): Query<{ shard: number; unsent: number; parked: number; oldest: Date | null }> {
  return query('backlog-by-shard', `select ${SHARD_OF_ROW('$1')} as shard, count(*)::int as unsent,
                 count(*) filter (where parked_at is not null)::int as parked,
                 min(occurred_at) filter (where parked_at is null) as oldest
            from outbox where ${UNSENT} group by 1`, [i.shards]);
}

/** Deletes one batch of sent rows older than a cut-off. */
export function purgeSentBatch(i: { cutoff: Date; limit: number }): Query {
  return query('purge-sent-batch', `delete from outbox where id in (
     select id from outbox where sent_at < $1 order by sent_at limit $2)`, [i.cutoff.toISOString(), i.limit]);
}

/**
 * Deletes one batch of stored idempotent responses older than a cut-off. No index on
 * created_at: the scan stops once it found a batch, and the table holds one row per
 * idempotent POST of the retention window.
 */
export function purgeIdempotencyBatch(i: { cutoff: Date; limit: number }): Query {
  return query('purge-idempotency-batch', `delete from idempotency_keys where ctid = any(array(
     select ctid from idempotency_keys where created_at < $1 limit $2))`, [i.cutoff.toISOString(), i.limit]);
}
