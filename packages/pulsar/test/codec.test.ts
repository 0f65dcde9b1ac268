// Pure units: CRC32C, the protobuf wire codec, frame parsing, routing hash and message-id format.
import { describe, expect, it } from 'vitest';
import { formatMessageId, javaStringHash, parseMessageId, partitionForKey, PulsarError } from '../src/index.ts';
import { CommandType, decodeCommand, encodeSend } from '../src/protocol/commands.ts';
import { crc32c } from '../src/protocol/crc32c.ts';
import { FrameDecoder, parseFrame, payloadFrame, simpleFrame, type Frame } from '../src/protocol/frame.ts';
import { decodeEntryMetadata, encodeEntryMetadata } from '../src/protocol/metadata.ts';
import { ProtoReader, ProtoWriter } from '../src/protocol/proto.ts';

describe('crc32c', () => {
  it('matches the standard check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });

  it('checksums a sub-range the same as a copy of it', () => {
    const data = Buffer.from('xx123456789yy');
    expect(crc32c(data, 2, 11)).toBe(0xe3069283);
  });
});

describe('protobuf codec', () => {
  it('round-trips every scalar kind, including 64-bit and negative values', () => {
    const w = new ProtoWriter(4);
    w.uint(1, 300).int32(2, -1).uint64(3, 2n ** 64n - 1n).uint64(4, 2n ** 40n + 5n).bool(5, true)
      .string(6, 'héllo').bytes(7, Uint8Array.from([1, 2, 3])).uint(8, 2 ** 40 + 3);
    const r = new ProtoReader(w.finish());
    const seen: unknown[] = [];
    while (!r.done) {
      const [f] = r.tag();
      if (f === 1) seen.push(r.uint32());
      else if (f === 2) seen.push(r.int32());
      else if (f === 3) seen.push(r.int64());
      else if (f === 4) seen.push(r.uint64());
      else if (f === 5) seen.push(r.bool());
      else if (f === 6) seen.push(r.string());
      else if (f === 7) seen.push([...r.bytes()]);
      else if (f === 8) seen.push(r.uint53());
    }
    expect(seen).toEqual([300, -1, -1n, 2n ** 40n + 5n, true, 'héllo', [1, 2, 3], 2 ** 40 + 3]);
  });

  it('encodes strings byte for byte like Buffer, on both sides of the ASCII fast path', () => {
    const cases = ['', 'a', 'x'.repeat(127), 'x'.repeat(128), 'x'.repeat(126) + 'ñ', 'ñandú', 'ascii then 🚀', 'é'.repeat(100)];
    for (const s of cases) {
      const w = new ProtoWriter(2);
      w.string(1, s).uint(2, 9);
      const utf8 = Buffer.from(s, 'utf8');
      const expected = new ProtoWriter(2).bytes(1, utf8).uint(2, 9).finish();
      expect(w.finish().equals(expected), JSON.stringify(s)).toBe(true);
    }
  });

  it('fixes up nested length prefixes longer than one byte', () => {
    const w = new ProtoWriter(8);
    const long = 'x'.repeat(300);
    w.message(1, (m) => m.string(2, long)).uint(3, 7);
    const r = new ProtoReader(w.finish());
    expect(r.tag()[0]).toBe(1);
    const sub = r.sub();
    sub.tag();
    expect(sub.string()).toBe(long);
    expect(r.tag()[0]).toBe(3);
    expect(r.uint32()).toBe(7);
  });

  it('rejects truncated and malformed input with ProtocolError', () => {
    expect(() => decodeCommand(Buffer.from([0x08]))).toThrow(PulsarError);
    expect(() => decodeCommand(Buffer.from([0x08, 0x07, 0x3a, 0x50, 0x01]))).toThrow(/length exceeds/);
    expect(() => decodeCommand(Buffer.from([0x12, 0x00]))).toThrow(/without a type/);
    expect(() => decodeCommand(Buffer.from([0x0f]))).toThrow(/wire type/);
  });

  it('decodes what it encodes: SEND and MessageMetadata', () => {
    const frame = payloadFrame(
      (w) => encodeSend(w, 3, 10n, 2, 11n),
      (w) => encodeEntryMetadata(w, {
        producerName: 'p', sequenceId: 10n, publishTime: 1_700_000_000_000, numMessagesInBatch: 2, highestSequenceId: 11n,
        fields: { properties: { k: 'v' }, partitionKey: 'key', eventTime: 5 }, schemaVersion: Uint8Array.from([0, 1]),
      }),
      3, (out, off) => out.set([9, 8, 7], off));
    const parsed = parseFrame(frame.subarray(4));
    expect(decodeCommand(parsed.command).type).toBe(CommandType.SEND);
    const meta = decodeEntryMetadata(parsed.metadata!);
    expect(meta).toMatchObject({
      producerName: 'p', sequenceId: 10n, publishTime: 1_700_000_000_000, numMessagesInBatch: 2, highestSequenceId: 11n,
      properties: { k: 'v' }, partitionKey: 'key', eventTime: 5,
    });
    expect([...meta.schemaVersion!]).toEqual([0, 1]);
    expect([...parsed.payload!]).toEqual([9, 8, 7]);
  });
});

describe('frame decoder', () => {
  const ping = simpleFrame((w) => w.uint(1, CommandType.PING).message(18, () => {}));
  const msg = payloadFrame((w) => encodeSend(w, 1, 1n, 1, 1n), (w) => encodeEntryMetadata(w, { producerName: 'p', sequenceId: 1n, publishTime: 1 }),
    4, (out, off) => out.set([1, 2, 3, 4], off));

  function collect(chunks: Buffer[]): Frame[] {
    const frames: Frame[] = [];
    const d = new FrameDecoder((f) => frames.push(f));
    for (const c of chunks) d.push(c);
    return frames;
  }

  it('reassembles frames split at every byte boundary', () => {
    const stream = Buffer.concat([ping, msg, ping]);
    for (let cut = 1; cut < stream.length; cut++) {
      const frames = collect([stream.subarray(0, cut), stream.subarray(cut)]);
      expect(frames.map((f) => decodeCommand(f.command).type)).toEqual([CommandType.PING, CommandType.SEND, CommandType.PING]);
    }
    const bytewise = collect([...stream].map((b) => Buffer.from([b])));
    expect(bytewise).toHaveLength(3);
  });

  it('reads a payload section without the optional magic number and checksum', () => {
    // [size][cmdSize][cmd][0x0e01][crc][metaSize]… without its 6 bytes of magic and checksum.
    const magicAt = 8 + msg.readUInt32BE(4);
    const bare = Buffer.concat([msg.subarray(0, magicAt), msg.subarray(magicAt + 6)]);
    bare.writeUInt32BE(bare.length - 4, 0);
    const [withCrc] = collect([msg]);
    const [without] = collect([bare]);
    expect(without!.invalid).toBeUndefined();
    expect(decodeEntryMetadata(without!.metadata!)).toEqual(decodeEntryMetadata(withCrc!.metadata!));
    expect([...without!.payload!]).toEqual([1, 2, 3, 4]);
  });

  it('marks a message whose checksum or sizes do not hold as invalid, keeping the connection', () => {
    const badCrc = Buffer.from(msg);
    badCrc[badCrc.length - 1]! ^= 0xff;
    expect(collect([badCrc, ping]).map((f) => f.invalid)).toEqual([expect.stringMatching(/checksum mismatch/), undefined]);
    // Another magic is no checksum: its bytes then read as a metadata size far beyond the frame.
    const badMagic = Buffer.from(msg);
    badMagic.writeUInt16BE(0xbeef, 8 + msg.readUInt32BE(4));
    expect(collect([badMagic])[0]!.invalid).toMatch(/metadata size \d+ exceeds the frame/);
    const entryMeta = Buffer.concat([msg.subarray(0, 8 + msg.readUInt32BE(4)), Buffer.from([0x0e, 0x02, 0x7f, 0xff, 0xff, 0xff])]);
    entryMeta.writeUInt32BE(entryMeta.length - 4, 0);
    expect(collect([entryMeta])[0]!.invalid).toMatch(/broker entry metadata of \d+ bytes exceeds the frame/);
  });

  it('rejects an absurd frame size and a command that does not fit its frame', () => {
    expect(() => collect([Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0])])).toThrow(/out of range/);
    expect(() => collect([Buffer.from([0, 0, 0, 6, 0, 0, 0, 9, 0, 0])])).toThrow(/does not fit/);
  });

  it('reports a partial frame so a closed stream is a truncation, not a clean end', () => {
    const d = new FrameDecoder(() => {});
    d.push(msg.subarray(0, 10));
    expect(d.hasPartialFrame).toBe(true);
  });
});

