/** FNV-1a 32-bit of the aggregate id, folded to 31 bits: stored once, so SQL never rehashes. */
export function shardKeyOf(aggregateId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < aggregateId.length; i++) {
    h ^= aggregateId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}

export function shardOf(aggregateId: string, shards: number): number {
  return shardKeyOf(aggregateId) % shards;
}
