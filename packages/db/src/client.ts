import type postgres from 'postgres';
import { connectSql, type ConnectOptions } from './pool.ts';
import { runQuery, type Query } from './query.ts';

/** A transaction of the write path: its plans run on it with runQuery. */
export type Tx = postgres.TransactionSql;

/**
 * Hands a write's pending result to runTransaction: its statement is already queued on the
 * transaction's connection, and its result is awaited after the COMMIT.
 */
export type SendWithCommit = (written: Promise<unknown>) => void;

export interface Database {
  /** The process's postgres.js pool on this database: its plans run on it (the API's commit announcements and metrics scrape have their own connections). */
  sql: postgres.Sql;
  close(): Promise<void>;
}

/** One pool per process per database; postgres.js opens its connections on demand. */
export function connectDatabase(url: string, opts: ConnectOptions = {}): Database {
  const sql = connectSql(url, opts);
  return { sql, close: () => sql.end({ timeout: 5 }) };
}

/**
 * Queues a write-path statement whose rows nobody reads. Not async: the statement is queued,
 * in call order, before this returns its promise (runQuery), which is what lets
 * runTransaction send the COMMIT right behind the last one.
 */
export function queueWrite(tx: Tx, q: Query): Promise<void> {
  return runQuery(tx, q).then(() => undefined);
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
  const { value } = await database.sql.begin(async (tx) => ({ value: await body(tx, sendWithCommit) }));
  await Promise.all(sent);
  return value;
}
