// A statement and its values, bound together (pg-boss's `plans` style, with their inputs):
// plans in this package build them from named inputs, runners execute them. Nothing else in
// relevo writes SQL text.
import type postgres from 'postgres';
import { PREPARED } from './pool.ts';

/**
 * A value a plan binds: text, numbers, booleans, null, and arrays of text (Postgres casts
 * them). Dates travel as ISO text cast to timestamptz, bigints as text cast to bigint, JSON
 * as text cast `$n::text::jsonb` (postgres.js would encode a string bound to a jsonb
 * parameter a second time).
 */
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

/** A pool or a transaction: anything a plan runs on. */
export type SqlRunner = Pick<postgres.Sql, 'unsafe'>;

/** Runs queries on one connection or pool; the relay's drain runs its statements through one. */
export type QueryRunner = <Row extends object>(q: Query<Row>) => Promise<postgres.RowList<Row[]>>;

/**
 * Runs a plan as a named prepared statement (see PREPARED). The statement is queued on its
 * connection before this returns (postgres.js queues a query when it is first `then`ed), so
 * statements reach a transaction's connection in call order: the write path sends its
 * COMMIT right behind its last writes without awaiting them (runTransaction).
 */
export function runQuery<Row extends object>(sql: SqlRunner, q: Query<Row>): Promise<postgres.RowList<Row[]>> {
  return sql.unsafe<Row[]>(q.text, q.values as never[], PREPARED).then((rows) => rows);
}

/** A QueryRunner over a postgres.js client. */
export function queryRunner(sql: SqlRunner): QueryRunner {
  return (q) => runQuery(sql, q);
}

/** A value an optional filter binds; Dates and bigints are bound as text (see QueryValue). */
export type ClauseValue = QueryValue | Date | bigint;

/**
 * The conditions of a WHERE clause and the values they bind, numbered `$1`, `$2`, … in the
 * order they are added. A filter whose value is undefined, null or the empty string adds
 * nothing.
 */
export class Clauses {
  private readonly conditions: string[] = [];
  private readonly bound: QueryValue[] = [];

  /** The values bound so far, in parameter order. */
  get values(): readonly QueryValue[] {
    return this.bound;
  }

  /** Binds a value and returns its placeholder. */
  bind(value: ClauseValue): string {
    this.bound.push(value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? value.toString() : value);
    return `$${this.bound.length}`;
  }

  /** Adds a condition that binds nothing. */
  require(condition: string): this {
    this.conditions.push(condition);
    return this;
  }

  /** Adds `condition` with its `?` replaced by the placeholder of `value`, unless there is no value. */
  filter(condition: string, value: ClauseValue | undefined): this {
    if (value === undefined || value === null || value === '') return this;
    return this.require(condition.replace('?', this.bind(value)));
  }

  /** `where …` over every condition, or nothing when there is none. */
  where(): string {
    return this.conditions.length > 0 ? `where ${this.conditions.join(' and ')}` : '';
  }
}

/** The readiness check every process runs: the database answers. */
export function ping(): Query {
  return query('ping', 'select 1');
}

/** A JSON value as the text a `$n::text::jsonb` parameter takes; null and undefined bind SQL null. */
export function jsonText(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}
