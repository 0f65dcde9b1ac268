// SQL text of the API's write path (the idempotency key's lock and lookup, lock the partner,
// insert or save it and its integrations, append its outbox rows, store the idempotency
// record), as pure functions like relay-plans.ts. drizzle's query builder
// rebuilt these statements on every request, inside its tracing wrappers (22 % of the API's
// CPU in a profile of the 1,000/s latency step). Written once here and run on the
// transaction's own connection (runPlan in client.ts), they are postgres.js prepared statements
// keyed by their text: parsed once per connection. They also reach the connection in the
// order they are called, which lets runTransaction send COMMIT right behind them.

/** Params: $1 id. The columns carry drizzle's names, so partnerFromRow maps this row too. */
export function lockPartnerRow(): string {
  return `select id, nombre, email, estado, estado_kyc as "estadoKyc", version, created_at as "createdAt",
    updated_at as "updatedAt", deleted_at as "deletedAt" from partners where id = $1 for update`;
}

/** Params: savePartnerRow's, then $9 created_at. */
export function insertPartnerRow(): string {
  return `insert into partners (id, nombre, email, estado, estado_kyc, version, updated_at, deleted_at, created_at)
    values ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz, $9::timestamptz)`;
}

/** Params: $1 id, $2 nombre, $3 email, $4 estado, $5 estado_kyc, $6 version, $7 updated_at, $8 deleted_at. */
export function savePartnerRow(): string {
  return `update partners set nombre = $2, email = $3, estado = $4, estado_kyc = $5, version = $6,
    updated_at = $7::timestamptz, deleted_at = $8::timestamptz where id = $1`;
}

/** Params: saveIntegrationRow's, then $8 partner_id, $9 created_at. */
export function insertIntegrationRow(): string {
  return `insert into integrations (id, tipo, nombre, estado, version, revoked_at, motivo_revocacion, partner_id, created_at)
    values ($1, $2, $3, $4, $5, $6::timestamptz, $7, $8, $9::timestamptz)`;
}

/** Params: $1 id, $2 tipo, $3 nombre, $4 estado, $5 version, $6 revoked_at, $7 motivo_revocacion. */
export function saveIntegrationRow(): string {
  return `update integrations set tipo = $2, nombre = $3, estado = $4, version = $5, revoked_at = $6::timestamptz,
    motivo_revocacion = $7 where id = $1`;
}

/** The outbox columns a writer fills and their types, in the order appendOutboxRows takes them; the rest keep their defaults. */
const OUTBOX_APPEND_COLUMNS = [
  ['event_id', 'uuid'], ['aggregate_type', 'text'], ['aggregate_id', 'uuid'], ['aggregate_version', 'int'],
  ['shard_key', 'int'], ['event_type', 'text'], ['topic', 'text'], ['payload', 'jsonb'], ['schema_version', 'text'],
  ['schema_fingerprint', 'text'], ['headers', 'jsonb'], ['occurred_at', 'timestamptz'],
] as const;

/** Params per appended row. */
export const OUTBOX_APPEND_WIDTH = OUTBOX_APPEND_COLUMNS.length;

const appendTexts = new Map<number, string>();

/**
 * Inserts `rows` outbox rows, OUTBOX_APPEND_WIDTH params per row, in order: their ids are
 * taken in that order. One text per row count (a request appends a handful at most), built
 * on its first use.
 */
export function appendOutboxRows(rows: number): string {
  let text = appendTexts.get(rows);
  if (text === undefined) {
    const tuples = Array.from({ length: rows }, (_, r) =>
      `(${OUTBOX_APPEND_COLUMNS.map(([, type], i) => `$${r * OUTBOX_APPEND_WIDTH + i + 1}::${type}`).join(', ')})`);
    text = `insert into outbox (${OUTBOX_APPEND_COLUMNS.map(([column]) => column).join(', ')}) values ${tuples.join(', ')}`;
    appendTexts.set(rows, text);
  }
  return text;
}

/**
 * Serialises requests with the same (principal, key) until the transaction ends. Hash
 * collisions only make unrelated keys wait for each other. Params: $1 principal, $2 key.
 */
export function lockIdempotencyKeyRow(): string {
  return `select pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 7340))`;
}

/**
 * The stored response (postgres.js parses its jsonb body and headers), under the caller's
 * principal or, failing that, under the principal its token had before principals were
 * keyed (idempotency.ts says why). Two primary-key lookups. Params: $1 principal, $2 key,
 * $3 the earlier principal.
 */
export function findIdempotencyRow(): string {
  return `select request_hash, status, body, headers from idempotency_keys
    where principal in ($1, $3) and key = $2 order by principal = $1 desc limit 1`;
}

/** Params: $1 principal, $2 key, $3 request_hash, $4 status, $5 body (jsonb text), $6 headers (jsonb text). */
export function storeIdempotencyRow(): string {
  return `insert into idempotency_keys (principal, key, request_hash, status, body, headers)
    values ($1, $2, $3, $4::int, $5::jsonb, $6::jsonb)`;
}
