// A producer that speaks the binary protocol to the broker directly, with relevo's own frame
// encoders, so a test can put on a real topic what no well-behaved client sends: a SEND without
// the optional magic number and checksum, a batch whose num_messages_in_batch lies, batch entries
// whose sizes overrun the payload, a compression codec relevo does not read. The broker stores
// such messages as they are and delivers them to every subscription.
import net from 'node:net';
import { CommandType, decodeCommand, encodeConnect, encodeProducer, encodeSend, type Incoming } from '../../packages/pulsar/src/protocol/commands.ts';
import { crc32c } from '../../packages/pulsar/src/protocol/crc32c.ts';
import { FrameDecoder, simpleFrame } from '../../packages/pulsar/src/protocol/frame.ts';
import { encodeSingleMetadata } from '../../packages/pulsar/src/protocol/metadata.ts';
import { ProtoWriter } from '../../packages/pulsar/src/protocol/proto.ts';
import { toSchemaData } from '../../packages/pulsar/src/schema.ts';
import type { SchemaInfo } from '@relevo/pulsar';
import { serviceUrl } from '../../scripts/pulsar.ts';

export interface RawMessage {
  payload: Buffer;
  /** Extra MessageMetadata fields, written after producer_name, sequence_id and publish_time. */
  metadata?: (w: ProtoWriter) => void;
  /** With the 0x0e01 magic number and CRC32-C (true) or without them, as the protocol allows (false). */
  checksum: boolean;
  /** num_messages in the SEND command (the broker's count for its stats); 1 when not given. */
  numMessages?: number;
}

export interface RawProducer {
  /** The schema version the broker gave this producer, to put in messages' metadata (field 16). */
  readonly schemaVersion: Buffer | undefined;
  /** Resolves with the receipt's message id, rejects with the broker's SEND_ERROR. */
  send(m: RawMessage): Promise<string>;
  close(): void;
}

/** One batch entry as a batching producer lays it out: [u32 size][SingleMessageMetadata][payload]. */
export function batchEntry(payload: Buffer, properties: Record<string, string> = {}): Buffer {
  const w = new ProtoWriter();
  encodeSingleMetadata(w, { properties }, payload.length, 0n);
  const meta = w.finish();
  const size = Buffer.alloc(4);
  size.writeUInt32BE(meta.length);
  return Buffer.concat([size, meta, payload]);
}

export async function openRawProducer(topic: string, schema?: SchemaInfo): Promise<RawProducer> {
  const { hostname, port } = new URL(serviceUrl.replace(/^pulsar/, 'http'));
  const socket = net.connect({ host: hostname, port: Number(port) });
  const waiting: Array<(cmd: Incoming) => void> = [];
  let failure: Error | undefined;
  const decoder = new FrameDecoder((frame) => {
    const cmd = decodeCommand(frame.command);
    if (cmd.type === CommandType.PING) socket.write(simpleFrame((w) => w.uint(1, CommandType.PONG).message(19, () => {})));
    else waiting.shift()?.(cmd);
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  socket.on('error', (err) => { failure = err; });
  const next = () => new Promise<Incoming>((resolve, reject) => {
    if (failure) reject(failure);
    waiting.push(resolve);
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));

  socket.write(simpleFrame((w) => encodeConnect(w, {})));
  const connected = await next();
  if (connected.type !== CommandType.CONNECTED) throw new Error(`broker answered CONNECT with command ${connected.type}`);
  const schemaData = toSchemaData(schema);
  socket.write(simpleFrame((w) => encodeProducer(w, {
    requestId: 1, producerId: 0, topic, userProvidedName: false, epoch: 0, ...(schemaData ? { schema: schemaData } : {}),
  })));
  let ready = await next();
  // The broker may first answer "not ready yet" (producer_ready false), then the real success.
  while (ready.type === CommandType.PRODUCER_SUCCESS && !ready.producerSuccess!.producerReady) ready = await next();
  if (ready.type !== CommandType.PRODUCER_SUCCESS) throw new Error(`broker refused the producer: ${JSON.stringify(ready.error)}`);
  const { producerName, schemaVersion } = ready.producerSuccess!;

  let sequenceId = 0n;
  return {
    schemaVersion: schemaVersion ? Buffer.from(schemaVersion) : undefined,
    async send(m) {
      const seq = sequenceId++;
      const cmd = new ProtoWriter();
      encodeSend(cmd, 0, seq, m.numMessages ?? 1, seq);
      const meta = new ProtoWriter();
      meta.string(1, producerName).uint64(2, seq).uint(3, Date.now());
      m.metadata?.(meta);
      const command = cmd.finish();
      const metadata = meta.finish();
      const metaSize = Buffer.alloc(4);
      metaSize.writeUInt32BE(metadata.length);
      const section = Buffer.concat([metaSize, metadata, m.payload]);
      const checksum = m.checksum ? Buffer.alloc(6) : Buffer.alloc(0);
      if (m.checksum) {
        checksum.writeUInt16BE(0x0e01, 0);
        checksum.writeUInt32BE(crc32c(section), 2);
      }
      const head = Buffer.alloc(8);
      head.writeUInt32BE(4 + command.length + checksum.length + section.length, 0);
      head.writeUInt32BE(command.length, 4);
      socket.write(Buffer.concat([head, command, checksum, section]));
      const answer = await next();
      if (answer.type !== CommandType.SEND_RECEIPT) throw new Error(`broker refused the message: ${JSON.stringify(answer.sendError ?? answer.type)}`);
      const id = answer.sendReceipt!.messageId!;
      return `${id.ledgerId}:${id.entryId}`;
    },
    close() {
      socket.destroy();
    },
  };
}
