// Stored first responses of POSTs carrying an Idempotency-Key, scoped per principal (token).
// The record is written in the same transaction as the change it describes.
import { and, eq, sql } from 'drizzle-orm';
import { connectionOf, type Tx } from './client.ts';
import { PREPARED } from './pool.ts';
import { storeIdempotencyRow } from './write-plans.ts';
import { idempotencyKeys } from './schema.ts';

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
 * concurrent duplicates cannot both pass the lookup and both write. Hash collisions only
 * make unrelated keys wait for each other.
 */
export async function lockIdempotencyKey(tx: Tx, principal: string, key: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${principal} || ':' || ${key}, 7340))`);
}

export async function findIdempotencyRecord(tx: Tx, principal: string, key: string): Promise<IdempotencyRecord | null> {
  const [row] = await tx.select().from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.principal, principal), eq(idempotencyKeys.key, key)));
  if (!row) return null;
  return {
    principal: row.principal,
    key: row.key,
    requestHash: row.requestHash,
    status: row.status,
    body: row.body,
    headers: row.headers,
  };
}

/**
 * The record's body is the response text as a jsonb string, so a replay sends it byte for
 * byte. Queues the statement before it returns (or throws first), like appendToOutbox:
 * runTransaction sends it with the COMMIT.
 */
export function storeIdempotencyRecord(tx: Tx, r: IdempotencyRecord): Promise<void> {
  const params = [r.principal, r.key, r.requestHash, r.status, JSON.stringify(r.body), JSON.stringify(r.headers)];
  return connectionOf(tx).unsafe(storeIdempotencyRow(), params, PREPARED).then(() => undefined);
}
