export const ESTADOS_INTEGRACION = ['ACTIVA', 'REVOCADA'] as const;
export type EstadoIntegracion = (typeof ESTADOS_INTEGRACION)[number];

export interface Integration {
  id: string;
  partner_id: string;
  tipo: string;
  nombre: string;
  estado: EstadoIntegracion;
  version: number;
  created_at: Date;
  revoked_at: Date | null;
  motivo_revocacion: string | null;
}
