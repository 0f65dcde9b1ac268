/** FIFO with O(1) push/shift; arrays' shift() is O(n) once they leave V8's fast path. */
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes every item matching pred, keeping order; returns how many were removed. */
  removeWhere(pred: (item: T) => boolean): number {
    const kept: T[] = [];
    let removed = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as T;
      if (pred(item)) removed++;
      else kept.push(item);
    }
    this.items = kept;
    this.head = 0;
    return removed;
  }

  drain(): T[] {
    const out = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return out;
  }

  [Symbol.iterator](): Iterator<T> {
    return (this.items.slice(this.head) as T[])[Symbol.iterator]();
  }
}
