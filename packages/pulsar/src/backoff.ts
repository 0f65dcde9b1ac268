/** Exponential reconnect delay with jitter, so many producers do not hammer a restarting broker in step. */
export class Backoff {
  private next: number;
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(initialMs = 100, maxMs = 5_000) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.next = initialMs;
  }

  delay(): number {
    const d = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    return Math.round(d * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.next = this.initialMs;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs attempt until it succeeds, a non-retriable error occurs, or timeoutMs would be exceeded. */
export async function retrying<T>(timeoutMs: number, retriable: (e: unknown) => boolean, attempt: () => Promise<T>): Promise<T> {
  const backoff = new Backoff();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      const delay = backoff.delay();
      if (!retriable(e) || Date.now() + delay >= deadline) throw e;
      await sleep(delay);
    }
  }
}
