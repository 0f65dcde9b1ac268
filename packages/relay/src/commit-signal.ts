// Turns commit announcements (the API NOTIFYs the shard keys it wrote, after commit:
// createCommitAnnouncer) into drains. A shard with a run on this relay: the run claims the rows —
// at once if it lingers on its emptied shard, else at its next claim. A shard with no run
// here: `wakeIdle` asks for a drain job. Per shard a generation counter: a run reads it
// before each claim, so a commit that lands between its last empty claim and its end
// (wait, or return) is not missed: `runEnded` sees the counter moved and asks for a drain.
import { shardOfKey } from '@relevo/db/sql';

export class CommitSignal {
  private readonly generations: number[];
  private readonly waiters = new Map<number, () => void>();
  private readonly running = new Map<number, number>();
  private closed = false;
  private readonly shards: number;
  private readonly wakeIdle: (shard: number) => void;

  constructor(shards: number, wakeIdle: (shard: number) => void = () => {}) {
    this.shards = shards;
    this.wakeIdle = wakeIdle;
    this.generations = new Array<number>(shards).fill(0);
  }

  /** How many commits for the shard were seen so far. */
  generation(shard: number): number {
    return this.generations[shard] ?? 0;
  }

  notify(shardKeys: readonly number[]): void {
    for (const shard of new Set(shardKeys.map((k) => shardOfKey(k, this.shards)))) this.committed(shard);
  }

  /** Announcements may have been lost (the listening connection was replaced): every shard may have new rows. */
  notifyAll(): void {
    for (let shard = 0; shard < this.shards; shard++) this.committed(shard);
  }

  private committed(shard: number): void {
    this.generations[shard] = this.generation(shard) + 1;
    this.waiters.get(shard)?.();
    if (!this.closed && !this.running.has(shard)) this.wakeIdle(shard);
  }

  /** A drain run of the shard starts on this relay: announcements for it are its to claim. */
  runStarted(shard: number): void {
    this.running.set(shard, (this.running.get(shard) ?? 0) + 1);
  }

  /** The run ended; `seen`: the generation it read before its last claim, if it ended empty. */
  runEnded(shard: number, seen: number | undefined): void {
    const left = (this.running.get(shard) ?? 1) - 1;
    if (left > 0) this.running.set(shard, left);
    else this.running.delete(shard);
    if (!this.closed && left === 0 && seen !== undefined && seen !== this.generation(shard)) this.wakeIdle(shard);
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

  /** Ends every wait now (shutdown), and every later one at once; asks for no more drains. */
  close(): void {
    this.closed = true;
    for (const wake of [...this.waiters.values()]) wake();
  }
}

/**
 * At most one drain-job send per shard in flight; a wake asked for meanwhile sends once
 * more after it, so no announcement is left without a job sent after it.
 */
export function coalescedWakes(send: (shard: number) => Promise<void>, onError: (shard: number, err: unknown) => void): (shard: number) => void {
  const inFlight = new Set<number>();
  const again = new Set<number>();
  const run = (shard: number) => {
    inFlight.add(shard);
    send(shard)
      .catch((err: unknown) => onError(shard, err))
      .finally(() => {
        inFlight.delete(shard);
        if (again.delete(shard)) run(shard);
      });
  };
  return (shard) => {
    if (inFlight.has(shard)) again.add(shard);
    else run(shard);
  };
}
