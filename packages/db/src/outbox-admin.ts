// Operator actions on the outbox, shared by the CLI and the tests.
import type postgres from 'postgres';
import { PARKED } from './outbox-states.ts';
import { query, runQuery, type Query } from './query.ts';
import { purgeIdempotencyBatch, purgeSentBatch } from './relay-plans.ts';

export interface RetrySelection {
  ids?: (bigint | string)[];
  aggregateId?: string;
}

/**
 * Puts parked rows back in line: attempts reset, no backoff; the relay picks them up on its
 * next drain, ahead of their partner's later rows. Records who did it.
 */
export function retryParkedRows(i: { ids?: readonly string[]; aggregateId?: string; actor: string }): Query {
  return query('retry-parked-rows', `update outbox set parked_at = null, attempts = 0, next_attempt_at = null, last_error = null,
         retried_by = $3, retried_at = now()
   where ${PARKED}
     and ($1::bigint[] is null or id = any($1::bigint[]))
     and ($2::uuid is null or aggregate_id = $2::uuid)`, [i.ids ?? null, i.aggregateId ?? null, i.actor]);
}

/** Marks one parked row skipped (done without publishing), releasing its partner; `actor` is kept as skipped_by. */
export function skipParkedRow(i: { id: string; reason: string; actor: string }): Query {
  return query('skip-parked-row', `update outbox set skipped_at = now(), skip_reason = $2, skipped_by = $3, claimed_by = null,
      claimed_at = null, publish_sequence = null, publish_shard = null
    where id = $1::bigint and ${PARKED}`, [i.id, i.reason, i.actor]);
}

/** Sent rows older than a cut-off: what purgeSentBefore deletes. */
export function countSentBefore(i: { cutoff: Date }): Query<{ total: number }> {
  return query('count-sent-before', 'select count(*)::int as total from outbox where sent_at < $1::timestamptz', [i.cutoff.toISOString()]);
}

/**
 * Re-queues parked rows (all, some ids, or one partner's); returns how many. `actor` is who
 * asked, kept as retried_by: `api:<token name>` from the API, `cli:<user>` from the CLI.
 */
export async function retryParked(sql: postgres.Sql, selection: RetrySelection, actor: string): Promise<number> {
  const result = await runQuery(sql, retryParkedRows({
    ...(selection.ids ? { ids: selection.ids.map(String) } : {}),
    ...(selection.aggregateId ? { aggregateId: selection.aggregateId } : {}),
    actor,
  }));
  return result.count;
}

/** Runs skipParkedRow; returns 1 when the row was parked, else 0. */
export async function skipParked(sql: postgres.Sql, id: bigint | string, reason: string, actor: string): Promise<number> {
  return (await runQuery(sql, skipParkedRow({ id: String(id), reason, actor }))).count;
}

/**
 * Deletes sent rows older than a cut-off in batches, each its own short statement, so the
 * relay's claims never wait on it. Returns how many rows went.
 */
export async function purgeSentBefore(sql: postgres.Sql, cutoff: Date, opts: PurgeOptions = {}): Promise<number> {
  return purgeInBatches(sql, purgeSentBatch, cutoff, opts);
}

/** Idempotency records older than a cut-off: a retry of such a request is a new request. */
export async function purgeIdempotencyKeysBefore(sql: postgres.Sql, cutoff: Date, opts: PurgeOptions = {}): Promise<number> {
  return purgeInBatches(sql, purgeIdempotencyBatch, cutoff, opts);
}

export interface PurgeOptions {
  batchSize?: number;
  onProgress?: (deleted: number) => void;
}

async function purgeInBatches(sql: postgres.Sql, plan: (i: { cutoff: Date; limit: number }) => Query, cutoff: Date, opts: PurgeOptions): Promise<number> {
  const batchSize = opts.batchSize ?? 5000;
  let deleted = 0;
  for (;;) {
    const result = await runQuery(sql, plan({ cutoff, limit: batchSize }));
    deleted += result.count;
    opts.onProgress?.(deleted);
    if (result.count < batchSize) return deleted;
  }
}
