import type postgres from 'postgres';

/** What every outbox command runs against; built once from the environment. */
export interface Context {
  sql: postgres.Sql;
  /** The shard count of the layout the relays drain under. */
  shards(): Promise<number>;
  /** Wakes the relay for these shards after a change; best effort. */
  wake(shards: number[]): Promise<void>;
}
