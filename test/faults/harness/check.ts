// The invariants of delivery, checked on what a consumer reads from the topics (and on the
// outbox only for what no consumer can see: rows left unsent, ids that do not exist).
import type { Database } from '@relevo/db';
import { decodeEvent } from '@relevo/events';
import { formatMessageId, type PulsarClient } from '@relevo/pulsar';
import { topicUrl } from '@relevo/relay';
import { SCENARIO_TOPICS } from './scenario.ts';

interface Delivered {
  eventId: string;
  partner: string;
  version: number;
  messageId: string;
}

/** Everything on a topic, from the first message, until nothing more comes for `idleMs`. */
export async function readTopic(client: PulsarClient, namespace: string, topic: string, expected: number, idleMs = 150): Promise<Delivered[]> {
  const consumer = await client.subscribe({
    topic: topicUrl(namespace, topic), subscription: 'fault-check', type: 'Exclusive', initialPosition: 'earliest', receiverQueueSize: 1000,
  });
  const out: Delivered[] = [];
  try {
    for (;;) {
      // Until the expected count, allow for a slow broker; past it, only a short wait for extras.
      const message = await consumer.receive(out.length < expected ? 10_000 : idleMs).catch(() => undefined);
      if (!message) break;
      const event = decodeEvent(topic, message.payload);
      const data = event.data as { partner_id: string; version: number };
      out.push({ eventId: event.id, partner: data.partner_id, version: Number(data.version), messageId: formatMessageId(message.messageId) });
    }
  } finally {
    await consumer.close();
  }
  return out;
}

interface OutboxRow {
  event_id: string;
  aggregate_id: string;
  aggregate_version: number;
  topic: string;
  skipped: boolean;
  sent: boolean;
  broker_message_id: string | null;
}

/**
 * Every committed, non-skipped event exactly once on each topic it is routed to, each
 * partner's versions in order, no row left unsent, and no broker message id recorded that the
 * consumer did not see. Returns the violations, empty when all hold.
 */
export async function checkDelivery(database: Database, client: PulsarClient, namespace: string): Promise<string[]> {
  const rows = await database.sql<OutboxRow[]>`
    select event_id, aggregate_id, aggregate_version, topic, skipped_at is not null as skipped, sent_at is not null as sent, broker_message_id
      from outbox order by id`;
  const violations: string[] = [];
  const unsent = rows.filter((r) => !r.sent && !r.skipped);
  if (unsent.length > 0) violations.push(`left unsent: ${unsent.map((r) => `${r.aggregate_id.slice(0, 8)} v${r.aggregate_version} on ${r.topic}`).join(', ')}`);
  for (const topic of SCENARIO_TOPICS) {
    const expected = rows.filter((r) => r.topic === topic && !r.skipped);
    const delivered = await readTopic(client, namespace, topic, expected.length);
    const seen = new Map<string, Delivered>();
    for (const d of delivered) {
      if (seen.has(d.eventId)) violations.push(`duplicated on ${topic}: ${d.partner.slice(0, 8)} v${d.version}`);
      seen.set(d.eventId, d);
    }
    for (const r of expected) {
      const d = seen.get(r.event_id);
      if (!d) {
        violations.push(`lost on ${topic}: ${r.aggregate_id.slice(0, 8)} v${r.aggregate_version}${r.sent ? ' (marked sent)' : ''}`);
      } else if (r.broker_message_id !== null && r.broker_message_id !== d.messageId) {
        violations.push(`${topic}: ${r.aggregate_id.slice(0, 8)} v${r.aggregate_version} recorded as ${r.broker_message_id}, delivered as ${d.messageId}`);
      }
    }
    const partners = new Set(expected.map((r) => r.aggregate_id));
    for (const partner of partners) {
      const want = expected.filter((r) => r.aggregate_id === partner).map((r) => r.aggregate_version);
      const got = delivered.filter((d) => d.partner === partner).map((d) => d.version);
      const firsts = got.filter((v, i) => got.indexOf(v) === i);
      if (firsts.join() !== want.filter((v) => got.includes(v)).join()) {
        violations.push(`reordered on ${topic}: ${partner.slice(0, 8)} got ${got.join(',')} (committed ${want.join(',')})`);
      }
    }
  }
  return violations;
}
