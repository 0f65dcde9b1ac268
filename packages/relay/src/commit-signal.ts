// Wakes drain runs that linger on an empty shard when a commit for that shard arrives
// (the API NOTIFYs the shard keys it wrote, after commit: announceCommit). Per shard a generation counter: a run
// reads it before its claim and waits with it, so a commit that lands between the empty
// claim and the wait is not missed.
import { shardOfKey } from '@relevo/db/sql';

export class CommitSignal {
  private readonly generations: number[];
  private readonly waiters = new Map<number, () => void>();
  private closed = false;
  private readonly shards: number;

  constructor(shards: number) {
    this.shards = shards;
    this.generations = new Array<number>(shards).fill(0);
  }

  /** How many commits for the shard were seen so far. */
  generation(shard: number): number {
    return this.generations[shard] ?? 0;
  }

  notify(shardKeys: readonly number[]): void {
    for (const shard of new Set(shardKeys.map((k) => shardOfKey(k, this.shards)))) {
      this.generations[shard] = this.generation(shard) + 1;
      this.waiters.get(shard)?.();
    }
  }

  /** True as soon as a commit for the shard arrives after `since`; false after `ms`, or once closed. */
  wait(shard: number, since: number, ms: number): Promise<boolean> {
    if (this.closed || ms <= 0) return Promise.resolve(false);
    if (this.generation(shard) !== since) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(shard);
        resolve(woken);
      };
      const timer = setTimeout(() => done(false), ms);
      this.waiters.set(shard, () => done(!this.closed));
    });
  }

  /** Ends every wait now (shutdown), and every later one at once. */
  close(): void {
    this.closed = true;
    for (const wake of [...this.waiters.values()]) wake();
  }
}
