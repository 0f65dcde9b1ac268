// relevo's own Avro schema for alliance events (see schema/README.md): what the alliances
// consumer is written and tested against, and how the tests produce to gestion-de-alianzas.
import { readFileSync } from 'node:fs';
import avro from 'avsc';

export const ALLIANCE_SCHEMA_JSON = JSON.stringify(JSON.parse(
  readFileSync(new URL('../schema/alianzas/v1/EventoAlianza.avsc', import.meta.url), 'utf8'),
));

export const ALLIANCE_EVENT_TYPES = ['AlianzaCreada', 'AlianzaActualizada', 'AlianzaFinalizada'] as const;

export interface AllianceData {
  alianza_id: string;
  partner_id: string | null;
  nombre: string | null;
  estado: string | null;
  motivo: string | null;
  [extra: string]: unknown;
}

export interface AllianceEvent {
  id: string;
  /** Epoch milliseconds. */
  time: number;
  specversion: string;
  type: string;
  datacontenttype: string;
  service_name: string;
  data: AllianceData;
}

const types = new Map<string, avro.Type>();

/** Encodes an alliance event with the v1 schema, or with another writer schema given as JSON. */
export function encodeAllianceEvent(event: AllianceEvent, schemaJson = ALLIANCE_SCHEMA_JSON): Buffer {
  let type = types.get(schemaJson);
  if (!type) {
    type = avro.Type.forSchema(JSON.parse(schemaJson) as avro.Schema, { wrapUnions: 'auto' });
    types.set(schemaJson, type);
  }
  return type.toBuffer(event);
}

/** A v1 alliance event with the defaults filled in. */
export function allianceEvent(fields: Partial<Omit<AllianceEvent, 'data'>> & { id: string; type: string; data: Partial<AllianceData> & { alianza_id: string } }): AllianceEvent {
  return {
    time: Date.now(), specversion: 'v1', datacontenttype: 'AVRO', service_name: 'gestion-de-alianzas',
    ...fields,
    data: { partner_id: null, nombre: null, estado: null, motivo: null, ...fields.data },
  };
}
