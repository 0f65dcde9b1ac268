import { describe, expect, it } from 'vitest';
import type { InHandRow } from '@relevo/db/sql';
import { planInHand } from '../src/in-hand.ts';

const row = (seq: number, topic: string, partner = `p${seq % 3}`, behind = false, untrusted = false): InHandRow => ({
  id: BigInt(seq), event_id: `e${seq}`, aggregate_id: partner, aggregate_version: 1, event_type: 'PartnerActualizado', topic,
  payload: {}, schema_fingerprint: 'f', headers: {}, occurred_at: new Date(0), attempts: 0, publish_sequence: BigInt(seq), behind, untrusted,
});
const names = (rows: InHandRow[]) => rows.map((r) => `${r.topic}${r.publish_sequence}`);
const floors = (byTopic: Record<string, bigint>) => (r: InHandRow) => byTopic[r.topic];

describe('rows left in hand by an earlier run', () => {
  it('are stored at or below what the broker holds for their producer, re-sent above it, each part in sequence order', () => {
    const rows = [row(7, 'a'), row(3, 'b'), row(5, 'a'), row(1, 'a'), row(4, 'b'), row(6, 'b'), row(2, 'a')];
    const plan = planInHand(rows, floors({ a: 5n, b: 3n }), false);
    expect({ stored: names(plan.stored), resend: names(plan.resend) }).toEqual({ stored: ['a1', 'a2', 'b3', 'a5'], resend: ['b4', 'b6', 'a7'] });
  });

  it('go back in line, not out, when above the floor behind an earlier row of their partner that is out of hand', () => {
    const plan = planInHand([row(4, 'a', 'p', true), row(2, 'a', 'p', true), row(3, 'a', 'q')], floors({ a: 2n }), false);
    // Stored already (sequence 2): its place on the topic is taken, re-sending only confirms it.
    expect(names(plan.stored)).toEqual(['a2']);
    expect(names(plan.giveBack)).toEqual(['a4']);
    expect(names(plan.resend)).toEqual(['a3']);
  });

  it('stay in hand when their producer cannot say what the broker holds', () => {
    const plan = planInHand([row(1, 'a'), row(2, 'b')], floors({ a: 0n }), false);
    expect({ resend: names(plan.resend), keep: names(plan.keep) }).toEqual({ resend: ['a1'], keep: ['b2'] });
  });

  it('all go back in line for new sequences when the database is behind the broker', () => {
    const plan = planInHand([row(2, 'a'), row(1, 'a'), row(9, 'b')], floors({ a: 50n, b: 1n }), true);
    expect({ giveBack: names(plan.giveBack), other: [...plan.stored, ...plan.resend, ...plan.keep] }).toEqual({ giveBack: ['a1', 'a2', 'b9'], other: [] });
  });

  it('go back in line when an earlier run found the database behind the broker and stopped before giving them back', () => {
    const plan = planInHand([row(3, 'a', 'p', false, true), row(9, 'a', 'q')], floors({ a: 5n }), false);
    expect({ giveBack: names(plan.giveBack), resend: names(plan.resend) }).toEqual({ giveBack: ['a3'], resend: ['a9'] });
  });

  it('are judged by the floor of their own partition on a partitioned topic', () => {
    // Partners p and q publish to different partitions: each partition deduplicates alone.
    const byPartner: Record<string, bigint> = { p: 10n, q: 3n };
    const plan = planInHand([row(4, 'a', 'q'), row(5, 'a', 'p')], (r) => byPartner[r.aggregate_id], false);
    expect({ stored: names(plan.stored), resend: names(plan.resend) }).toEqual({ stored: ['a5'], resend: ['a4'] });
  });
});
