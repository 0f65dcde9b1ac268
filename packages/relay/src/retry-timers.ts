// Per-shard timers that ask for a drain later: after a backing-off row becomes due, or a
// short while after a run that could not drain (locked, busy, broker down, failed). One
// timer per shard; a later request replaces the earlier one.
export class RetryTimers {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly wake: (shard: number) => void;
  private closed = false;

  constructor(wake: (shard: number) => void) {
    this.wake = wake;
  }

  at(shard: number, when: Date): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(shard));
    this.timers.set(shard, setTimeout(() => {
      this.timers.delete(shard);
      if (!this.closed) this.wake(shard);
    }, Math.max(0, when.getTime() - Date.now())).unref());
  }

  after(shard: number, ms: number): void {
    this.at(shard, new Date(Date.now() + ms));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
