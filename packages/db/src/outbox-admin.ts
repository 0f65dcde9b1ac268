// Operator actions on the outbox, shared by the CLI and the tests.
import type postgres from 'postgres';
import { retryParkedRows } from './relay-plans.ts';

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
