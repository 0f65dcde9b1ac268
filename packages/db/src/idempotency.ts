// Stored first responses of POSTs carrying an Idempotency-Key, scoped per principal (token).
// The record is written in the same transaction as the change it describes.
import { queueWrite, type Tx } from './client.ts';
import { runQuery } from './query.ts';
import { findIdempotencyRow, lockIdempotencyKeyRow, storeIdempotencyRow } from './write-plans.ts';

export interface IdempotencyRecord {
  principal: string;
  key: string;
  requestHash: string;
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * Serialises requests with the same (principal, key) until this transaction ends, so two
 * concurrent duplicates cannot both pass the lookup and both write. Queues its statement
 * before it returns: called right before findIdempotencyRecord, the two go out in one
 * round trip, and the lookup still runs after the lock is granted (Postgres runs a
 * connection's statements in order, and each takes its snapshot when it starts).
 */
export function lockIdempotencyKey(tx: Tx, principal: string, key: string): Promise<void> {
  return queueWrite(tx, lockIdempotencyKeyRow({ principal, key }));
}

/**
 * The record of (principal, key), or of (earlierPrincipal, key): a record stored before
 * the API keyed its principals (an HMAC of the token now, a bare hash of it then) is still
 * replayed to the same token until retention deletes it, so a client retrying across the
 * upgrade does not apply its request twice. packages/api/test/scopes.test.ts guards it.
 */
export function findIdempotencyRecord(tx: Tx, principal: string, key: string, earlierPrincipal: string): Promise<IdempotencyRecord | null> {
  return runQuery(tx, findIdempotencyRow({ principal, key, earlierPrincipal })).then(([row]) => row
    ? { principal, key, requestHash: row.request_hash, status: row.status, body: row.body, headers: row.headers }
    : null);
}

/**
 * The record's body is the response text as a jsonb string, so a replay sends it byte for
 * byte. Queues the statement before it returns (or throws first), like appendToOutbox:
 * runTransaction sends it with the COMMIT.
 */
export function storeIdempotencyRecord(tx: Tx, r: IdempotencyRecord): Promise<void> {
  const row = { principal: r.principal, key: r.key, requestHash: r.requestHash, status: r.status, body: JSON.stringify(r.body), headers: JSON.stringify(r.headers) };
  return queueWrite(tx, storeIdempotencyRow(row));
}
