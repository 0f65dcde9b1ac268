// MessageMetadata (one per entry) and SingleMessageMetadata (one per message inside a batch).
import { ProtocolError } from '../errors.ts';
import { decodeKeyValueInto } from './commands.ts';
import { ProtoReader, type ProtoWriter } from './proto.ts';

export interface EntryMetadata {
  producerName: string;
  sequenceId: bigint;
  publishTime: number;
  properties: Record<string, string>;
  partitionKey?: string;
  compression: number;
  /** Present only on batched entries (the Java client's test for "is a batch"). */
  numMessagesInBatch?: number;
  eventTime?: number;
  schemaVersion?: Uint8Array;
  orderingKey?: Uint8Array;
  highestSequenceId?: bigint;
  nullValue: boolean;
}

export interface SingleMetadata {
  properties: Record<string, string>;
  partitionKey?: string;
  payloadSize: number;
  compactedOut: boolean;
  eventTime?: number;
  orderingKey?: Uint8Array;
  sequenceId?: bigint;
  nullValue: boolean;
}

export interface OutgoingFields {
  properties?: Record<string, string>;
  partitionKey?: string;
  eventTime?: number;
  orderingKey?: Uint8Array;
}

export function encodeEntryMetadata(w: ProtoWriter, o: {
  producerName: string; sequenceId: bigint; publishTime: number; fields?: OutgoingFields;
  numMessagesInBatch?: number; schemaVersion?: Uint8Array; highestSequenceId?: bigint;
}): void {
  w.string(1, o.producerName).uint64(2, o.sequenceId).uint(3, o.publishTime);
  const f = o.fields;
  if (f) {
    w.keyValues(4, f.properties);
    if (f.partitionKey !== undefined) w.string(6, f.partitionKey);
  }
  if (o.numMessagesInBatch !== undefined) w.int32(11, o.numMessagesInBatch);
  if (f?.eventTime) w.uint(12, f.eventTime);
  if (o.schemaVersion) w.bytes(16, o.schemaVersion);
  if (f?.orderingKey) w.bytes(18, f.orderingKey);
  if (o.highestSequenceId !== undefined && o.highestSequenceId > o.sequenceId) w.uint64(24, o.highestSequenceId);
}

export function encodeSingleMetadata(w: ProtoWriter, f: OutgoingFields, payloadSize: number, sequenceId: bigint): void {
  w.keyValues(1, f.properties);
  if (f.partitionKey !== undefined) w.string(2, f.partitionKey);
  w.int32(3, payloadSize);
  if (f.eventTime) w.uint(5, f.eventTime);
  if (f.orderingKey) w.bytes(7, f.orderingKey);
  w.uint64(8, sequenceId);
}

export function decodeEntryMetadata(buf: Uint8Array): EntryMetadata {
  const r = new ProtoReader(buf);
  const m: EntryMetadata = { producerName: '', sequenceId: 0n, publishTime: 0, properties: {}, compression: 0, nullValue: false };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: m.producerName = r.string(); break;
      case 2: m.sequenceId = r.uint64(); break;
      case 3: m.publishTime = r.uint53(); break;
      case 4: decodeKeyValueInto(r.sub(), m.properties); break;
      case 6: m.partitionKey = r.string(); break;
      case 8: m.compression = r.int32(); break;
      case 11: m.numMessagesInBatch = r.int32(); break;
      case 12: m.eventTime = r.uint53(); break;
      case 16: m.schemaVersion = r.bytes(); break;
      case 18: m.orderingKey = r.bytes(); break;
      case 24: m.highestSequenceId = r.uint64(); break;
      case 25: m.nullValue = r.bool(); break;
      default: r.skip(w);
    }
  }
  return m;
}

export function decodeSingleMetadata(buf: Uint8Array, start: number, end: number): SingleMetadata {
  const r = new ProtoReader(buf, start, end);
  const m: SingleMetadata = { properties: {}, payloadSize: -1, compactedOut: false, nullValue: false };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: decodeKeyValueInto(r.sub(), m.properties); break;
      case 2: m.partitionKey = r.string(); break;
      case 3: m.payloadSize = r.int32(); break;
      case 4: m.compactedOut = r.bool(); break;
      case 5: m.eventTime = r.uint53(); break;
      case 7: m.orderingKey = r.bytes(); break;
      case 8: m.sequenceId = r.uint64(); break;
      case 9: m.nullValue = r.bool(); break;
      default: r.skip(w);
    }
  }
  if (m.payloadSize < 0) throw new ProtocolError('SingleMessageMetadata without payload_size');
  return m;
}
