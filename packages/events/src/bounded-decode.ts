// Avro decoding of payloads that come from the network. avsc 5.7.9 trusts the counts it reads:
// ArrayType._read allocates `new Array(n)` for a block count n read from the message, and a
// map's read loop runs n times before it notices the bytes ran out, so five bytes can claim
// 2^40 items and exhaust the process's memory or pin its CPU. Every payload a consumer reads is
// therefore walked first, as the writer schema reads it but without building values, checking
// each block count and each string, bytes and fixed length against the bytes left; only a
// payload that passes reaches avsc (packages/events/test/bounded-decode.test.ts).
import type avro from 'avsc';

export class MalformedAvroError extends Error {
  readonly code = 'MALFORMED_AVRO';
  constructor(message: string) {
    super(message);
    this.name = 'MalformedAvroError';
  }
}

/** Items of a zero-byte type (null, an empty record) that one payload may hold: no byte count bounds them. */
export const MAX_ZERO_WIDTH_ITEMS = 10_000;
/** Nesting of arrays, maps, records and unions a payload may reach (a recursive schema recurses no deeper). */
export const MAX_DEPTH = 256;

interface Walk {
  buf: Buffer;
  pos: number;
  zeroWidthItems: number;
  /** Whether field paths are built: only on a second walk, once the first has failed, to name the place. */
  named: boolean;
}

/** Thrown by an unnamed walk: the payload is malformed, and a named walk says where. */
const UNNAMED = new Error('malformed');

function fail(w: Walk, path: string, what: string): never {
  if (!w.named) throw UNNAMED;
  throw new MalformedAvroError(`malformed Avro at ${path || 'the top level'}: ${what} (byte ${w.pos})`);
}

const at = (w: Walk, path: string, name: string) => (w.named ? (path ? `${path}.${name}` : name) : '');
const item = (w: Walk, path: string, index: number) => (w.named ? `${path}[${index}]` : '');

/** A zigzag varint as a number (exact below 2^53, which is all a count or length may be here). */
function readLong(w: Walk, path: string): number {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (w.pos >= w.buf.length) fail(w, path, 'the bytes end inside a number');
    const b = w.buf[w.pos++]!;
    n += (b & 0x7f) * scale;
    if (b < 0x80) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    scale *= 128;
  }
  fail(w, path, 'a number longer than 10 bytes');
}

function need(w: Walk, path: string, n: number, what: string): void {
  if (n < 0 || n > w.buf.length - w.pos) fail(w, path, `${what} of ${n} bytes, but ${w.buf.length - w.pos} are left`);
}

const minSizes = new WeakMap<avro.Type, number>();

/** The fewest bytes a value of the type takes: how many items of it the bytes left can hold. */
function minSizeOf(type: avro.Type): number {
  let n = minSizes.get(type);
  if (n === undefined) {
    n = minSize(type);
    minSizes.set(type, n);
  }
  return n;
}

function minSize(type: avro.Type, seen = new Set<avro.Type>()): number {
  switch (type.typeName) {
    case 'null': return 0;
    case 'float': return 4;
    case 'double': return 8;
    case 'fixed': return (type as avro.types.FixedType).size;
    case 'record':
    case 'error': {
      if (seen.has(type)) return 1; // a recursive record holds at least its union branch index
      seen.add(type);
      return (type as avro.types.RecordType).fields.reduce((sum, f) => sum + minSize(f.type, seen), 0);
    }
    default:
      if (type.typeName.startsWith('logical:')) return minSize((type as avro.types.LogicalType).underlyingType, seen);
      return 1; // every other type starts with at least one byte (a value, a length, a count, an index)
  }
}

