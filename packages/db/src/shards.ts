// Shards are contiguous ranges of a 31-bit hash of the partner id, not `hash % N`: a range
// predicate on a plain column is something the planner estimates from its statistics, so
// a claim walks the unsent index in id order and stops after one batch. `hash % N = k` is an
// expression the planner can only guess at, and it then scans the whole backlog
// (docs/benchmarks.md).

/** Exclusive upper bound of shard keys. */
export const SHARD_KEY_SPACE = 2 ** 31;

/** FNV-1a 32-bit of the aggregate id, folded to 31 bits: stored once, so SQL never rehashes. */
export function shardKeyOf(aggregateId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < aggregateId.length; i++) {
    h ^= aggregateId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}

/** The shard a key falls in: floor(key · N / 2³¹). */
export function shardOfKey(shardKey: number, shards: number): number {
  return Math.floor((shardKey * shards) / SHARD_KEY_SPACE);
}

export function shardOf(aggregateId: string, shards: number): number {
  return shardOfKey(shardKeyOf(aggregateId), shards);
}

/** The keys of a shard, [from, to): exactly those k with shardOfKey(k, shards) = shard. */
export function shardRange(shard: number, shards: number): { from: number; to: number } {
  return {
    from: Math.ceil((shard * SHARD_KEY_SPACE) / shards),
    to: Math.ceil(((shard + 1) * SHARD_KEY_SPACE) / shards),
  };
}

/** SQL for a row's shard given the shard count parameter. */
export const SHARD_OF_ROW = (shardsParam: string) => `(shard_key::bigint * ${shardsParam}::int / ${SHARD_KEY_SPACE})::int`;
