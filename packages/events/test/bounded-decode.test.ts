// Avro payloads crafted to claim more than they hold: each is refused with MalformedAvroError
// before avsc allocates or loops on a count read from the bytes; valid payloads still decode.
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  MalformedAvroError, TOPIC_SCHEMAS, TOPICS, checkAvroBounds, decodeEvent, decodeUntrusted, encodeEvent, toIntegrationEvent,
} from '../src/index.ts';

/** Avro's zigzag varint of any integer (BigInt so counts past 2^53 can be written). */
function long(n: number | bigint): Buffer {
  let z = BigInt(n) >= 0n ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n;
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}
const str = (s: string) => Buffer.concat([long(Buffer.byteLength(s)), Buffer.from(s)]);
const bytes = (...parts: Buffer[]) => Buffer.concat(parts);

const type = avro.Type.forSchema({
  type: 'record', name: 'Crafted', fields: [
    { name: 'id', type: 'string' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'attrs', type: { type: 'map', values: 'string' } },
    { name: 'blob', type: 'bytes' },
    { name: 'matrix', type: { type: 'array', items: { type: 'array', items: 'long' } } },
    { name: 'index', type: { type: 'map', values: { type: 'array', items: 'string' } } },
    { name: 'nothing', type: { type: 'array', items: 'null' } },
    { name: 'next', type: ['null', 'Crafted'], default: null },
  ],
});

// The field prefix before each field, every earlier field empty.
const before = {
  tags: str('x'),
  attrs: bytes(str('x'), long(0)),
  blob: bytes(str('x'), long(0), long(0)),
  matrix: bytes(str('x'), long(0), long(0), long(0)),
  index: bytes(str('x'), long(0), long(0), long(0), long(0)),
  nothing: bytes(str('x'), long(0), long(0), long(0), long(0), long(0)),
};
const empty = bytes(before.nothing, long(0), long(0));

describe('bounded Avro decoding', () => {
  it.each<[string, Buffer, RegExp]>([
    ['an array claiming 2^40 items in no bytes', bytes(before.tags, long(2 ** 40)), /tags: a block of 1099511627776 items, but the 0 bytes left hold at most 0/],
    ['an array claiming 2^31 - 1 items', bytes(before.tags, long(2 ** 31 - 1), str('a')), /tags: a block of 2147483647 items/],
    ['an array block with a negative count and a huge byte size', bytes(before.tags, long(-(2 ** 40)), long(2 ** 50)), /tags: a block of 1099511627776 items of 1125899906842624 bytes/],
    ['an array count of 2^63 (past 2^53)', bytes(before.tags, long(2n ** 62n)), /tags: a block of/],
    ['a map claiming 2^40 entries', bytes(before.attrs, long(2 ** 40)), /attrs: a block of 1099511627776 items/],
    ['a map that ends before its second entry', bytes(before.attrs, long(2), str('k'), str('v')), /attrs\[1\]: the bytes end inside a number/],
    ['a string claiming 2^40 bytes', bytes(long(2 ** 40)), /id.*a string of 1099511627776 bytes, but 0 are left/],
    ['a string with a negative length', bytes(long(-5)), /id.*a string of -5 bytes/],
    ['bytes claiming 2^31 bytes', bytes(before.blob, long(2 ** 31)), /blob.*a bytes of 2147483648 bytes/],
    ['a map key claiming more than is left', bytes(before.attrs, long(1), long(100), Buffer.from('k')), /attrs\[0\].*a map key of 100 bytes/],
    ['an array inside an array claiming 2^40 items', bytes(before.matrix, long(1), long(2 ** 40)), /matrix\[0\]: a block of 1099511627776 items/],
    ['an array inside a map claiming 2^40 items', bytes(before.index, long(1), str('k'), long(2 ** 40)), /index\[0\]: a block of 1099511627776 items/],
    ['2^40 nulls (items no byte count bounds)', bytes(before.nothing, long(2 ** 40)), /nothing: more than 10000 items of a zero-byte type/],
    ['a union branch that does not exist', bytes(empty.subarray(0, -1), long(7)), /next: union branch 7 of 2/],
    ['a number that never ends', bytes(before.tags, Buffer.alloc(12, 0xff)), /a number longer than 10 bytes/],
    ['bytes that end inside a number', bytes(before.tags, Buffer.from([0x80])), /the bytes end inside a number/],
    ['a self-nesting record 300 deep', Buffer.concat([...Array.from({ length: 300 }, () => bytes(empty.subarray(0, -1), long(1))), empty]), /nested deeper than 256/],
  ])('refuses %s', (_name, payload, reason) => {
    const started = process.hrtime.bigint();
    expect(() => checkAvroBounds(type, payload)).toThrow(MalformedAvroError);
    expect(() => decodeUntrusted(type, payload)).toThrow(reason);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });

  it('decodes valid payloads as avsc does, blocks with byte sizes included', () => {
    const value = {
      id: 'x', tags: ['a', 'b'], attrs: { k: 'v' }, blob: Buffer.from([1, 2]), matrix: [[1, 2], []], index: { k: ['z'] },
      nothing: [null, null], next: { id: 'y', tags: [], attrs: {}, blob: Buffer.alloc(0), matrix: [], index: {}, nothing: [], next: null },
    };
    const buf = type.toBuffer(value);
    expect(decodeUntrusted(type, buf)).toEqual(type.fromBuffer(buf));
    // The same tags written as one block with a negative count and its byte size, as some writers do.
    const sized = bytes(before.tags, long(-2), long(4), str('a'), str('b'), long(0), bytes(long(0), long(0), long(0), long(0), long(0), long(0)));
    expect((decodeUntrusted(type, sized) as { tags: string[] }).tags).toEqual(['a', 'b']);
  });

  it('refuses the 5-byte-tail PartnerActualizado whose campos_actualizados claims 2^40 items (eventos-partners)', () => {
    const event = toIntegrationEvent({
      type: 'PartnerActualizado', partner_id: '7d0e3a52-0a57-4b8e-9d49-4b7a9c2f8e11', version: 2, nombre: 'Acme', email: 'a@acme.test',
      estado: 'ACTIVO', estado_kyc: 'PENDIENTE', campos_actualizados: [],
    }, '0b8f6a3e-6f5c-4f0e-a1f3-2e4b8c7d9a10', new Date(1_700_000_000_000));
    const valid = encodeEvent(TOPICS.partners, event);
    // campos_actualizados is the last field: its terminating 0 becomes a count of 2^40.
    const crafted = bytes(valid.subarray(0, -1), long(2 ** 40));
    expect(() => decodeEvent(TOPICS.partners, crafted)).toThrow(/data\.campos_actualizados: a block of 1099511627776 items/);
    expect(() => decodeEvent(TOPICS.partners, crafted, TOPIC_SCHEMAS[TOPICS.partners].json)).toThrow(MalformedAvroError);
    expect(decodeEvent(TOPICS.partners, valid)).toEqual(event);
  });
});
