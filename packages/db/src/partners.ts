// Partner repository: the aggregate root's row. Writes lock it first (`FOR UPDATE`), so
// every change of one partner, and the outbox ids it takes, are serialised per partner.
import { and, asc, eq, gt, isNull, type SQL } from 'drizzle-orm';
import type { EstadoKyc, EstadoPartner, Partner } from '@relevo/domain';
import { runPlan, runWritePlan, type Db, type PlanParams, type Tx } from './client.ts';
import { insertPartnerRow, lockPartnerRow, savePartnerRow } from './write-plans.ts';
import { partners } from './schema.ts';

/** The pool or an open transaction: reads work on either. */
export type Queryable = Db | Tx;

type PartnerRow = typeof partners.$inferSelect;

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

/** A row of lockPartnerRow: drizzle's names, timestamps as text (see runPlan). */
type LockedPartnerRow = Omit<PartnerRow, 'createdAt' | 'updatedAt' | 'deletedAt'> & {
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
};

/** Takes the partner's row lock for the rest of the transaction; null when there is no such partner. */
export async function lockPartner(tx: Tx, id: string): Promise<Partner | null> {
  const [row] = await runPlan<LockedPartnerRow[]>(tx, lockPartnerRow(), [id]);
  if (!row) return null;
  const deletedAt = row.deletedAt === null ? null : new Date(row.deletedAt);
  return partnerFromRow({ ...row, createdAt: new Date(row.createdAt), updatedAt: new Date(row.updatedAt), deletedAt });
}

export async function findPartner(q: Queryable, id: string): Promise<Partner | null> {
  const [row] = await q.select().from(partners).where(eq(partners.id, id));
  return row ? partnerFromRow(row) : null;
}

/**
 * Fails with the unique violation `partners_email_live_uq` when a live partner has the
 * email (any case). Queues the statement before it returns, like savePartner: runTransaction
 * sends it with the COMMIT.
 */
export function insertPartner(tx: Tx, p: Partner): Promise<void> {
  return runWritePlan(tx, insertPartnerRow(), [...partnerParams(p), p.created_at.toISOString()]);
}

/**
 * Saves the state decided for a partner whose row this transaction has locked. Queues the
 * statement before it returns (or throws first), like appendToOutbox: runTransaction
 * sends it with the COMMIT.
 */
export function savePartner(tx: Tx, p: Partner): Promise<void> {
  return runWritePlan(tx, savePartnerRow(), partnerParams(p));
}

/** savePartnerRow's parameters; insertPartnerRow takes created_at after them. */
function partnerParams(p: Partner): PlanParams {
  return [p.id, p.nombre, p.email, p.estado, p.estado_kyc, p.version, p.updated_at.toISOString(), p.deleted_at?.toISOString() ?? null];
}

export const PARTNER_EMAIL_UNIQUE = 'partners_email_live_uq';

export interface PartnerFilter {
  estado?: EstadoPartner;
  estadoKyc?: EstadoKyc;
  /** Exclusive lower bound on id (the cursor). */
  after?: string;
  limit: number;
  includeDeleted?: boolean;
}

/** Live (or, asked, also deleted) partners in id order (uuid v7 ids: creation order), one page of keyset paging. */
export async function listPartners(q: Queryable, f: PartnerFilter): Promise<Partner[]> {
  const where: SQL[] = [];
  if (!f.includeDeleted) where.push(isNull(partners.deletedAt));
  if (f.estado) where.push(eq(partners.estado, f.estado));
  if (f.estadoKyc) where.push(eq(partners.estadoKyc, f.estadoKyc));
  if (f.after) where.push(gt(partners.id, f.after));
  const rows = await q.select().from(partners).where(and(...where)).orderBy(asc(partners.id)).limit(f.limit);
  return rows.map(partnerFromRow);
}
