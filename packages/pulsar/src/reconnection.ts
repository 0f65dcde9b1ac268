import { Backoff, sleep } from './backoff.ts';
import { isFatalOnReconnect } from './errors.ts';

/** A producer or consumer whose broker-side half can be established again on a new connection. */
export interface Reconnectable {
  /** Still to be re-established: neither closed nor established meanwhile. */
  awaitingConnection(): boolean;
  establish(): Promise<void>;
  onReconnected(): void;
  /** The broker refuses it for good (isFatalOnReconnect): the owner closes itself. */
  onRefused(err: unknown): void;
  onAttemptFailed(err: unknown): void;
}

/**
 * Re-establishes a producer or consumer after its connection was lost: one loop at a time,
 * a growing, jittered wait between attempts (so many of them do not hammer a restarting
 * broker in step), until it is established, closed, or refused for good.
 */
export class Reconnection {
  private readonly backoff = new Backoff();
  private readonly owner: Reconnectable;
  private running = false;

  constructor(owner: Reconnectable) {
    this.owner = owner;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
    });
  }

  private async loop(): Promise<void> {
    while (this.owner.awaitingConnection()) {
      await sleep(this.backoff.delay());
      if (!this.owner.awaitingConnection()) return;
      try {
        await this.owner.establish();
        this.backoff.reset();
        this.owner.onReconnected();
      } catch (e) {
        if (isFatalOnReconnect(e)) {
          this.owner.onRefused(e);
          return;
        }
        this.owner.onAttemptFailed(e);
      }
    }
  }
}
