export const ESTADOS_PARTNER = ['ACTIVO', 'INACTIVO', 'SUSPENDIDO'] as const;
export type EstadoPartner = (typeof ESTADOS_PARTNER)[number];

export const ESTADOS_KYC = ['PENDIENTE', 'VERIFICADO', 'RECHAZADO'] as const;
export type EstadoKyc = (typeof ESTADOS_KYC)[number];

/** The outcomes a KYC review may record; PENDIENTE is only the initial state. */
export const RESULTADOS_KYC = ['VERIFICADO', 'RECHAZADO'] as const;
export type ResultadoKyc = (typeof RESULTADOS_KYC)[number];

/** A partner is the aggregate root: its integrations' events carry its id and version. */
export interface Partner {
  id: string;
  nombre: string;
  email: string;
  estado: EstadoPartner;
  estado_kyc: EstadoKyc;
  version: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}
