// A statement and its values, bound together (pg-boss's `plans` style, with their inputs):
// plans in this package build them from named inputs, runners execute them. Nothing else in
// relevo writes SQL text.
import type postgres from 'postgres';
import { PREPARED } from './pool.ts';

/** A value a plan binds: text, numbers, booleans, null, and arrays of text (Postgres casts them). */
export type QueryValue = string | number | boolean | null | readonly (string | null)[];

export interface Query<Row extends object = postgres.Row> {
  /** The plan that built it: logs and the relay's fault harness name statements by it. */
  readonly name: string;
  readonly text: string;
  readonly values: readonly QueryValue[];
  /** Only carries the row type. */
  readonly row?: Row;
}

export function query<Row extends object = postgres.Row>(name: string, text: string, values: readonly QueryValue[] = []): Query<Row> {
  return { name, text, values };
}

/** Runs queries on one connection or pool; the relay's drain runs its statements through one. */
export type QueryRunner = <Row extends object>(q: Query<Row>) => Promise<postgres.RowList<Row[]>>;

/** Runs a plan on a postgres.js client as a named prepared statement (see PREPARED). */
export function runQuery<Row extends object>(sql: postgres.Sql | postgres.TransactionSql, q: Query<Row>): Promise<postgres.RowList<Row[]>> {
  return sql.unsafe<Row[]>(q.text, q.values as never[], PREPARED) as unknown as Promise<postgres.RowList<Row[]>>;
}

/** A QueryRunner over a postgres.js client. */
export function queryRunner(sql: postgres.Sql): QueryRunner {
  return (q) => runQuery(sql, q);
}
