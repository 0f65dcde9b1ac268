// A shard's lease: its advisory lock, held by a session of its own for one drain run. The
// lock is the fence inside Postgres: the run's claims, rows in hand and settle are fenced on
// that session's backend pid, so a run whose session was replaced acts on nothing.
import type postgres from 'postgres';
import { connectSql, queryRunner, runQuery, terminateBackend, tryShardLock, unlockShard, type QueryRunner } from '@relevo/db/sql';

export interface ShardLease {
  shard: number;
  /** The lock session's backend pid: the fence of the run's statements. */
  pid: number;
  /** Runs statements on the lock session. */
  session: QueryRunner;
  /** Unlocks; the session stays for the shard's next run. */
  release(): Promise<void>;
}

/**
 * One single-connection client per shard. Not sql.reserve(): postgres.js crashes the process
 * when a reserved connection's backend is terminated (porsager/postgres#1208); a pool of one
 * replaces the connection instead, and the pid fence notices that the lock went with it.
 */
export class ShardLeases {
  private readonly clients = new Map<number, postgres.Sql>();
  private readonly databaseUrl: string;
  private readonly applicationName: string;

  constructor(databaseUrl: string, applicationName = 'relevo-relay') {
    this.databaseUrl = databaseUrl;
    this.applicationName = applicationName;
  }

  /** The shard's lease, or undefined when another session (another relay) holds its lock. */
  async take(shard: number): Promise<ShardLease | undefined> {
    const client = this.client(shard);
    const [lock] = await runQuery(client, tryShardLock({ shard }));
    if (!lock?.ok) return undefined;
    return {
      shard,
      pid: lock.pid,
      session: queryRunner(client),
      release: async () => {
        await runQuery(client, unlockShard({ shard })).catch(() => undefined);
      },
    };
  }

  /**
   * Ends a shard's session; its next run opens a new one. A session whose run failed is not
   * trusted again: postgres.js can leave a pool of one whose backend was terminated while it
   * connected timing out on every later connect (test/relay.test.ts: "after a drain run
   * fails, the shard's next run takes its lock on a new session").
   */
  retire(shard: number): void {
    const client = this.clients.get(shard);
    this.clients.delete(shard);
    void client?.end({ timeout: 1 }).catch(() => undefined);
  }

  /** Ends a stalled run's session from another connection: its lock goes with it. */
  async terminate(pool: postgres.Sql, lease: ShardLease): Promise<void> {
    await runQuery(pool, terminateBackend({ pid: lease.pid }));
    this.retire(lease.shard);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.end({ timeout: 5 })));
    this.clients.clear();
  }

  private client(shard: number): postgres.Sql {
    let c = this.clients.get(shard);
    if (!c) {
      c = connectSql(this.databaseUrl, { max: 1, applicationName: this.applicationName });
      this.clients.set(shard, c);
    }
    return c;
  }
}
