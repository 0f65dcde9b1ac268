// The NOTIFY channel on which a writer announces, after commit, the shard keys it appended
// to the outbox: a relay whose drain run lingers on such a shard claims the rows at once.
// Sent after commit, not inside the transaction: a transaction that NOTIFYs takes a
// database-wide lock at commit, which would serialise the business writes behind it.
import type postgres from 'postgres';
import { shardKeyOf } from './shards.ts';

export const OUTBOX_COMMIT_CHANNEL = 'relevo_outbox_commit';

/** The payload: distinct shard keys, comma-separated. */
export function commitPayload(shardKeys: Iterable<number>): string {
  return [...new Set(shardKeys)].join(',');
}

/** The shard keys of a payload, or null when it is not one this code sends. */
export function parseCommitPayload(payload: string): number[] | null {
  if (!/^\d{1,10}(,\d{1,10})*$/.test(payload)) return null;
  return payload.split(',').map(Number);
}

/** Announces committed outbox rows of these partners. Best effort: a lost one only delays. */
export async function announceCommit(sql: postgres.Sql, aggregateIds: Iterable<string>): Promise<void> {
  await sql`select pg_notify(${OUTBOX_COMMIT_CHANNEL}, ${commitPayload([...aggregateIds].map(shardKeyOf))})`;
}
