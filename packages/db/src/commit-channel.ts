// The NOTIFY channel on which a writer announces, after commit, the shard keys it appended
// to the outbox. The relay turns an announcement into a drain of the shard: a run lingering
// on it claims the rows at once, and a shard with no run gets a pg-boss drain job.
// Sent after commit, not inside the transaction: a transaction that NOTIFYs takes a
// database-wide lock at commit, which would serialise the business writes behind it.
import type postgres from 'postgres';
import { query, runQuery, type Query } from './query.ts';
import { shardKeyOf } from './shards.ts';

export const OUTBOX_COMMIT_CHANNEL = 'relevo_outbox_commit';

/** NOTIFY payloads stop at 8,000 bytes; a key and its comma take at most 11. */
const KEYS_PER_NOTIFY = 700;

/** The shard keys of a payload, or null when it is not one this code sends. */
export function parseCommitPayload(payload: string): number[] | null {
  if (!/^\d{1,10}(,\d{1,10})*$/.test(payload)) return null;
  return payload.split(',').map(Number);
}

/** One NOTIFY on the commit channel; its payload is the keys, comma-separated (parseCommitPayload reads it). */
export function announceShardKeys(i: { shardKeys: readonly number[] }): Query {
  return query('announce-shard-keys', 'select pg_notify($1, $2)', [OUTBOX_COMMIT_CHANNEL, i.shardKeys.join(',')]);
}

/** Distinct shard keys, in as many NOTIFYs as their payloads need. */
async function notifyKeys(sql: postgres.Sql, shardKeys: number[]): Promise<void> {
  const keys = [...new Set(shardKeys)];
  for (let i = 0; i < keys.length; i += KEYS_PER_NOTIFY) {
    await runQuery(sql, announceShardKeys({ shardKeys: keys.slice(i, i + KEYS_PER_NOTIFY) }));
  }
}

export type CommitAnnouncer = (aggregateIds: Iterable<string>) => Promise<void>;

/**
 * Announces committed outbox rows of these partners, best effort (a lost announcement only
 * delays): one NOTIFY in flight at a time, and the commits that finish meanwhile go out
 * together in the next one. A lone commit is announced at once; under load one NOTIFY
 * covers many commits, because each NOTIFY is a transaction that takes Postgres's
 * notify-queue lock at commit, and one per API commit would serialise the API's writes
 * behind that lock. The promise settles with the NOTIFY that carried these keys.
 */
export function createCommitAnnouncer(sql: postgres.Sql): CommitAnnouncer {
  return announcerOn(() => sql);
}

/** createCommitAnnouncer on whatever connection `connection` gives for each NOTIFY; `onFailed` runs before the next one is sent. */
function announcerOn(connection: () => postgres.Sql, onFailed?: (err: unknown) => void): CommitAnnouncer {
  let keys: number[] = [];
  let settles: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  let flushing = false;

  const flush = async () => {
    flushing = true;
    while (settles.length > 0) {
      const batch = keys;
      const waiting = settles;
      keys = [];
      settles = [];
      try {
        await notifyKeys(connection(), batch);
        for (const s of waiting) s.resolve();
      } catch (err) {
        onFailed?.(err);
        for (const s of waiting) s.reject(err);
      }
    }
    flushing = false;
  };

  return (aggregateIds) => new Promise<void>((resolve, reject) => {
    for (const id of aggregateIds) keys.push(shardKeyOf(id));
    settles.push({ resolve, reject });
    if (!flushing) void flush();
  });
}

/** A statement failed with the connection, not in the database: a server error (class 08 or 57P0x) says the connection is gone too. */
function lostConnection(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'PostgresError') return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('08') || /^57P0[1-3]$/.test(code));
}

/**
 * A process's commit announcements on a connection of their own: on a pool shared with the
 * writes, a NOTIFY waits behind every write queued for a connection, and under load the relay
 * would hear of a commit only once that queue had drained. After a NOTIFY lost with its
 * connection, that connection is not trusted again: the next NOTIFY, and every one after it,
 * goes out on a new one (a pool of one whose backend was terminated can keep failing, as
 * ShardLeases.retire says; test/commit-channel.test.ts: "opens a new connection after a
 * NOTIFY failed"). A NOTIFY the database refused keeps the connection.
 */
export class AnnouncerConnection {
  private readonly open: () => postgres.Sql;
  private sql: postgres.Sql;
  private closed = false;
  readonly announce: CommitAnnouncer;

  constructor(open: () => postgres.Sql) {
    this.open = open;
    this.sql = open();
    this.announce = announcerOn(() => this.sql, (err) => this.failed(err));
  }

  private failed(err: unknown): void {
    if (this.closed || !lostConnection(err)) return;
    const retired = this.sql;
    this.sql = this.open();
    void retired.end({ timeout: 1 }).catch(() => undefined);
  }

  close(): Promise<void> {
    this.closed = true;
    return this.sql.end({ timeout: 5 });
  }
}
