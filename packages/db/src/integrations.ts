// Integration repository. Integrations belong to the partner aggregate: a write locks the
// partner row first (lockPartner), then reads and saves the integration under that lock.
import { and, asc, eq, gt } from 'drizzle-orm';
import type { EstadoIntegracion, Integration } from '@relevo/domain';
import { runWritePlan, type PlanParams, type Tx } from './client.ts';
import type { Queryable } from './partners.ts';
import { integrations } from './schema.ts';
import { insertIntegrationRow, saveIntegrationRow } from './write-plans.ts';

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

export async function findIntegration(q: Queryable, id: string): Promise<Integration | null> {
  const [row] = await q.select().from(integrations).where(eq(integrations.id, id));
  return row ? integrationFromRow(row) : null;
}

/** Queues its statement before it returns, like savePartner: runTransaction sends it with the COMMIT. */
export function insertIntegration(tx: Tx, i: Integration): Promise<void> {
  return runWritePlan(tx, insertIntegrationRow(), [...integrationParams(i), i.partner_id, i.created_at.toISOString()]);
}

/** Saves an integration whose partner row this transaction has locked; queues its statement like insertIntegration. */
export function saveIntegration(tx: Tx, i: Integration): Promise<void> {
  return runWritePlan(tx, saveIntegrationRow(), integrationParams(i));
}

/** saveIntegrationRow's parameters; insertIntegrationRow takes partner_id and created_at after them. */
function integrationParams(i: Integration): PlanParams {
  return [i.id, i.tipo, i.nombre, i.estado, i.version, i.revoked_at?.toISOString() ?? null, i.motivo_revocacion];
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
