// The receiver queue the application reads from; shared by the per-partition consumers of one
// subscription so partitions merge into a single stream.
import { PulsarError, TimeoutError } from './errors.ts';
import { Deque } from './queue.ts';

interface Waiter<T> {
  resolve(item: T): void;
  reject(err: PulsarError): void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

export class MessageQueue<T> {
  private readonly items = new Deque<T>();
  private readonly waiters = new Deque<Waiter<T>>();
  private closedError: PulsarError | undefined;

  push(item: T): void {
    for (let w = this.waiters.shift(); w; w = this.waiters.shift()) {
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      w.resolve(item);
      return;
    }
    this.items.push(item);
  }

  receive(timeoutMs?: number): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject, timer: undefined, done: false };
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          w.done = true;
          reject(new TimeoutError(`no message within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.waiters.push(w);
    });
  }

  removeWhere(pred: (item: T) => boolean): number {
    return this.items.removeWhere(pred);
  }

  close(err: PulsarError): void {
    this.closedError = err;
    this.items.drain();
    for (const w of this.waiters.drain()) {
      if (w.done) continue;
      w.done = true;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
