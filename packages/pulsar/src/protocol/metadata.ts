// MessageMetadata (one per entry) and SingleMessageMetadata (one per message inside a batch).
import { ProtocolError } from '../errors.ts';
import { decodeKeyValueInto } from './commands.ts';
import type { Frame } from './frame.ts';
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
  if (m.payloadSize < 0) throw new ProtocolError('SingleMessageMetadata without a valid payload_size');
  return m;
}

/**
 * The most messages one batch entry may claim. Producers batch up to a few thousand (the Java
 * client's default is 1,000); a count beyond this is a malformed entry, whatever its payload.
 */
export const MAX_BATCH_MESSAGES = 100_000;

/** Bytes the smallest batch entry takes: its u32 size and a SingleMessageMetadata holding just payload_size. */
const MIN_BATCH_ENTRY_BYTES = 6;

const COMPRESSION = ['NONE', 'LZ4', 'ZLIB', 'ZSTD', 'SNAPPY'];

export type Entry =
  | { meta: EntryMetadata; payload: Buffer; singles?: Array<{ single: SingleMetadata; body: Buffer }> }
  | { invalid: string; meta?: EntryMetadata };

/**
 * Reads one delivered entry: its metadata and, for a batch, every message in it — or says why
 * it cannot be read. Every count and size comes from the sender, so each is checked against the
 * bytes that are there before anything is allocated from it; nothing here throws
 * (packages/pulsar/test/malformed-entries.test.ts).
 */
export function readEntry(frame: Frame): Entry {
  if (frame.invalid !== undefined || !frame.metadata || !frame.payload) return { invalid: frame.invalid ?? 'no metadata' };
  let meta: EntryMetadata;
  try {
    meta = decodeEntryMetadata(frame.metadata);
  } catch (e) {
    return { invalid: `unreadable message metadata: ${(e as Error).message}` };
  }
  const payload = frame.payload;
  if (meta.compression !== 0) {
    return { meta, invalid: `compressed with ${COMPRESSION[meta.compression] ?? `codec ${meta.compression}`}, which this client does not read` };
  }
  const count = meta.numMessagesInBatch;
  if (count === undefined) return { meta, payload };
  const fits = Math.floor(payload.length / MIN_BATCH_ENTRY_BYTES);
  if (count < 1 || count > MAX_BATCH_MESSAGES || count > fits) {
    return { meta, invalid: `num_messages_in_batch ${count} does not fit a payload of ${payload.length} bytes (1 to ${Math.min(fits, MAX_BATCH_MESSAGES)} would)` };
  }
  const singles: Array<{ single: SingleMetadata; body: Buffer }> = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + 4 > payload.length) return { meta, invalid: `batch ends after ${i} of its ${count} messages` };
    const size = payload.readUInt32BE(off);
    off += 4;
    if (off + size > payload.length) return { meta, invalid: `metadata of batch message ${i} (${size} bytes) exceeds the payload` };
    let single: SingleMetadata;
    try {
      single = decodeSingleMetadata(payload, off, off + size);
    } catch (e) {
      return { meta, invalid: `unreadable metadata of batch message ${i}: ${(e as Error).message}` };
    }
    off += size;
    if (off + single.payloadSize > payload.length) {
      return { meta, invalid: `batch message ${i} of ${single.payloadSize} bytes exceeds the payload` };
    }
    singles.push({ single, body: payload.subarray(off, off + single.payloadSize) });
    off += single.payloadSize;
  }
  return { meta, payload, singles };
}
