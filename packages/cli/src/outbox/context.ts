import type postgres from 'postgres';

/** What every outbox command runs against; built once from the environment. */
export interface Context {
  sql: postgres.Sql;
  shards: number;
  /** Wakes the relay for these shards after a change; best effort. */
  wake(shards: number[]): Promise<void>;
}
