// SEND frames: one buffer per message, or one buffer per batch holding every entry as
// [u32 size][SingleMessageMetadata][payload]. Batches carry the first sequence id plus
// highest_sequence_id so broker deduplication covers every message in them.
import { encodeSend } from './protocol/commands.ts';
import { payloadFrame } from './protocol/frame.ts';
import { encodeEntryMetadata, encodeSingleMetadata } from './protocol/metadata.ts';
import { ProtoWriter } from './protocol/proto.ts';
import type { OutgoingMessage } from './types.ts';

export interface SendContext {
  producerId: number;
  producerName: string;
  schemaVersion: Uint8Array | undefined;
}

export interface QueuedMessage {
  msg: OutgoingMessage;
  seq: bigint;
}

const singleWriter = new ProtoWriter(16 * 1024);

export function singleFrame(ctx: SendContext, q: QueuedMessage): Buffer {
  const payload = q.msg.payload;
  return payloadFrame(
    (w) => encodeSend(w, ctx.producerId, q.seq, 1, q.seq),
    (w) => encodeEntryMetadata(w, {
      producerName: ctx.producerName, sequenceId: q.seq, publishTime: Date.now(), fields: q.msg,
      ...(ctx.schemaVersion ? { schemaVersion: ctx.schemaVersion } : {}),
    }),
    payload.length,
    (out, offset) => out.set(payload, offset),
  );
}

function sameKeys(batch: QueuedMessage[]): { partitionKey?: string; orderingKey?: Uint8Array } {
  const first = batch[0]!.msg;
  const key = first.partitionKey;
  const ordering = first.orderingKey;
  for (let i = 1; i < batch.length; i++) {
    const m = batch[i]!.msg;
    if (m.partitionKey !== key) return {};
    if (ordering && (!m.orderingKey || Buffer.compare(m.orderingKey, ordering) !== 0)) return {};
  }
  // Key_Shared dispatches a whole batch by the entry's key, so it is only set when every message shares it.
  return { ...(key !== undefined ? { partitionKey: key } : {}), ...(ordering ? { orderingKey: ordering } : {}) };
}

export function batchFrame(ctx: SendContext, batch: QueuedMessage[]): Buffer {
  const sw = singleWriter.reset();
  const ends: number[] = new Array(batch.length);
  let payloadSize = 0;
  for (let i = 0; i < batch.length; i++) {
    const q = batch[i]!;
    encodeSingleMetadata(sw, q.msg, q.msg.payload.length, q.seq);
    ends[i] = sw.pos;
    payloadSize += 4 + q.msg.payload.length;
  }
  payloadSize += sw.pos;
  const first = batch[0]!.seq;
  const last = batch[batch.length - 1]!.seq;
  return payloadFrame(
    (w) => encodeSend(w, ctx.producerId, first, batch.length, last),
    (w) => encodeEntryMetadata(w, {
      producerName: ctx.producerName, sequenceId: first, publishTime: Date.now(), fields: sameKeys(batch),
      numMessagesInBatch: batch.length, highestSequenceId: last,
      ...(ctx.schemaVersion ? { schemaVersion: ctx.schemaVersion } : {}),
    }),
    payloadSize,
    (out, offset) => {
      let start = 0;
      for (let i = 0; i < batch.length; i++) {
        const end = ends[i]!;
        out.writeUInt32BE(end - start, offset);
        offset += 4;
        sw.buf.copy(out, offset, start, end);
        offset += end - start;
        start = end;
        const payload = batch[i]!.msg.payload;
        out.set(payload, offset);
        offset += payload.length;
      }
    },
  );
}
