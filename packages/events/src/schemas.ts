// Loads the versioned Avro files and builds one writer schema per topic: the event contract's
// envelope whose `data` is the union of the data records routed to that topic. One schema
// per topic is what Pulsar's registry holds, so AUTO_CONSUME readers decode every type.
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { EVENT_TYPES, type EventType } from '@relevo/domain';
import { OWN_TOPICS, eventTypesOf, type OwnTopic } from './routing.ts';

export const SCHEMA_VERSION = 'v1';
const NAMESPACE = 'gestion_de_integraciones.v1';

function load(name: string): Record<string, unknown> {
  const url = new URL(`../schema/${SCHEMA_VERSION}/${name}.avsc`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

const envelope = load('envelope') as { fields: unknown[] } & Record<string, unknown>;
const dataRecords = Object.fromEntries(EVENT_TYPES.map((t) => [t, load(t)])) as Record<EventType, Record<string, unknown>>;

/** Avro full name of an event type's data record (the key of a wrapped union value). */
export function dataRecordName(type: EventType): string {
  return `${NAMESPACE}.${String(dataRecords[type].name)}`;
}

export interface TopicSchema {
  topic: OwnTopic;
  /** Avro schema JSON text as declared to Pulsar's schema registry. */
  json: string;
  type: avro.Type;
  /** SHA-256 of the schema's canonical form, hex. */
  fingerprint: string;
  eventTypes: EventType[];
  /** avsc wraps a union's value as `{ fullName: value }` only when the branches are ambiguous. */
  dataUnionWrapped: boolean;
}

function build(topic: OwnTopic): TopicSchema {
  const eventTypes = eventTypesOf(topic);
  const schema = {
    ...envelope,
    doc: `relevo ${SCHEMA_VERSION} envelope for topic ${topic}`,
    fields: [...envelope.fields, { name: 'data', type: eventTypes.map((t) => dataRecords[t]) }],
  };
  const type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'auto' });
  return {
    topic,
    json: JSON.stringify(schema),
    type,
    fingerprint: type.fingerprint('sha256').toString('hex'),
    eventTypes,
    dataUnionWrapped: (type as avro.types.RecordType).field('data')!.type.typeName === 'union:wrapped',
  };
}

export const TOPIC_SCHEMAS: Readonly<Record<OwnTopic, TopicSchema>> = Object.fromEntries(
  OWN_TOPICS.map((t) => [t, build(t)]),
) as Record<OwnTopic, TopicSchema>;

export function topicSchema(topic: string): TopicSchema {
  const s = (TOPIC_SCHEMAS as Record<string, TopicSchema>)[topic];
  if (!s) throw new RangeError(`no schema for topic ${topic}`);
  return s;
}
