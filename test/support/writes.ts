// Writes events the way the API's unit of work does (lock and bump the partner row, then
// append to the outbox, one transaction), without HTTP, to load the relay quickly.
import { randomUUID } from 'node:crypto';
import { appendToOutbox, type Database } from '@relevo/db';
import type { DomainEvent } from '@relevo/domain';

export type OnCommitted = (aggregateIds: string[]) => void;

export async function createPartners(database: Database, count: number, onCommitted?: OnCommitted): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const now = new Date();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await database.sql.begin(async (tx) => {
      const rows = chunk.map((id, k) => ({
        id, nombre: `Partner ${i + k}`, email: `p${i + k}-${id}@example.test`, estado: 'ACTIVO',
        estado_kyc: 'PENDIENTE', version: 1, created_at: now, updated_at: now,
      }));
      await tx`insert into partners ${tx(rows)}`;
      const events: DomainEvent[] = chunk.map((id, k) => ({
        type: 'PartnerCreado', partner_id: id, version: 1, nombre: `Partner ${i + k}`,
        email: `p${i + k}-${id}@example.test`, estado: 'ACTIVO', estado_kyc: 'PENDIENTE',
      }));
      await appendToOutbox(tx, events, { occurredAt: now });
    });
    onCommitted?.(chunk);
  }
  return ids;
}

/** One PartnerActualizado per call, in its own transaction; the row lock orders a partner's events. */
export async function updatePartner(database: Database, id: string, nombre = `n-${randomUUID().slice(0, 8)}`, onCommitted?: OnCommitted): Promise<number> {
  const version = await database.sql.begin(async (tx) => {
    const [row] = await tx<{ version: number; email: string }[]>`
      update partners set nombre = ${nombre}, version = version + 1, updated_at = now() where id = ${id} returning version, email`;
    const version = Number(row!.version);
    await appendToOutbox(tx, [{
      type: 'PartnerActualizado', partner_id: id, version, nombre, email: row!.email, estado: 'ACTIVO',
      estado_kyc: 'PENDIENTE', campos_actualizados: ['nombre'],
    }], { occurredAt: new Date(), headers: { traceparent: `00-${randomUUID().replace(/-/g, '')}-0000000000000001-01` } });
    return version;
  });
  onCommitted?.([id]);
  return version;
}

/** Runs `updates` updates of each partner with `concurrency` transactions in flight. */
export async function updateConcurrently(database: Database, ids: string[], updates: number, concurrency: number, onCommitted?: OnCommitted): Promise<void> {
  const work: string[] = [];
  for (let u = 0; u < updates; u++) work.push(...ids);
  // Shuffle so that updates of the same partner contend with each other.
  for (let i = work.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [work[i], work[j]] = [work[j]!, work[i]!];
  }
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < work.length) await updatePartner(database, work[next++]!, undefined, onCommitted);
  }));
}

export async function unsentCount(database: Database): Promise<number> {
  const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from outbox where sent_at is null and skipped_at is null`;
  return row!.n;
}

/** Parks a row the way the relay leaves one whose last attempt failed. */
export async function parkRow(sql: Database['sql'], id: string | bigint, error: string): Promise<void> {
  await sql`update outbox set attempts = attempts + 1, last_error = ${error}, next_attempt_at = now(), parked_at = now()
             where id = ${String(id)}`;
}