function walk(w: Walk, type: avro.Type, path: string, depth: number): void {
  if (depth > MAX_DEPTH) fail(w, path, `nested deeper than ${MAX_DEPTH}`);
  const name = type.typeName;
  switch (name) {
    case 'null':
      return;
    case 'boolean':
      need(w, path, 1, 'a boolean');
      w.pos += 1;
      return;
    case 'int':
    case 'long':
      readLong(w, path);
      return;
    case 'float':
      need(w, path, 4, 'a float');
      w.pos += 4;
      return;
    case 'double':
      need(w, path, 8, 'a double');
      w.pos += 8;
      return;
    case 'string':
    case 'bytes': {
      const len = readLong(w, path);
      need(w, path, len, `a ${name}`);
      w.pos += len;
      return;
    }
    case 'fixed': {
      const size = (type as avro.types.FixedType).size;
      need(w, path, size, 'a fixed');
      w.pos += size;
      return;
    }
    case 'enum': {
      const i = readLong(w, path);
      const symbols = (type as avro.types.EnumType).symbols;
      if (i < 0 || i >= symbols.length) fail(w, path, `enum index ${i} of ${symbols.length} symbols`);
      return;
    }
    case 'union:wrapped':
    case 'union:unwrapped': {
      const i = readLong(w, path);
      const branches = (type as avro.types.UnwrappedUnionType).types;
      if (i < 0 || i >= branches.length) fail(w, path, `union branch ${i} of ${branches.length}`);
      walk(w, branches[i]!, path, depth + 1);
      return;
    }
    case 'record':
    case 'error':
      for (const f of (type as avro.types.RecordType).fields) walk(w, f.type, at(w, path, f.name), depth + 1);
      return;
    case 'array':
      blocks(w, (type as avro.types.ArrayType).itemsType, undefined, path, depth);
      return;
    case 'map':
      blocks(w, (type as avro.types.MapType).valuesType, 'key', path, depth);
      return;
    default:
      if (name.startsWith('logical:')) {
        walk(w, (type as avro.types.LogicalType).underlyingType, path, depth);
        return;
      }
      fail(w, path, `type ${name} is not read from untrusted bytes`);
  }
}

/** Array items or map entries, in blocks: [count][items…] until a count of 0; a negative count is followed by the block's byte size. */
function blocks(w: Walk, items: avro.Type, key: 'key' | undefined, path: string, depth: number): void {
  const itemMin = minSizeOf(items) + (key ? 1 : 0);
  for (let index = 0; ;) {
    let n = readLong(w, path);
    if (n === 0) return;
    if (n < 0) {
      n = -n;
      const size = readLong(w, path);
      need(w, path, size, `a block of ${n} items`);
    }
    if (itemMin > 0) {
      const left = w.buf.length - w.pos;
      if (n > left / itemMin) fail(w, path, `a block of ${n} items, but the ${left} bytes left hold at most ${Math.floor(left / itemMin)}`);
    } else {
      w.zeroWidthItems += n;
      if (w.zeroWidthItems > MAX_ZERO_WIDTH_ITEMS) fail(w, path, `more than ${MAX_ZERO_WIDTH_ITEMS} items of a zero-byte type`);
    }
    for (let i = 0; i < n; i++, index++) {
      const here = item(w, path, index);
      if (key) {
        const len = readLong(w, here);
        need(w, here, len, 'a map key');
        w.pos += len;
      }
      walk(w, items, here, depth + 1);
    }
  }
}

/** Throws MalformedAvroError unless the bytes read as `writer` without any count or length overrunning them. */
export function checkAvroBounds(writer: avro.Type, buf: Buffer): void {
  try {
    walk({ buf, pos: 0, zeroWidthItems: 0, named: false }, writer, '', 0);
  } catch (e) {
    if (e !== UNNAMED) throw e;
    walk({ buf, pos: 0, zeroWidthItems: 0, named: true }, writer, '', 0);
  }
}

/**
 * Decodes bytes that came from the network: bounds first, then avsc. With a resolver the bytes
 * are the writer's (the resolver's source schema), which is what is walked.
 */
export function decodeUntrusted(reader: avro.Type, bytes: Uint8Array, writer?: avro.Type): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkAvroBounds(writer ?? reader, buf);
  return writer ? reader.fromBuffer(buf, reader.createResolver(writer)) : reader.fromBuffer(buf);
}
