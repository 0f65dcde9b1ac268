import { describe, expect, it } from 'vitest';
import type { ClaimedRow } from '@relevo/db/sql';
import { splitAtBrokerFloor } from '../src/drain.ts';

const row = (seq: number, topic: string): ClaimedRow => ({
  id: BigInt(seq), event_id: `e${seq}`, aggregate_id: `p${seq % 3}`, aggregate_version: 1, event_type: 'PartnerActualizado', topic,
  payload: {}, schema_fingerprint: 'f', headers: {}, occurred_at: new Date(0), attempts: 0, publish_sequence: BigInt(seq),
});

describe('rows in hand re-sent after a stop', () => {
  it('go out in two parts, never one batch: those the broker has for their producer, then the rest, each in sequence order', () => {
    const rows = [row(7, 'a'), row(3, 'b'), row(5, 'a'), row(1, 'a'), row(4, 'b'), row(6, 'b'), row(2, 'a')];
    const parts = splitAtBrokerFloor(rows, new Map([['a', 5n], ['b', 3n]]));
    expect(parts.map((p) => p.map((r) => `${r.topic}${r.publish_sequence}`))).toEqual([
      ['a1', 'a2', 'b3', 'a5'],
      ['b4', 'b6', 'a7'],
    ]);
  });

  it('is one part when the broker has none or all of them, or does not deduplicate (no sequence known)', () => {
    const rows = [row(2, 'a'), row(1, 'a')];
    expect(splitAtBrokerFloor(rows, new Map()).map((p) => p.length)).toEqual([2]);
    expect(splitAtBrokerFloor(rows, new Map([['a', -1n]])).map((p) => p.length)).toEqual([2]);
    expect(splitAtBrokerFloor(rows, new Map([['a', 9n]])).map((p) => p.length)).toEqual([2]);
    expect(splitAtBrokerFloor([], new Map([['a', 9n]]))).toEqual([]);
  });
});
