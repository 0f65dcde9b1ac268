// Up to `concurrency` messages in hand at once, those of one key one after another: a message
// whose key has one in hand already waits for it (its slot held) and runs once that one is
// settled. The messages of one key form a chain; the chain's tail is kept until it settles.
// Unkeyed messages (an external producer that sets no key) are in no chain.
// Guarded by test/consumers/order.test.ts.
export class KeyChains {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly inHand = new Set<Promise<void>>();
  private free: number;
  private slotFreed: (() => void) | undefined;

  constructor(concurrency: number) {
    this.free = concurrency;
  }

  /** Resolves once a slot is free; `closed` ends the wait early (then it resolves false). */
  async slot(closed: () => boolean): Promise<boolean> {
    while (this.free === 0) {
      if (closed()) return false;
      await new Promise<void>((resolve) => { this.slotFreed = resolve; });
      this.slotFreed = undefined;
    }
    return !closed();
  }

  /** Takes a free slot and runs `task` after the key's chain; the slot is freed when it settles. */
  run(key: string | undefined, task: () => Promise<void>): void {
    this.free--;
    const before = key === undefined ? undefined : this.tails.get(key);
    const run: Promise<void> = (before ?? Promise.resolve()).then(task).finally(() => {
      if (key !== undefined && this.tails.get(key) === run) this.tails.delete(key);
      this.inHand.delete(run);
      this.free++;
      this.slotFreed?.();
    });
    if (key !== undefined) this.tails.set(key, run);
    this.inHand.add(run);
  }

  /** Wakes a wait for a slot (stopping). */
  wake(): void {
    this.slotFreed?.();
  }

  /** Resolves when every message in hand has settled. */
  async settled(): Promise<void> {
    while (this.inHand.size > 0) await Promise.all([...this.inHand]);
  }
}

/** Pauses that stop() can cut short. */
export class Pauses {
  private sleepers: Array<() => void> = [];

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers = this.sleepers.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.push(done);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}