describe('routing', () => {
  // Vectors from java.lang.String.hashCode() on a JDK.
  it('hashes like Java String.hashCode (UTF-16 code units)', () => {
    expect(javaStringHash('')).toBe(0);
    expect(javaStringHash('a')).toBe(97);
    expect(javaStringHash('hello')).toBe(99162322);
    expect(javaStringHash('order-42')).toBe(1234255197);
    expect(javaStringHash('polygenelubricants')).toBe(-2147483648);
    expect(javaStringHash('ñandú')).toBe(225567348);
    expect(javaStringHash('\u{1F600}key')).toBe(1276932636);
    expect(javaStringHash('partner:ACME-001')).toBe(-1869562480);
  });

  it('picks partitions like the Java client default router', () => {
    expect(partitionForKey('hello', 4)).toBe(2);
    expect(partitionForKey('a', 7)).toBe(6);
    expect(partitionForKey('order-42', 4)).toBe(1);
    expect(partitionForKey('polygenelubricants', 4)).toBe(0);
    expect(partitionForKey('ñandú', 7)).toBe(6);
  });
});

describe('message ids', () => {
  it('format and parse round-trip', () => {
    const id = { ledgerId: 123n, entryId: 45n, partition: 2, batchIndex: 7 };
    expect(formatMessageId(id)).toBe('123:45:2:7');
    expect(parseMessageId('123:45:2:7')).toEqual(id);
    expect(parseMessageId(formatMessageId({ ledgerId: -1n, entryId: -1n, partition: -1, batchIndex: -1 })))
      .toEqual({ ledgerId: -1n, entryId: -1n, partition: -1, batchIndex: -1 });
    expect(() => parseMessageId('1:2:3')).toThrow(PulsarError);
  });
});
