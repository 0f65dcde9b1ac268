import { SchemaType, type SchemaData } from './protocol/commands.ts';
import type { SchemaInfo } from './types.ts';

/** BYTES is Pulsar's "no schema": the PRODUCER/SUBSCRIBE command then carries none. */
export function toSchemaData(s: SchemaInfo | undefined): SchemaData | undefined {
  if (!s || s.type === 'BYTES') return undefined;
  const type = { AVRO: SchemaType.Avro, JSON: SchemaType.Json, STRING: SchemaType.String, NONE: SchemaType.None }[s.type];
  return { name: s.name ?? '', type, data: Buffer.from(s.schema, 'utf8'), properties: s.properties ?? {} };
}

export function fromSchemaData(s: SchemaData): SchemaInfo {
  const type: SchemaInfo['type'] =
    s.type === SchemaType.Avro ? 'AVRO' : s.type === SchemaType.Json ? 'JSON' : s.type === SchemaType.String ? 'STRING' : 'NONE';
  const info: SchemaInfo = { type, schema: Buffer.from(s.data).toString('utf8'), name: s.name };
  if (Object.keys(s.properties).length > 0) info.properties = s.properties;
  return info;
}
