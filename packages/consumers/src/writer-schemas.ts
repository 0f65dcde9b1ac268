// Writer schemas from the broker's registry, one fetch per (topic, schema version), cached.
// A message is always read with the schema it was written with.
import avro from 'avsc';
import { decodeUntrusted } from '@relevo/events';
import type { Message, PulsarClient, SchemaInfo } from '@relevo/pulsar';

export class SchemaUnavailableError extends Error {
  readonly code = 'SCHEMA_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'SchemaUnavailableError';
  }
}

export function schemaVersionOf(message: Message): string | null {
  const v = message.schemaVersion;
  if (!v || v.length === 0) return null;
  // Pulsar's schema versions are 8-byte big-endian longs.
  return v.length === 8 ? Buffer.from(v).readBigInt64BE(0).toString() : Buffer.from(v).toString('hex');
}

export class WriterSchemas {
  private readonly client: PulsarClient;
  private readonly cache = new Map<string, Promise<SchemaInfo>>();
  private readonly types = new Map<string, avro.Type>();

  constructor(client: PulsarClient) {
    this.client = client;
  }

  /** The writer schema of a message (the topic's latest when the message names no version). */
  schemaOf(message: Message): Promise<SchemaInfo> {
    const version = message.schemaVersion && message.schemaVersion.length > 0 ? message.schemaVersion : undefined;
    const key = `${message.topic}|${version ? Buffer.from(version).toString('hex') : 'latest'}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.client.getSchema(message.topic, version).then((s) => {
        if (!s) throw new SchemaUnavailableError(`the broker has no schema ${schemaVersionOf(message) ?? '(latest)'} for ${message.topic}`);
        return s;
      });
      // A failed fetch is not cached: the next delivery asks again. "latest" is never cached for long.
      p.catch(() => this.cache.delete(key));
      if (!version) setTimeout(() => this.cache.delete(key), 10_000).unref();
      this.cache.set(key, p);
    }
    return p;
  }

  /** The avsc type of a writer schema (AVRO only). */
  async typeOf(message: Message): Promise<{ type: avro.Type; json: string }> {
    const info = await this.schemaOf(message);
    if (info.type !== 'AVRO') throw new SchemaUnavailableError(`${message.topic} has a ${info.type} schema, not AVRO`);
    let type = this.types.get(info.schema);
    if (!type) {
      type = avro.Type.forSchema(JSON.parse(info.schema) as avro.Schema, { wrapUnions: 'auto' });
      this.types.set(info.schema, type);
    }
    return { type, json: info.schema };
  }
}

/**
 * Reads an Avro record with its writer type into plain JSON-able values: a `data` union of
 * records (wrapped by avsc as `{ fullName: value }`) is unwrapped, bytes become base64. Counts
 * and lengths are checked against the payload before avsc reads it (MalformedAvroError).
 */
export function decodeGeneric(type: avro.Type, payload: Uint8Array): Record<string, unknown> {
  const value = decodeUntrusted(type, payload) as Record<string, unknown>;
  return plain(type, value) as Record<string, unknown>;
}

function plain(type: avro.Type, value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (type.typeName === 'union:wrapped') {
    const [branch] = Object.keys(value as object);
    const inner = (type as avro.types.WrappedUnionType).types.find((t) => (t.branchName ?? t.name) === branch);
    return inner ? plain(inner, (value as Record<string, unknown>)[branch!]) : value;
  }
  if (type.typeName === 'record' || type.typeName === 'error') {
    const out: Record<string, unknown> = {};
    for (const f of (type as avro.types.RecordType).fields) out[f.name] = plain(f.type, (value as Record<string, unknown>)[f.name]);
    return out;
  }
  if (type.typeName === 'array') return (value as unknown[]).map((v) => plain((type as avro.types.ArrayType).itemsType, v));
  if (type.typeName === 'map') {
    const vt = (type as avro.types.MapType).valuesType;
    return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, plain(vt, v)]));
  }
  if (type.typeName === 'union:unwrapped') {
    // avsc picks the branch from the JS value; only Buffers need converting.
    return Buffer.isBuffer(value) ? value.toString('base64') : value;
  }
  return value;
}
