// Operator actions on the outbox, shared by the CLI and the tests.
import type postgres from 'postgres';
import { UNSENT, retryParkedRows } from './relay-plans.ts';

export interface RetrySelection {
  ids?: (bigint | string)[];
  aggregateId?: string;
}

/** Re-queues parked rows (all, some ids, or one partner's); returns how many. */
export async function retryParked(sql: postgres.Sql, selection: RetrySelection = {}): Promise<number> {
  const result = await sql.unsafe(retryParkedRows(), [
    selection.ids ? selection.ids.map(String) : null,
    selection.aggregateId ?? null,
  ] as never[]);
  return result.count;
}

/** Marks one parked row skipped (done without publishing), releasing its partner. */
export async function skipParked(sql: postgres.Sql, id: bigint | string, reason: string): Promise<number> {
  const result = await sql.unsafe(`update outbox set skipped_at = now(), skip_reason = $2, claimed_by = null,
      claimed_at = null, publish_sequence = null, publish_shard = null
    where id = $1::bigint and ${UNSENT} and parked_at is not null`, [String(id), reason]);
  return result.count;
}
