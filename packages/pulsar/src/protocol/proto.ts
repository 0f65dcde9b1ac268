// Minimal protobuf (proto2) wire codec: just the scalar kinds PulsarApi.proto uses.
// The writer grows one reusable buffer so hot paths encode without per-field allocations.
import { ProtocolError } from '../errors.ts';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const TWO_32 = 4294967296;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 512) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  /** The encoded bytes; a view that the next reset() overwrites. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy that outlives the writer. */
  finish(): Buffer {
    return Buffer.from(this.view());
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Unsigned varint for integers in [0, 2^53). */
  private rawVarint(n: number): void {
    this.ensure(10);
    const b = this.buf;
    while (n >= 0x80) {
      b[this.pos++] = (n & 0x7f) | 0x80;
      n = n >= 0x80000000 ? Math.floor(n / 128) : n >>> 7;
    }
    b[this.pos++] = n;
  }

  private rawVarint64(v: bigint): void {
    // Sequence ids and ledger positions: non-negative and well under 2^53, every message.
    if (v >= 0n && v <= MAX_SAFE) {
      this.rawVarint(Number(v));
      return;
    }
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  uint(field: number, n: number): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(n);
    return this;
  }

  int32(field: number, n: number): this {
    this.tag(field, WIRE_VARINT);
    if (n >= 0) this.rawVarint(n);
    else this.rawVarint64(BigInt(n));
    return this;
  }

  uint64(field: number, v: bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint64(v);
    return this;
  }

  bool(field: number, v: boolean): this {
    this.tag(field, WIRE_VARINT);
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
    return this;
  }

  string(field: number, s: string): this {
    this.tag(field, WIRE_LEN);
    // Short ASCII strings (every message property the relay sends) are copied char by char:
    // byteLength + write are two native calls per string, which cost more than the copy.
    if (s.length < 0x80) {
      this.ensure(s.length + 1);
      const b = this.buf;
      let p = this.pos + 1;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === s.length) {
        b[this.pos] = s.length;
        this.pos = p;
        return this;
      }
    }
    const len = Buffer.byteLength(s);
    this.rawVarint(len);
    this.ensure(len);
    this.buf.write(s, this.pos, len, 'utf8');
    this.pos += len;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }

  /** A nested message, encoded in place; the length prefix is fixed up once the body size is known. */
  message(field: number, body: (w: this) => void): this {
    const lenPos = this.openNested(field);
    body(this);
    return this.closeNested(lenPos);
  }

  /**
   * Repeated KeyValue { key = 1; value = 2 }: message properties, ten or more per message on
   * the relay's hot path, encoded without a closure each.
   */
  keyValues(field: number, props: Record<string, string> | undefined): this {
    if (!props) return this;
    for (const key in props) {
      const lenPos = this.openNested(field);
      this.string(1, key).string(2, props[key]!);
      this.closeNested(lenPos);
    }
    return this;
  }

  private openNested(field: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(1);
    return this.pos++;
  }

  private closeNested(lenPos: number): this {
    const start = lenPos + 1;
    const len = this.pos - start;
    const lenBytes = varintSize(len);
    if (lenBytes > 1) {
      this.ensure(lenBytes - 1);
      this.buf.copyWithin(start + lenBytes - 1, start, this.pos);
      this.pos += lenBytes - 1;
    }
    const end = this.pos;
    this.pos = lenPos;
    this.rawVarint(len);
    this.pos = end;
    return this;
  }
}

export class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;
  private lo = 0;
  private hi = 0;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new ProtocolError('truncated protobuf field');
    return this.buf[this.pos++]!;
  }

  // Splits the varint into two 32-bit halves so 64-bit values decode exactly without BigInt on the common path.
  private varint(): void {
    let lo = 0;
    let hi = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo;
        this.hi = 0;
        return;
      }
    }
    b = this.byte();
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw new ProtocolError('malformed varint');
        b = this.byte();
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) break;
      }
    }
    this.lo = lo;
    this.hi = hi;
  }

  /** Field number and wire type of the next field. */
  tag(): [field: number, wire: number] {
    this.varint();
    const t = this.lo >>> 0;
    const field = t >>> 3;
    if (field === 0) throw new ProtocolError('protobuf field number 0');
    return [field, t & 7];
  }

  uint32(): number {
    this.varint();
    return this.lo >>> 0;
  }

  int32(): number {
    this.varint();
    return this.lo | 0;
  }

  /** uint64 as a number, for ids this client generates (always below 2^53). */
  uint53(): number {
    this.varint();
    return (this.hi >>> 0) * TWO_32 + (this.lo >>> 0);
  }

  uint64(): bigint {
    this.varint();
    if (this.hi === 0) return BigInt(this.lo >>> 0);
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }

  int64(): bigint {
    return BigInt.asIntN(64, this.uint64());
  }

  bool(): boolean {
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  private span(): [number, number] {
    const len = this.uint32();
    const start = this.pos;
    if (start + len > this.end) throw new ProtocolError('protobuf length exceeds message');
    this.pos = start + len;
    return [start, start + len];
  }

  bytes(): Buffer {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    const [s, e] = this.span();
    return this.buf.toString('utf8', s, e);
  }

  sub(): ProtoReader {
    const [s, e] = this.span();
    return new ProtoReader(this.buf, s, e);
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.span();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new ProtocolError(`unsupported protobuf wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtocolError('truncated protobuf field');
    this.pos += n;
  }
}
