// pg-boss on postgres.js, the driver of the rest of relevo, instead of its bundled
// node-postgres pool. node-postgres connects to one host; relevo's DATABASE_URL may name a
// primary and its standbys (`postgres://h1:5432,h2:5432/relevo?target_session_attrs=primary`),
// and every connection a process opens, pg-boss's included, must go to whichever of them is
// the primary now, so that after a failover the relay's drain jobs run on the new primary
// without a restart (test/faults/pg-failover.test.ts).
//
// pg-boss takes such a driver through its `db` option (IDatabase): statements, LISTEN, and
// nothing else; its transactional workers and test clock, which need more, relevo does not use.
import postgres from 'postgres';
import type { Db } from 'pg-boss';

/**
 * pg-boss hands over parameters the way node-postgres takes them, and this keeps its meaning:
 * a JSON parameter it has already serialised stays that text (postgres.js would encode the
 * string again), and an object bound to a parameter of another type is its JSON text.
 */
const NODE_POSTGRES_JSON = {
  to: 114,
  from: [114, 3802],
  serialize: (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x)),
  parse: (x: string) => JSON.parse(x) as unknown,
};

function asParameter(value: unknown): unknown {
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date || value instanceof Uint8Array) return value;
  return JSON.stringify(value);
}

/** pg-boss's install, migration and maintenance scripts: `BEGIN; …; COMMIT;` in one simple query. */
const OPENS_TRANSACTION = /^\s*BEGIN\b/i;

/** Rows of a simple query: one list per statement when the text held several. */
function rowsOf(result: postgres.RowList<postgres.Row[]> | postgres.RowList<postgres.Row[]>[]): postgres.Row[] {
  const lists = result as unknown[];
  return lists.length > 0 && lists.every(Array.isArray) ? (lists as postgres.Row[][]).flat() : [...(result as postgres.Row[])];
}

export interface BossDatabase extends Db {
  listen(channel: string, onNotification: (payload: string) => void, onReconnect: () => void): Promise<{ close(): Promise<void> }>;
  /** Closes the connections; pg-boss never closes a database it was given. */
  end(): Promise<void>;
}

/**
 * pg-boss's database on a postgres.js pool of `max` connections, plus one connection for its
 * `BEGIN; …; COMMIT;` scripts: a simple query whose statement fails leaves its connection in
 * the aborted transaction, and only on a connection of its own can the ROLLBACK that ends it
 * be sent to the same session.
 */
export function connectBossDatabase(url: string, opts: { max: number; applicationName: string }): BossDatabase {
  // Not connectSql's pool: pg-boss reads rows as node-postgres returns them (bigint as text,
  // which it parses itself). Its statements are prepared once per connection, as relevo's
  // own are: postgres.js sends an unprepared statement with parameters to be described
  // first, a second round trip each time. A plan that pg-boss's own schema changes (queue
  // partitions, migrations) invalidate is prepared again by postgres.js.
  const options = {
    connection: { application_name: opts.applicationName },
    prepare: true,
    types: { json: NODE_POSTGRES_JSON },
    onnotice: () => {},
  };
  const pool = postgres(url, { ...options, max: opts.max });
  const scripts = postgres(url, { ...options, max: 1 });

  return {
    async executeSql(text: string, values?: unknown[]) {
      if (values && values.length > 0) return { rows: [...(await pool.unsafe(text, values.map(asParameter) as never[]))] };
      if (!OPENS_TRANSACTION.test(text)) return { rows: rowsOf(await pool.unsafe(text)) };
      try {
        return { rows: rowsOf(await scripts.unsafe(text)) };
      } catch (err) {
        // On a connection that was replaced meanwhile this is a no-op with a warning.
        await scripts.unsafe('rollback').catch(() => undefined);
        throw err;
      }
    },
    async listen(channel, onNotification, onReconnect) {
      // postgres.js calls onlisten on the first LISTEN and again each time it listens on a new
      // connection: what was notified in between is lost, and pg-boss fetches to catch up.
      const listening = await pool.listen(channel, onNotification, onReconnect);
      return { close: () => listening.unlisten() };
    },
    async end() {
      await Promise.all([pool.end({ timeout: 5 }), scripts.end({ timeout: 5 })]);
    },
  };
}
