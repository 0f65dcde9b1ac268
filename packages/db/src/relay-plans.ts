import { SHARD_OF_ROW } from './shards.ts';

// SQL text of the relay's hot path, as pure functions (the pg-boss `plans` style): the
// relay runs them; tests and the CLI read the same predicates.
//
// Row states, derived from columns:
//   unsent   sent_at is null and skipped_at is null            (partial index outbox_unsent_idx)
//   parked   unsent and parked_at is not null
//   backoff  unsent and attempts > 0 and next_attempt_at > now()
//   in hand  unsent and publish_sequence is not null            (claimed; fate unknown after a crash)

/** Unsent and not done by an operator's skip. Keep in step with the partial indexes. */
export const UNSENT = 'sent_at is null and skipped_at is null';

/** Aggregates held back by one of their rows: parked, or waiting out a retry backoff. */
export const BLOCKED_AGGREGATES = `select aggregate_id from outbox
   where ${UNSENT} and attempts > 0 and (parked_at is not null or next_attempt_at > now())`;

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

/** Makes sure each shard has its sequence row; the sequence never goes back. */
export function ensureShards(): string {
  return `insert into relay_shards (shard) select generate_series(0, $1::int - 1) on conflict do nothing`;
}

/**
 * The fence of every claim: the statement only runs on the session that holds the shard's
 * advisory lock. If that connection died and the pool opened a new one, the claim finds
 * nothing instead of claiming without the lock. Param: the lock holder's backend pid.
 */
const FENCED = (pidParam: string) => `pg_backend_pid() = ${pidParam}::int`;

/**
 * Rows this shard claimed before but whose fate is unknown (the relay stopped between
 * claim and mark). They keep their sequence ids and go out first, in sequence order, so
 * the broker's deduplication drops whatever copies it already has. Finding them scans the
 * whole unsent backlog (no index on the claim's columns: that would end HOT claims), so
 * the scan runs only while the shard is unsettled (see settleShard).
 * Params: $1 shard, $2 relay id, $3 lock holder's pid.
 */
export function reclaimInHand(): string {
  return `update outbox set claimed_by = $2, claimed_at = now()
    where ${FENCED('$3')}
      and exists (select from relay_shards where shard = $1 and last_sequence > settled_sequence)
      and id in (
      select id from outbox
       where ${UNSENT} and parked_at is null and publish_shard = $1 and publish_sequence is not null
       for update skip locked)
    returning ${OUTBOX_ROW_COLUMNS}`;
}

/**
 * A run that ended cleanly (every row it claimed marked sent, failed or released, and it
 * held the shard's lock throughout) settles the shard: nothing is in hand up to the last
 * sequence handed out. Writes nothing when already settled. Params: $1 shard, $2 lock holder's pid.
 */
export function settleShard(): string {
  return `update relay_shards set settled_sequence = last_sequence
    where shard = $1 and settled_sequence <> last_sequence and ${FENCED('$2')}`;
}

/**
 * Claims the next unsent rows of one shard in id order, skipping aggregates that are
 * blocked, and hands each the shard's next publish sequence, all in one statement.
 * Params: $1 shard's first key, $2 shard, $3 limit, $4 relay id, $5 lock holder's pid,
 * $6 shard's key bound (exclusive): see shardRange. A claim that finds nothing writes
 * nothing: a lingering run is woken for rows it often has already claimed, and an empty
 * claim that advanced the sequence by 0 would still be a write waiting on a WAL flush.
 */
export function claimBatch(): string {
  return `with picked as (
      select id from outbox o
       where ${FENCED('$5')} and ${UNSENT} and parked_at is null and publish_sequence is null
         and shard_key >= $1::bigint and shard_key < $6::bigint
         and (next_attempt_at is null or next_attempt_at <= now())
         and aggregate_id not in (${BLOCKED_AGGREGATES})
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
    returning ${OUTBOX_ROW_COLUMNS.split(',').map((c) => `o.${c.trim()}`).join(', ')}`;
}

/** Params: $1 ids, $2 broker message ids. */
export function markSent(): string {
  return `update outbox o
     set sent_at = now(), broker_message_id = v.message_id, claimed_by = null, claimed_at = null,
         last_error = null, next_attempt_at = null
    from unnest($1::bigint[], $2::text[]) as v(id, message_id)
   where o.id = v.id`;
}

/**
 * A failed row gives its sequence back (a later retry gets a new, higher one: the broker
 * would drop an old one as a duplicate) and waits out its backoff, or is parked.
 * Params: $1 ids, $2 errors, $3 backoff ms, $4 max attempts.
 */
export function recordFailures(): string {
  return `update outbox o
     set attempts = o.attempts + 1, last_error = v.error,
         next_attempt_at = now() + v.delay_ms * interval '1 millisecond',
         parked_at = case when o.attempts + 1 >= $4::int then now() end,
         publish_sequence = null, publish_shard = null, claimed_by = null, claimed_at = null
    from unnest($1::bigint[], $2::text[], $3::int[]) as v(id, error, delay_ms)
   where o.id = v.id`;
}

/** Rows claimed but not attempted (held behind a failure of their partner). Params: $1 ids. */
export function releaseClaims(): string {
  return `update outbox set publish_sequence = null, publish_shard = null, claimed_by = null, claimed_at = null
   where id = any($1::bigint[])`;
}

/** When the next backing-off row of a shard becomes due. Params: $1 shard's first key, $2 key bound (exclusive). */
export function nextRetryAt(): string {
  return `select min(next_attempt_at) as at from outbox
   where ${UNSENT} and parked_at is null and attempts > 0 and shard_key >= $1::bigint and shard_key < $2::bigint`;
}

/** Backlog per shard for metrics. Params: $1 shard count. */
export function backlogByShard(): string {
  return `select ${SHARD_OF_ROW('$1')} as shard, count(*)::int as unsent,
                 count(*) filter (where parked_at is not null)::int as parked,
                 min(occurred_at) filter (where parked_at is null) as oldest
            from outbox where ${UNSENT} group by 1`;
}

/** Deletes one batch of sent rows older than a cut-off. Params: $1 cut-off, $2 batch size. */
export function purgeSentBatch(): string {
  return `delete from outbox where id in (
     select id from outbox where sent_at < $1 order by sent_at limit $2)`;
}

/**
 * Deletes one batch of stored idempotent responses older than a cut-off. No index on
 * created_at: the scan stops once it found a batch, and the table holds one row per
 * idempotent POST of the retention window. Params: $1 cut-off, $2 batch size.
 */
export function purgeIdempotencyBatch(): string {
  return `delete from idempotency_keys where ctid = any(array(
     select ctid from idempotency_keys where created_at < $1 limit $2))`;
}

/**
 * Puts parked rows back in line: attempts reset, no backoff; the relay picks them up on
 * its next drain, ahead of their partner's later rows. Records who did it.
 * Params: $1 ids or null, $2 aggregate or null, $3 actor.
 */
export function retryParkedRows(): string {
  return `update outbox set parked_at = null, attempts = 0, next_attempt_at = null, last_error = null,
         retried_by = $3, retried_at = now()
   where ${UNSENT} and parked_at is not null
     and ($1::bigint[] is null or id = any($1::bigint[]))
     and ($2::uuid is null or aggregate_id = $2::uuid)`;
}
