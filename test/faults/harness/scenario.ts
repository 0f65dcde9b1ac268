// The fixed scenario every fault schedule runs: six partners on two shards, four versions
// each, written the way the API's unit of work writes them (appendToOutbox in one
// transaction per round), with the awkward cases a relay meets in production:
//   - a KYCVerificado, routed to two topics;
//   - a row that cannot be encoded (its partner's later rows must wait behind it);
//   - a row over the broker's message size limit;
//   - a partner whose row was parked before the relay started.
// An operator then skips the two poison rows and retries the parked ones, as the runbook says.
import { appendToOutbox, ensureShards, requestLayout, runQuery, shardOf, type Database } from '@relevo/db';
import type { DomainEvent } from '@relevo/domain';
import { TOPICS } from '@relevo/events';
import { prng } from './faults.ts';

export const SCENARIO_SHARDS = 2;
export const VERSIONS = 4;

export interface ScenarioPartner {
  id: string;
  /** The version whose row cannot be encoded, or is over the size limit, or was parked. */
  role: 'plain' | 'kyc' | 'unencodable' | 'too-big' | 'parked';
}

/** Partner ids from the schedule's seed: three on each shard, so partners share a shard's producer and sequence. */
function partnerIds(seed: number): string[] {
  const random = prng(seed ^ 0x5eed);
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  const byShard: string[][] = Array.from({ length: SCENARIO_SHARDS }, () => []);
  while (byShard.some((ids) => ids.length < 3)) {
    const id = `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
    const shard = byShard[shardOf(id, SCENARIO_SHARDS)]!;
    if (shard.length < 3) shard.push(id);
  }
  return byShard.flat();
}

const ROLES: ScenarioPartner['role'][] = ['plain', 'kyc', 'unencodable', 'too-big', 'parked', 'kyc'];

/** The version a partner's special row has (its KYC event, poison row or parked row). */
export const SPECIAL_VERSION: Record<ScenarioPartner['role'], number> = { plain: 0, kyc: 2, unencodable: 2, 'too-big': 3, parked: 2 };

function eventOf(p: ScenarioPartner, version: number): DomainEvent {
  const base = { partner_id: p.id, version, nombre: `Partner ${p.id.slice(0, 8)} v${version}`, email: `${p.id}@example.test`, estado: 'ACTIVO' as const };
  if (version === 1) return { type: 'PartnerCreado', ...base, estado_kyc: 'PENDIENTE' };
  if (p.role === 'kyc' && version === SPECIAL_VERSION.kyc) {
    return { type: 'KYCVerificado', partner_id: p.id, version, estado_kyc: 'VERIFICADO', motivo: null };
  }
  return { type: 'PartnerActualizado', ...base, estado_kyc: p.role === 'kyc' && version > 2 ? 'VERIFICADO' : 'PENDIENTE', campos_actualizados: ['nombre'] };
}

/** Writes the scenario into an emptied outbox; returns its partners. */
export async function writeScenario(database: Database, seed: number): Promise<ScenarioPartner[]> {
  const partners = partnerIds(seed).map((id, i) => ({ id, role: ROLES[i]! }));
  await database.sql`truncate outbox, relay_shards restart identity`;
  await runQuery(database.sql, ensureShards({ shards: SCENARIO_SHARDS }));
  await requestLayout(database.sql, SCENARIO_SHARDS, 'fault-harness');
  for (let version = 1; version <= VERSIONS; version++) {
    await database.sql.begin(async (tx) => {
      await appendToOutbox(tx, partners.map((p) => eventOf(p, version)), { occurredAt: new Date() });
    });
  }
  const rowOf = (role: ScenarioPartner['role']) => ({ id: partners.find((p) => p.role === role)!.id, version: SPECIAL_VERSION[role] });
  const unencodable = rowOf('unencodable');
  await database.sql`update outbox set payload = jsonb_set(payload, '{data,version}', '"two"')
    where aggregate_id = ${unencodable.id} and aggregate_version = ${unencodable.version}`;
  const tooBig = rowOf('too-big');
  await database.sql`update outbox set payload = jsonb_set(payload, '{data,nombre}', ${database.sql.json('x'.repeat(6 << 20))})
    where aggregate_id = ${tooBig.id} and aggregate_version = ${tooBig.version}`;
  const parked = rowOf('parked');
  await database.sql`update outbox set attempts = 2, parked_at = now(), next_attempt_at = now(), last_error = 'failed before the relay started'
    where aggregate_id = ${parked.id} and aggregate_version = ${parked.version}`;
  return partners;
}

/** The rows an operator skips: the two that can never be published. */
export function poisonRows(partners: ScenarioPartner[]): { id: string; version: number }[] {
  return partners.filter((p) => p.role === 'unencodable' || p.role === 'too-big').map((p) => ({ id: p.id, version: SPECIAL_VERSION[p.role] }));
}

export const SCENARIO_TOPICS = [TOPICS.partners, TOPICS.compliance] as const;
