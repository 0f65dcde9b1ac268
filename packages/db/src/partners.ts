// Partner repository: the aggregate root's row. Writes lock it first (`FOR UPDATE`), so
// every change of one partner, and the outbox ids it takes, are serialised per partner.
import type { EstadoKyc, EstadoPartner, Partner } from '@relevo/domain';
import { queueWrite, type Tx } from './client.ts';
import { runQuery, type SqlRunner } from './query.ts';
import { insertPartnerRow, lockPartnerRow, partnerPage, partnerRow, savePartnerRow, type PartnerFilter, type PartnerRow } from './write-plans.ts';

export function partnerFromRow(row: PartnerRow): Partner {
  return {
    id: row.id,
    nombre: row.nombre,
    email: row.email,
    estado: row.estado as EstadoPartner,
    estado_kyc: row.estadoKyc as EstadoKyc,
    version: row.version,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
    deleted_at: row.deletedAt,
  };
}

/** Takes the partner's row lock for the rest of the transaction; null when there is no such partner. */
export async function lockPartner(tx: Tx, id: string): Promise<Partner | null> {
  const [row] = await runQuery(tx, lockPartnerRow({ id }));
  return row ? partnerFromRow(row) : null;
}

/** On the pool or in an open transaction. */
export async function findPartner(sql: SqlRunner, id: string): Promise<Partner | null> {
  const [row] = await runQuery(sql, partnerRow({ id }));
  return row ? partnerFromRow(row) : null;
}

/**
 * Fails with the unique violation `partners_email_live_uq` when a live partner has the
 * email (any case). Queues the statement before it returns, like savePartner: runTransaction
 * sends it with the COMMIT.
 */
export function insertPartner(tx: Tx, p: Partner): Promise<void> {
  return queueWrite(tx, insertPartnerRow(p));
}

/**
 * Saves the state decided for a partner whose row this transaction has locked. Queues the
 * statement before it returns (or throws first), like appendToOutbox: runTransaction
 * sends it with the COMMIT.
 */
export function savePartner(tx: Tx, p: Partner): Promise<void> {
  return queueWrite(tx, savePartnerRow(p));
}

export const PARTNER_EMAIL_UNIQUE = 'partners_email_live_uq';

/** One page of partners (partnerPage). */
export async function listPartners(sql: SqlRunner, f: PartnerFilter): Promise<Partner[]> {
  return (await runQuery(sql, partnerPage(f))).map(partnerFromRow);
}
