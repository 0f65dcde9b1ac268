// Pulsar framing:
//   simple:  [total u32][cmdSize u32][BaseCommand]
//   payload: [total u32][cmdSize u32][BaseCommand][0x0e01][crc32c u32][metaSize u32][MessageMetadata][payload]
// (an optional [0x0e02][size u32][BrokerEntryMetadata] may precede the 0x0e01 section). The CRC covers
// everything after the checksum field. The magic number and checksum are optional: a producer may
// send [metaSize u32][MessageMetadata][payload] alone, and the broker stores and delivers it so.
import { ProtocolError } from '../errors.ts';
import { crc32c } from './crc32c.ts';
import { ProtoWriter } from './proto.ts';

const MAGIC_CRC32C = 0x0e01;
const MAGIC_BROKER_ENTRY_METADATA = 0x0e02;
/** Pulsar's default maxMessageSize (5 MiB) plus the 10 KiB the Java client allows for framing. */
export const DEFAULT_MAX_FRAME_SIZE = 5 * 1024 * 1024 + 10 * 1024;
export const FRAME_PADDING = 10 * 1024;

// Encoding is synchronous and single-threaded, so one pair of scratch writers serves every frame:
// commands and metadata are encoded into them and copied once into the frame buffer.
const cmdWriter = new ProtoWriter(1024);
const metaWriter = new ProtoWriter(4096);

export function simpleFrame(build: (w: ProtoWriter) => void): Buffer {
  const w = cmdWriter.reset();
  build(w);
  const n = w.pos;
  const out = Buffer.allocUnsafe(8 + n);
  out.writeUInt32BE(4 + n, 0);
  out.writeUInt32BE(n, 4);
  w.buf.copy(out, 8, 0, n);
  return out;
}

/** One buffer for the whole frame; writePayload fills payloadSize bytes at the given offset. */
export function payloadFrame(
  buildCommand: (w: ProtoWriter) => void,
  buildMetadata: (w: ProtoWriter) => void,
  payloadSize: number,
  writePayload: (out: Buffer, offset: number) => void,
): Buffer {
  const c = cmdWriter.reset();
  buildCommand(c);
  const cn = c.pos;
  const m = metaWriter.reset();
  buildMetadata(m);
  const mn = m.pos;
  const total = 4 + cn + 10 + mn + payloadSize;
  const out = Buffer.allocUnsafe(4 + total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(cn, 4);
  c.buf.copy(out, 8, 0, cn);
  const magicPos = 8 + cn;
  out.writeUInt16BE(MAGIC_CRC32C, magicPos);
  out.writeUInt32BE(mn, magicPos + 6);
  m.buf.copy(out, magicPos + 10, 0, mn);
  writePayload(out, magicPos + 10 + mn);
  out.writeUInt32BE(crc32c(out, magicPos + 6, out.length), magicPos + 2);
  return out;
}

export interface Frame {
  command: Buffer;
  metadata?: Buffer;
  /** Everything after the metadata; when `invalid` is set, the whole payload section as received. */
  payload?: Buffer;
  /**
   * Why the payload section cannot be read (checksum mismatch, sizes that do not fit). The frame
   * itself is intact — its length came from the frame header — so only this one message is bad,
   * not the connection: the consumer hands it on as a poison message (consumer.ts).
   */
  invalid?: string;
}

/** The largest frame a broker may announce in CONNECTED: a frame is buffered whole before it is read. */
export const MAX_ACCEPTED_MESSAGE_SIZE = 64 * 1024 * 1024;

export function parseFrame(frame: Buffer): Frame {
  if (frame.length < 4) throw new ProtocolError('frame shorter than its command size field');
  const cmdSize = frame.readUInt32BE(0);
  if (cmdSize === 0 || 4 + cmdSize > frame.length) throw new ProtocolError(`command size ${cmdSize} does not fit frame of ${frame.length}`);
  const command = frame.subarray(4, 4 + cmdSize);
  const p = 4 + cmdSize;
  if (p === frame.length) return { command };
  const section = frame.subarray(p);
  const invalid = (reason: string): Frame => ({ command, payload: section, invalid: reason });
  let q = 0;
  if (section.length >= 6 && section.readUInt16BE(0) === MAGIC_BROKER_ENTRY_METADATA) {
    const size = section.readUInt32BE(2);
    if (6 + size > section.length) return invalid(`broker entry metadata of ${size} bytes exceeds the frame`);
    q = 6 + size;
  }
  // Without a checksum the section starts with the metadata size, whose first two bytes could only
  // read 0x0e01 for metadata of 235 MB, beyond any frame accepted (MAX_ACCEPTED_MESSAGE_SIZE).
  if (section.length - q >= 2 && section.readUInt16BE(q) === MAGIC_CRC32C) {
    if (section.length - q < 10) return invalid('truncated checksum section');
    const expected = section.readUInt32BE(q + 2);
    const actual = crc32c(section, q + 6, section.length);
    if (expected !== actual) return invalid(`payload checksum mismatch (got 0x${actual.toString(16)}, the message says 0x${expected.toString(16)})`);
    q += 6;
  }
  if (section.length - q < 4) return invalid('payload section shorter than its metadata size field');
  const metaSize = section.readUInt32BE(q);
  const metaStart = q + 4;
  if (metaStart + metaSize > section.length) return invalid(`metadata size ${metaSize} exceeds the frame`);
  return {
    command,
    metadata: section.subarray(metaStart, metaStart + metaSize),
    payload: section.subarray(metaStart + metaSize),
  };
}

/**
 * Reassembles frames from socket chunks. Chunks are only concatenated once a frame is known to be
 * complete, so a large frame spread over many reads is copied once. Throws ProtocolError on bad input.
 */
export class FrameDecoder {
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private readonly onFrame: (f: Frame) => void;
  private parts: Buffer[] = [];
  private buffered = 0;
  private need = 4;

  constructor(onFrame: (f: Frame) => void) {
    this.onFrame = onFrame;
  }

  /** Bytes of an incomplete frame are waiting: the stream ended mid-frame if it closes now. */
  get hasPartialFrame(): boolean {
    return this.buffered > 0;
  }

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.need) return;
    const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.buffered);
    this.parts = [];
    this.buffered = 0;
    this.need = 4;
    let off = 0;
    while (buf.length - off >= 4) {
      const size = buf.readUInt32BE(off);
      if (size < 4 || size > this.maxFrameSize) throw new ProtocolError(`frame size ${size} out of range (max ${this.maxFrameSize})`);
      if (buf.length - off - 4 < size) {
        this.need = 4 + size;
        break;
      }
      const frame = buf.subarray(off + 4, off + 4 + size);
      off += 4 + size;
      this.onFrame(parseFrame(frame));
    }
    if (off < buf.length) {
      this.parts.push(buf.subarray(off));
      this.buffered = buf.length - off;
    }
  }
}
