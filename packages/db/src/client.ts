import postgres from 'postgres';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import * as schema from './schema.ts';

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  /** postgres.js client for hand-written SQL on hot paths (relay claims, marks). */
  sql: postgres.Sql;
  /** drizzle over the same pool, for the typed write path and queries. */
  db: Db;
  close(): Promise<void>;
}

export interface ConnectOptions {
  max?: number;
  applicationName?: string;
  onnotice?: (n: postgres.Notice) => void;
}

export function connectDatabase(url: string, opts: ConnectOptions = {}): Database {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    connection: { application_name: opts.applicationName ?? 'relevo' },
    onnotice: opts.onnotice ?? (() => {}),
    // bigint columns (outbox ids, sequences) come back as JS bigint, never a lossy number.
    types: { bigint: postgres.BigInt },
  });
  return {
    sql,
    db: drizzle(sql, { schema }),
    close: () => sql.end({ timeout: 5 }),
  };
}
