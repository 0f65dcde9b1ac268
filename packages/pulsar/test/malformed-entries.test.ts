// A scripted broker delivers entries a real broker would store from a hostile producer (and one
// a real broker refuses to store, a checksum that does not match). Each reaches the consumer as a
// message marked malformed, on the same connection, followed by the healthy message after it;
// acking it acks the whole entry; the flow permits its metadata claimed come back.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.ts';
import { crc32c } from '../src/protocol/crc32c.ts';
import { FrameDecoder, MAX_ACCEPTED_MESSAGE_SIZE, simpleFrame } from '../src/protocol/frame.ts';
import { CommandType } from '../src/protocol/commands.ts';
import { ProtoWriter } from '../src/protocol/proto.ts';
import { fields } from './helpers.ts';

interface Script {
  /** Raw MESSAGE frames to deliver once the consumer sends its first FLOW. */
  deliveries: Buffer[];
}

interface Seen {
  connects: number;
  acks: Array<{ ledgerId: number; entryId: number; batchIndex?: number }>;
  flows: number[];
}

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** A MESSAGE frame for consumer 0: command, optional checksum, metadata and payload as given. */
function messageFrame(entryId: number, metadata: Buffer, payload: Buffer, section?: (s: Buffer) => Buffer): Buffer {
  const cmd = new ProtoWriter();
  cmd.uint(1, CommandType.MESSAGE).message(CommandType.MESSAGE, (c) => c.uint(1, 0).message(2, (id) => id.uint(1, 7).uint(2, entryId)));
  const command = cmd.finish();
  const body = Buffer.concat([u32(metadata.length), metadata, payload]);
  const crc = Buffer.alloc(6);
  crc.writeUInt16BE(0x0e01, 0);
  crc.writeUInt32BE(crc32c(body), 2);
  const rest = section ? section(Buffer.concat([crc, body])) : Buffer.concat([crc, body]);
  return Buffer.concat([u32(4 + command.length + rest.length), u32(command.length), command, rest]);
}

function metadata(extra?: (w: ProtoWriter) => void): Buffer {
  const w = new ProtoWriter();
  w.string(1, 'hostile').uint(2, 0).uint(3, 1);
  extra?.(w);
  return w.finish();
}

const healthy = (entryId: number) => messageFrame(entryId, metadata(), Buffer.from('healthy'));

