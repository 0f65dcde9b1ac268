// Operator actions on the outbox, shared by the CLI and the tests.
import type postgres from 'postgres';
import { runQuery, type Query } from './query.ts';
import { UNSENT, purgeIdempotencyBatch, purgeSentBatch, retryParkedRows } from './relay-plans.ts';

export interface RetrySelection {
  ids?: (bigint | string)[];
  aggregateId?: string;
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

/** Marks one parked row skipped (done without publishing), releasing its partner; `actor` is kept as skipped_by. */
export async function skipParked(sql: postgres.Sql, id: bigint | string, reason: string, actor: string): Promise<number> {
  const result = await sql.unsafe(`update outbox set skipped_at = now(), skip_reason = $2, skipped_by = $3, claimed_by = null,
      claimed_at = null, publish_sequence = null, publish_shard = null
    where id = $1::bigint and ${UNSENT} and parked_at is not null`, [String(id), reason, actor]);
  return result.count;
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
