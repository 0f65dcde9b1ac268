import type { EstadoKyc, EstadoPartner, ResultadoKyc } from './partner.ts';

// The six domain events of the service's event contract. Each carries the partner aggregate's version after the
// change, so consumers can order and de-duplicate per partner.
/** The partner as a change left it: what PartnerCreado and PartnerActualizado carry. */
interface PartnerState {
  partner_id: string;
  version: number;
  nombre: string;
  email: string;
  estado: EstadoPartner;
  estado_kyc: EstadoKyc;
}

export interface PartnerCreado extends PartnerState {
  type: 'PartnerCreado';
}

export interface PartnerActualizado extends PartnerState {
  type: 'PartnerActualizado';
  campos_actualizados: string[];
}

export interface PartnerEliminado {
  type: 'PartnerEliminado';
  partner_id: string;
  version: number;
}

export interface KYCVerificado {
  type: 'KYCVerificado';
  partner_id: string;
  version: number;
  estado_kyc: ResultadoKyc;
  motivo: string | null;
}

export interface IntegracionCreada {
  type: 'IntegracionCreada';
  partner_id: string;
  version: number;
  integracion_id: string;
  tipo: string;
  nombre: string;
}

export interface IntegracionRevocada {
  type: 'IntegracionRevocada';
  partner_id: string;
  version: number;
  integracion_id: string;
  motivo: string;
}

export type DomainEvent =
  | PartnerCreado
  | PartnerActualizado
  | PartnerEliminado
  | KYCVerificado
  | IntegracionCreada
  | IntegracionRevocada;

export type EventType = DomainEvent['type'];

export const EVENT_TYPES = [
  'PartnerCreado',
  'PartnerActualizado',
  'PartnerEliminado',
  'KYCVerificado',
  'IntegracionCreada',
  'IntegracionRevocada',
] as const satisfies readonly EventType[];
