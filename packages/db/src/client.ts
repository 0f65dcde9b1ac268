import type postgres from 'postgres';
import { drizzle, PostgresJsSession, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { PREPARED, connectSql, type ConnectOptions } from './pool.ts';
import * as schema from './schema.ts';

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * The postgres.js connection a drizzle transaction runs on, for the write path's prepared
 * SQL (write-plans.ts). It keeps drizzle's type handling: timestamps travel as text both
 * ways, json goes in as text and comes back parsed (see connectDatabase).
 */
function connectionOf(tx: Tx): postgres.TransactionSql {
  const session: unknown = tx._.session;
  if (!(session instanceof PostgresJsSession)) throw new TypeError('connectionOf: not a drizzle postgres-js transaction');
  return session.client as postgres.TransactionSql;
}

/** A plan's parameters: the write path sends strings, numbers and nulls only (json and timestamps as text). */
export type PlanParams = (string | number | null)[];

/**
 * Runs a write-path plan (write-plans.ts) on the transaction's connection as a prepared
 * statement, with drizzle's type handling (see connectionOf). Not async: the statement is
 * queued, in call order, before this returns its promise (postgres.js queues a query when
 * it is first `then`ed), which is what lets runTransaction send the COMMIT right behind
 * the last one.
 */
export function runPlan<T extends postgres.Row[] = postgres.Row[]>(tx: Tx, text: string, params: PlanParams): Promise<T> {
  return connectionOf(tx).unsafe<T>(text, params, PREPARED).then((rows) => rows);
}

/** runPlan for a statement whose rows nobody reads. */
export function runWritePlan(tx: Tx, text: string, params: PlanParams): Promise<void> {
  return runPlan(tx, text, params).then(() => undefined);
}

/**
 * Hands a write's pending result to runTransaction: its statement is already queued on the
 * transaction's connection, and its result is awaited after the COMMIT.
 */
export type SendWithCommit = (written: Promise<unknown>) => void;

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

/**
 * Runs `body` in one transaction, with the last writes sent in the same round trip as the
 * COMMIT. A write handed to `sendWithCommit` is not awaited inside the transaction, so the
 * COMMIT postgres.js sends when `body` returns goes right behind it. Atomicity holds both
 * ways a write can fail:
 *  - Postgres refuses the statement: the transaction is aborted, its COMMIT ends it with a
 *    rollback, and the write's error is raised here once the transaction is over;
 *  - the write throws before queueing its statement (savePartner, appendToOutbox and
 *    storeIdempotencyRecord are not async for this): the throw rejects `body`, and
 *    postgres.js rolls back what was queued before it.
 * Returns what `body` returned (boxed inside: postgres.js awaits an array the callback
 * returns, element by element, before its COMMIT).
 */
export async function runTransaction<T>(database: Database, body: (tx: Tx, sendWithCommit: SendWithCommit) => Promise<T>): Promise<T> {
  const sent: Promise<unknown>[] = [];
  const sendWithCommit: SendWithCommit = (written) => {
    // Awaited below if the transaction commits; until then, or if it does not, its
    // rejection is not an unhandled one.
    written.catch(() => {});
    sent.push(written);
  };
  const { value } = await database.db.transaction(async (tx) => ({ value: await body(tx, sendWithCommit) }));
  await Promise.all(sent);
  return value;
}
