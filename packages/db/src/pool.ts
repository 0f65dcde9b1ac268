import postgres from 'postgres';

export interface ConnectOptions {
  max?: number;
  applicationName?: string;
  onnotice?: (n: postgres.Notice) => void;
}

/** Connections a pool opens at most unless told otherwise. */
export const DEFAULT_POOL_MAX = 10;

/**
 * A postgres.js pool as relevo configures it everywhere. The driver carries a patch
 * (patches/postgres@3.4.9.patch): a transaction whose connection died wrote its ROLLBACK to
 * the closed socket from a timer and ended the process (porsager/postgres#1208), and the
 * reconnected session failed its first query with the error the dead one had received
 * (test/driver-closed-connection.test.ts).
 */
export function connectSql(url: string, opts: ConnectOptions = {}): postgres.Sql {
  return postgres(url, {
    max: opts.max ?? DEFAULT_POOL_MAX,
    // No JIT: relevo's statements are short, and Postgres compiles a plan whose estimate
    // crosses jit_above_cost even when the part that costs is never run, such as the relay's
    // look for rows in hand, gated off on a settled shard (test/outbox-storage.test.ts: "runs
    // relevo's statements uncompiled").
    connection: { application_name: opts.applicationName ?? 'relevo', jit: 'off' },
    onnotice: opts.onnotice ?? (() => {}),
    // bigint columns (outbox ids, sequences) come back as JS bigint, never a lossy number.
    types: { bigint: postgres.BigInt },
  });
}

/**
 * How relevo runs its SQL plans (the relay's, the write path's): as named prepared
 * statements, parsed once per connection and then one round trip per execution.
 * postgres.js's unsafe() otherwise sends each parameterised statement to be described
 * first and waits for that before binding it.
 */
export const PREPARED = { prepare: true } as const;

/** postgres.js's own first statement on a new connection: the array types, for serialising array parameters. */
const TYPE_FETCH_QUERY = /select b\.oid, b\.typarray\s+from pg_catalog\.pg_type a/;

/** Whether an unhandled rejection is postgres.js's dropped array-type fetch (see below). */
export function isDroppedTypeFetch(reason: unknown): boolean {
  const query = (reason as { query?: unknown } | null)?.query;
  return typeof query === 'string' && TYPE_FETCH_QUERY.test(query);
}

let typeFetchGuarded = false;

/**
 * postgres.js fetches the array types on every new connection and drops that query's
 * promise (porsager/postgres#1192, #1223): when the connection dies during it (a
 * terminated backend, a restart), the rejection is unhandled and Node exits. The driver
 * reconnects, and the queries waiting on that connection fail or succeed on their own
 * terms, so this one rejection is logged and dropped. Any other unhandled rejection still
 * ends the process.
 */
export function surviveDroppedTypeFetches(log: { warn(obj: object, msg: string): void }): void {
  if (typeFetchGuarded) return;
  typeFetchGuarded = true;
  process.on('unhandledRejection', (reason) => {
    if (!isDroppedTypeFetch(reason)) throw reason;
    log.warn({ err: reason }, 'a new database connection failed while postgres.js fetched its types; it reconnects');
  });
}