async function scriptedBroker(script: Script): Promise<{ url: string; seen: Seen }> {
  const seen: Seen = { connects: 0, acks: [], flows: [] };
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const send = (type: number, body: Parameters<typeof simpleFrame>[0]) => socket.write(simpleFrame((w) => w.uint(1, type).message(type, body)));
    let delivered = false;
    const decoder = new FrameDecoder((frame) => {
      const base = fields(frame.command);
      const type = base.get(1) as number;
      const body = fields(base.get(type) as Buffer);
      switch (type) {
        case CommandType.CONNECT:
          seen.connects++;
          send(CommandType.CONNECTED, (c) => c.string(1, 'scripted').int32(2, 19));
          return;
        case CommandType.PARTITIONED_METADATA:
          send(CommandType.PARTITIONED_METADATA_RESPONSE, (c) => c.uint(1, 0).uint(2, body.get(2) as number).uint(3, 0));
          return;
        case CommandType.LOOKUP:
          send(CommandType.LOOKUP_RESPONSE, (c) => c.string(1, `pulsar://127.0.0.1:${(server.address() as net.AddressInfo).port}`).uint(3, 1).uint(4, body.get(2) as number));
          return;
        case CommandType.SUBSCRIBE:
          send(CommandType.SUCCESS, (c) => c.uint(1, body.get(5) as number));
          return;
        case CommandType.CLOSE_CONSUMER:
          send(CommandType.SUCCESS, (c) => c.uint(1, body.get(2) as number));
          return;
        case CommandType.FLOW:
          seen.flows.push(body.get(2) as number);
          if (!delivered) {
            delivered = true;
            for (const d of script.deliveries) socket.write(d);
          }
          return;
        case CommandType.ACK: {
          const id = fields(body.get(3) as Buffer);
          seen.acks.push({ ledgerId: id.get(1) as number, entryId: id.get(2) as number, ...(id.has(4) ? { batchIndex: id.get(4) as number } : {}) });
          send(CommandType.ACK_RESPONSE, (c) => c.uint(1, 0).uint(6, body.get(8) as number));
          return;
        }
        default:
      }
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `pulsar://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

const batch = (n: number) => metadata((w) => w.int32(11, n));

describe('malformed entries', () => {
  it.each<[string, Buffer, RegExp, number]>([
    ['a checksum that does not match', messageFrame(1, metadata(), Buffer.from('abc'), (s) => { s[s.length - 1]! ^= 0xff; return s; }), /payload checksum mismatch/, 1],
    ['num_messages_in_batch 2147483647 and an empty payload', messageFrame(1, batch(2 ** 31 - 1), Buffer.alloc(0)), /num_messages_in_batch 2147483647 does not fit a payload of 0 bytes/, 2 ** 31 - 1],
    ['a negative num_messages_in_batch', messageFrame(1, batch(-1), Buffer.alloc(12)), /num_messages_in_batch -1 does not fit/, 1],
    ['num_messages_in_batch beyond the cap in a large payload', messageFrame(1, batch(100_001), Buffer.alloc(700_000)), /num_messages_in_batch 100001 does not fit a payload of 700000 bytes \(1 to 100000 would\)/, 100_001],
    ['a batch entry whose metadata overruns the payload', messageFrame(1, batch(1), Buffer.concat([u32(99), Buffer.alloc(4)])), /metadata of batch message 0 \(99 bytes\) exceeds the payload/, 1],
    ['a batch entry whose metadata is no protobuf', messageFrame(1, batch(1), Buffer.concat([u32(2), Buffer.from([0xff, 0xff]), Buffer.alloc(4)])), /unreadable metadata of batch message 0/, 1],
    ['metadata that is no protobuf', messageFrame(1, Buffer.from([0x0a, 0x7f]), Buffer.alloc(4)), /unreadable message metadata/, 1],
    ['a metadata size beyond the frame', messageFrame(1, metadata(), Buffer.alloc(0), (s) => { s.writeUInt32BE(1_000_000, 6); s.writeUInt32BE(crc32c(s, 6), 2); return s; }), /metadata size 1000000 exceeds the frame/, 1],
    ['ZSTD compression', messageFrame(1, metadata((w) => w.uint(8, 3)), Buffer.from('zstd?')), /compressed with ZSTD/, 1],
  ])('hands %s to the consumer as malformed, keeps the connection, and delivers the next', async (_name, bad, reason, claimed) => {
    const broker = await scriptedBroker({ deliveries: [bad, healthy(2)] });
    const client = createClient({ serviceUrl: broker.url, operationTimeoutMs: 5_000 });
    try {
      const consumer = await client.subscribe({ topic: 'hostile', subscription: 's', type: 'Shared', receiverQueueSize: 10 });
      const first = await consumer.receive(5_000);
      expect(first.malformed).toMatch(reason);
      expect(first.messageId).toMatchObject({ ledgerId: 7n, entryId: 1n, batchIndex: -1 });
      const second = await consumer.receive(5_000);
      expect(second.malformed).toBeUndefined();
      expect(Buffer.from(second.payload).toString()).toBe('healthy');
      await consumer.ack(first);
      await consumer.ack(second);
      expect(broker.seen.connects).toBe(1);
      expect(broker.seen.acks).toEqual([{ ledgerId: 7, entryId: 1 }, { ledgerId: 7, entryId: 2 }]);
      // The permits the broker took for what the metadata claimed all came back (initial 10, then the rest).
      await expect.poll(() => broker.seen.flows.reduce((a, b) => a + b, 0) - 10).toBeGreaterThanOrEqual(claimed - 1);
      expect(broker.seen.flows.every((n) => n <= 2 ** 31 - 1)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('delivers a message without the optional magic number and checksum as a healthy one', async () => {
    const bare = messageFrame(1, metadata((w) => w.keyValues(4, { k: 'v' })), Buffer.from('bare'), (s) => s.subarray(6));
    const broker = await scriptedBroker({ deliveries: [bare] });
    const client = createClient({ serviceUrl: broker.url, operationTimeoutMs: 5_000 });
    try {
      const consumer = await client.subscribe({ topic: 'hostile', subscription: 's' });
      const m = await consumer.receive(5_000);
      expect(m.malformed).toBeUndefined();
      expect(Buffer.from(m.payload).toString()).toBe('bare');
      expect(m.properties).toEqual({ k: 'v' });
    } finally {
      await client.close();
    }
  });
});

describe('the frame size a broker announces', () => {
  it(`accepts at most ${MAX_ACCEPTED_MESSAGE_SIZE / 2 ** 20} MiB however large the announced max_message_size`, async () => {
    // CONNECTED announces 2 GiB; the next frame claims 100 MiB: refused at its header, not buffered.
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      let n = 0;
      socket.on('data', () => {
        if (n++ === 0) socket.write(simpleFrame((w) => w.uint(1, CommandType.CONNECTED).message(CommandType.CONNECTED, (c) => c.string(1, 'big').int32(2, 19).int32(3, 2 ** 31 - 1))));
        else socket.write(Buffer.concat([u32(100 * 2 ** 20), Buffer.alloc(1024)]));
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = createClient({ serviceUrl: `pulsar://127.0.0.1:${(server.address() as net.AddressInfo).port}`, operationTimeoutMs: 5_000 });
    try {
      const started = Date.now();
      const err = await client.createProducer({ topic: 'big' }).then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'ProtocolError', message: expect.stringMatching(new RegExp(`frame size 104857600 out of range \\(max ${MAX_ACCEPTED_MESSAGE_SIZE + 10 * 1024}\\)`)) });
      expect(Date.now() - started).toBeLessThan(4_000);
    } finally {
      await client.close();
    }
  });
});
