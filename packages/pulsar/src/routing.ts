// Key → partition routing compatible with the Java client's default router
// (RoundRobinPartitionMessageRouter with HashingScheme.JavaStringHash):
// partition = (String.hashCode(key) & Integer.MAX_VALUE) % numPartitions.

/** Java's String.hashCode over UTF-16 code units, as a signed 32-bit int. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

export function partitionForKey(key: string, numPartitions: number): number {
  return (javaStringHash(key) & 0x7fffffff) % numPartitions;
}

/**
 * Keyed messages hash to a fixed partition (an empty key too: the Java client sends it as a
 * key and hashes it to 0); unkeyed ones rotate from a random start, per message.
 */
export class PartitionRouter {
  private readonly n: number;
  private next: number;

  constructor(numPartitions: number) {
    this.n = numPartitions;
    this.next = Math.floor(Math.random() * numPartitions);
  }

  choose(key: string | undefined): number {
    if (key !== undefined) return partitionForKey(key, this.n);
    const p = this.next;
    this.next = (this.next + 1) % this.n;
    return p;
  }
}
