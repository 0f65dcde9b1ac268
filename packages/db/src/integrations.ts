// Integration repository. Integrations belong to the partner aggregate: a write locks the
// partner row first (lockPartner), then reads and saves the integration under that lock.
import type { EstadoIntegracion, Integration } from '@relevo/domain';
import { queueWrite, type Tx } from './client.ts';
import { runQuery, type SqlRunner } from './query.ts';
import {
  insertIntegrationRow, integrationPage, integrationRow, saveIntegrationRow, type IntegrationPage, type IntegrationRow,
} from './write-plans.ts';

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

/** On the pool or in an open transaction. */
export async function findIntegration(sql: SqlRunner, id: string): Promise<Integration | null> {
  const [row] = await runQuery(sql, integrationRow({ id }));
  return row ? integrationFromRow(row) : null;
}

/** Queues its statement before it returns, like savePartner: runTransaction sends it with the COMMIT. */
export function insertIntegration(tx: Tx, i: Integration): Promise<void> {
  return queueWrite(tx, insertIntegrationRow(i));
}

/** Saves an integration whose partner row this transaction has locked; queues its statement like insertIntegration. */
export function saveIntegration(tx: Tx, i: Integration): Promise<void> {
  return queueWrite(tx, saveIntegrationRow(i));
}

/** A partner's integrations, one page (integrationPage). */
export async function listIntegrations(sql: SqlRunner, partnerId: string, page: IntegrationPage): Promise<Integration[]> {
  return (await runQuery(sql, integrationPage({ partnerId, ...page }))).map(integrationFromRow);
}
