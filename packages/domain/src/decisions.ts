// Pure business decisions: given the current state, return the next state and the domain
// events it produced. The caller (the API's unit of work) persists both atomically.
import { DomainError } from './errors.ts';
import type { DomainEvent } from './events.ts';
import type { Integration } from './integration.ts';
import type { EstadoPartner, Partner, ResultadoKyc } from './partner.ts';

export interface Decision<S> {
  state: S;
  events: DomainEvent[];
}

export interface NewPartner {
  nombre: string;
  email: string;
  estado?: EstadoPartner;
}

export function createPartner(id: string, input: NewPartner, now: Date): Decision<Partner> {
  const partner: Partner = {
    id,
    nombre: input.nombre,
    email: input.email,
    estado: input.estado ?? 'ACTIVO',
    estado_kyc: 'PENDIENTE',
    version: 1,
    created_at: now,
    updated_at: now,
    deleted_at: null,
  };
  return { state: partner, events: [{ type: 'PartnerCreado', partner_id: id, version: 1, ...snapshot(partner) }] };
}

export interface PartnerPatch {
  nombre?: string;
  email?: string;
  estado?: EstadoPartner;
}

/** A patch that changes nothing produces no event and keeps the version. */
export function updatePartner(current: Partner, patch: PartnerPatch, now: Date): Decision<Partner> {
  assertLive(current);
  const changed = (Object.keys(patch) as (keyof PartnerPatch)[]).filter(
    (k) => patch[k] !== undefined && patch[k] !== current[k],
  );
  if (changed.length === 0) return { state: current, events: [] };
  const next: Partner = { ...current, ...definedOnly(patch), version: current.version + 1, updated_at: now };
  return {
    state: next,
    events: [{
      type: 'PartnerActualizado',
      partner_id: next.id,
      version: next.version,
      ...snapshot(next),
      campos_actualizados: changed.sort(),
    }],
  };
}

export function deletePartner(current: Partner, now: Date): Decision<Partner> {
  assertLive(current);
  const next: Partner = { ...current, estado: 'INACTIVO', version: current.version + 1, updated_at: now, deleted_at: now };
  return { state: next, events: [{ type: 'PartnerEliminado', partner_id: next.id, version: next.version }] };
}

export function recordKyc(current: Partner, resultado: ResultadoKyc, motivo: string | null, now: Date): Decision<Partner> {
  assertLive(current);
  const next: Partner = { ...current, estado_kyc: resultado, version: current.version + 1, updated_at: now };
  return {
    state: next,
    events: [{ type: 'KYCVerificado', partner_id: next.id, version: next.version, estado_kyc: resultado, motivo }],
  };
}

export interface NewIntegration {
  tipo: string;
  nombre: string;
}

/** Integrations belong to the partner aggregate: creating one bumps the partner's version. */
export function createIntegration(
  partner: Partner,
  id: string,
  input: NewIntegration,
  now: Date,
): Decision<{ partner: Partner; integration: Integration }> {
  assertLive(partner);
  const nextPartner: Partner = { ...partner, version: partner.version + 1, updated_at: now };
  const integration: Integration = {
    id,
    partner_id: partner.id,
    tipo: input.tipo,
    nombre: input.nombre,
    estado: 'ACTIVA',
    version: 1,
    created_at: now,
    revoked_at: null,
    motivo_revocacion: null,
  };
  return {
    state: { partner: nextPartner, integration },
    events: [{
      type: 'IntegracionCreada',
      partner_id: partner.id,
      version: nextPartner.version,
      integracion_id: id,
      tipo: input.tipo,
      nombre: input.nombre,
    }],
  };
}

export function revokeIntegration(
  partner: Partner,
  integration: Integration,
  motivo: string,
  now: Date,
): Decision<{ partner: Partner; integration: Integration }> {
  assertLive(partner);
  if (integration.estado === 'REVOCADA') {
    throw new DomainError('INTEGRATION_REVOKED', `integration ${integration.id} is already revoked`);
  }
  const nextPartner: Partner = { ...partner, version: partner.version + 1, updated_at: now };
  const next: Integration = {
    ...integration,
    estado: 'REVOCADA',
    version: integration.version + 1,
    revoked_at: now,
    motivo_revocacion: motivo,
  };
  return {
    state: { partner: nextPartner, integration: next },
    events: [{
      type: 'IntegracionRevocada',
      partner_id: partner.id,
      version: nextPartner.version,
      integracion_id: integration.id,
      motivo,
    }],
  };
}

function assertLive(p: Partner): void {
  if (p.deleted_at !== null) throw new DomainError('PARTNER_DELETED', `partner ${p.id} is deleted`);
}

function snapshot(p: Partner) {
  return { nombre: p.nombre, email: p.email, estado: p.estado, estado_kyc: p.estado_kyc };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
