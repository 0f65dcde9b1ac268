// Integration repository. Integrations belong to the partner aggregate: a write locks the
// partner row first (lockPartner), then reads and saves the integration under that lock.
import { and, asc, eq, gt } from 'drizzle-orm';
import type { EstadoIntegracion, Integration } from '@relevo/domain';
import type { Tx } from './client.ts';
import type { Queryable } from './partners.ts';
import { integrations } from './schema.ts';

type IntegrationRow = typeof integrations.$inferSelect;

export function integrationFromRow(row: IntegrationRow): Integration {
  return {
    id: row.id,
    partner_id: row.partnerId,
    tipo: row.tipo,
    nombre: row.nombre,
    estado: row.estado as EstadoIntegracion,
    version: row.version,
    created_at: row.createdAt,
    revoked_at: row.revokedAt,
    motivo_revocacion: row.motivoRevocacion,
  };
}

function rowFromIntegration(i: Integration): typeof integrations.$inferInsert {
  return {
    id: i.id,
    partnerId: i.partner_id,
    tipo: i.tipo,
    nombre: i.nombre,
    estado: i.estado,
    version: i.version,
    createdAt: i.created_at,
    revokedAt: i.revoked_at,
    motivoRevocacion: i.motivo_revocacion,
  };
}

export async function findIntegration(q: Queryable, id: string): Promise<Integration | null> {
  const [row] = await q.select().from(integrations).where(eq(integrations.id, id));
  return row ? integrationFromRow(row) : null;
}

export async function insertIntegration(tx: Tx, i: Integration): Promise<void> {
  await tx.insert(integrations).values(rowFromIntegration(i));
}

/** Saves an integration whose partner row this transaction has locked. */
export async function saveIntegration(tx: Tx, i: Integration): Promise<void> {
  const { id: _id, partnerId: _p, createdAt: _c, ...changes } = rowFromIntegration(i);
  await tx.update(integrations).set(changes).where(eq(integrations.id, i.id));
}

export interface IntegrationPage {
  /** Exclusive lower bound on id (the cursor). */
  after?: string;
  limit: number;
}

/** A partner's integrations in id order (uuid v7 ids: creation order), keyset paged. */
export async function listIntegrations(q: Queryable, partnerId: string, page: IntegrationPage): Promise<Integration[]> {
  const where = page.after
    ? and(eq(integrations.partnerId, partnerId), gt(integrations.id, page.after))
    : eq(integrations.partnerId, partnerId);
  const rows = await q.select().from(integrations).where(where).orderBy(asc(integrations.id)).limit(page.limit);
  return rows.map(integrationFromRow);
}
