// The NOTIFY channel on which a write transaction announces the shard keys it appended to
// the outbox. Sent inside the transaction, Postgres delivers it at commit, and only then.

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
