import type postgres from 'postgres';
import { drizzle, PostgresJsSession, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { connectSql, type ConnectOptions } from './pool.ts';
import * as schema from './schema.ts';

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * The postgres.js connection a drizzle transaction runs on, for the write path's prepared
 * SQL (write-plans.ts). It keeps drizzle's type handling: timestamps and json travel as
 * text both ways (see connectDatabase).
 */
export function connectionOf(tx: Tx): postgres.TransactionSql {
  const session: unknown = tx._.session;
  if (!(session instanceof PostgresJsSession)) throw new TypeError('connectionOf: not a drizzle postgres-js transaction');
  return session.client as postgres.TransactionSql;
}

export interface Database {
  /** postgres.js client for hand-written SQL on hot paths (relay claims, marks). */
  sql: postgres.Sql;
  /** drizzle over the same pool, for the typed write path and queries. */
  db: Db;
  close(): Promise<void>;
}

/**
 * Two pools over one URL: drizzle replaces postgres.js's timestamp parsers with its own
 * (strings it maps itself), so the hand-written SQL gets a client that keeps Dates.
 * postgres.js opens connections on demand: a pool a process does not use costs nothing.
 */
export function connectDatabase(url: string, opts: ConnectOptions = {}): Database {
  const sql = connectSql(url, opts);
  const orm = connectSql(url, opts);
  return {
    sql,
    db: drizzle(orm, { schema }),
    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), orm.end({ timeout: 5 })]);
    },
  };
}
