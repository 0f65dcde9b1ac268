import { expect } from 'vitest';
import type { Received } from './pulsar.ts';

/** Aggregate versions per partner, in the order the consumer received them. */
export function versionsByPartner(received: Received[]): Map<string, number[]> {
  const byPartner = new Map<string, number[]>();
  for (const { event } of received) {
    const data = event.data as { partner_id: string; version: number };
    byPartner.set(data.partner_id, [...(byPartner.get(data.partner_id) ?? []), Number(data.version)]);
  }
  return byPartner;
}

/** Every event once (by event id), and each partner's versions 1..n in order. */
export function expectExactlyOnceInOrder(received: Received[], partners: number, eventsPerPartner: number): void {
  expect(received).toHaveLength(partners * eventsPerPartner);
  expect(new Set(received.map((r) => r.event.id)).size).toBe(partners * eventsPerPartner);
  const byPartner = versionsByPartner(received);
  expect(byPartner.size).toBe(partners);
  const expected = Array.from({ length: eventsPerPartner }, (_, i) => i + 1);
  for (const [partner, versions] of byPartner) expect(versions, `partner ${partner}`).toEqual(expected);
}
