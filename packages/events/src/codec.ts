// Avro encoding of integration events for one topic's schema. Pure: no I/O.
import avro from 'avsc';
import { decodeUntrusted } from './bounded-decode.ts';
import type { IntegrationEvent } from './envelope.ts';
import { dataRecordName, topicSchema } from './schemas.ts';

export class EventSchemaError extends Error {
  readonly code = 'EVENT_SCHEMA_MISMATCH';
  readonly paths: string[];
  constructor(message: string, paths: string[]) {
    super(message);
    this.name = 'EventSchemaError';
    this.paths = paths;
  }
}

function toAvroValue(topic: string, event: IntegrationEvent): Record<string, unknown> {
  const schema = topicSchema(topic);
  if (!schema.eventTypes.includes(event.type)) {
    throw new EventSchemaError(`event type ${event.type} is not routed to topic ${topic}`, ['type']);
  }
  return { ...event, data: schema.dataUnionWrapped ? { [dataRecordName(event.type)]: event.data } : event.data };
}

/** Throws EventSchemaError naming every field that does not fit the topic's schema. */
export function validateEvent(topic: string, event: IntegrationEvent): void {
  const value = toAvroValue(topic, event);
  const paths: string[] = [];
  topicSchema(topic).type.isValid(value, {
    errorHook: (path: string[]) => paths.push(path.join('.') || '(root)'),
  });
  if (paths.length > 0) {
    throw new EventSchemaError(
      `${event.type} does not fit the ${topic} schema at ${paths.join(', ')}`,
      paths,
    );
  }
}

/**
 * Encoded bodies are carved out of shared slabs, never reused: a relay encodes thousands of
 * events a second, and avsc's toBuffer gives each its own zero-filled buffer plus a copy.
 * A body is a read-only view; a slab is freed once no body of it is referenced.
 */
const SLAB_BYTES = 256 * 1024;
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;

function encodeInSlab(type: avro.Type, value: unknown): Buffer {
  let end = type.encode(value, slab, slabUsed);
  if (end < 0) {
    // Too little room left: the shortfall says how much this value needs.
    slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, slab.length - slabUsed - end));
    slabUsed = 0;
    end = type.encode(value, slab, 0);
  }
  const body = slab.subarray(slabUsed, end);
  slabUsed = end;
  return body;
}

/**
 * Encoding checks every value as it writes it, so a full validation pass runs only when it
 * fails, to name the fields: the write path validated the row before it committed, and a
 * second pass first would only cost the relay time.
 */
export function encodeEvent(topic: string, event: IntegrationEvent): Buffer {
  const value = toAvroValue(topic, event);
  try {
    return encodeInSlab(topicSchema(topic).type, value);
  } catch (err) {
    validateEvent(topic, event);
    throw new EventSchemaError(`${event.type} cannot be encoded with the ${topic} schema: ${(err as Error).message}`, []);
  }
}

function fromAvroValue(topic: string, value: Record<string, unknown>): IntegrationEvent {
  if (!topicSchema(topic).dataUnionWrapped) return { ...value } as unknown as IntegrationEvent;
  const union = value.data as Record<string, unknown>;
  const [branch] = Object.keys(union);
  return { ...value, data: { ...(union[branch!] as object) } } as unknown as IntegrationEvent;
}

/**
 * Decodes with the topic's current (reader) schema, optionally resolving from the writer's.
 * The bytes come from the network: their counts and lengths are checked before avsc reads them
 * (MalformedAvroError, bounded-decode.ts).
 */
export function decodeEvent(topic: string, bytes: Uint8Array, writerSchemaJson?: string): IntegrationEvent {
  const reader = topicSchema(topic).type;
  const writer = writerSchemaJson === undefined ? undefined : avro.Type.forSchema(JSON.parse(writerSchemaJson) as avro.Schema, { wrapUnions: 'auto' });
  return fromAvroValue(topic, decodeUntrusted(reader, bytes, writer) as Record<string, unknown>);
}
