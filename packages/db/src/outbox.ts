// The write half of the outbox: business transactions append their events here, in the
// same transaction as the aggregate change.
import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '@relevo/domain';
import { ROUTES, SCHEMA_VERSION, toIntegrationEvent, topicSchema, validateEvent } from '@relevo/events';
import type { Tx } from './client.ts';
import { outbox } from './schema.ts';
import { shardKeyOf } from './shards.ts';

export const PARTNER_AGGREGATE = 'partner';

export interface AppendContext {
  occurredAt: Date;
  /** Propagated to the message properties (traceparent, tracestate, ...). */
  headers?: Record<string, string>;
  newEventId?: () => string;
}

export interface AppendedEvent {
  eventId: string;
  type: DomainEvent['type'];
  topics: string[];
}

/**
 * Maps each domain event to its integration event, validates it against the Avro schema
 * of every topic it is routed to (so a row that cannot be encoded never commits), and
 * inserts one outbox row per topic. Call it after the aggregate row is locked and updated.
 */
export async function appendToOutbox(tx: Tx, events: DomainEvent[], ctx: AppendContext): Promise<AppendedEvent[]> {
  if (events.length === 0) return [];
  const newId = ctx.newEventId ?? randomUUID;
  const rows: (typeof outbox.$inferInsert)[] = [];
  const appended: AppendedEvent[] = [];
  for (const event of events) {
    const integrationEvent = toIntegrationEvent(event, newId(), ctx.occurredAt);
    const topics = ROUTES[event.type];
    for (const topic of topics) {
      validateEvent(topic, integrationEvent);
      rows.push({
        eventId: integrationEvent.id,
        aggregateType: PARTNER_AGGREGATE,
        aggregateId: event.partner_id,
        aggregateVersion: event.version,
        shardKey: shardKeyOf(event.partner_id),
        eventType: event.type,
        topic,
        payload: integrationEvent,
        schemaVersion: SCHEMA_VERSION,
        schemaFingerprint: topicSchema(topic).fingerprint,
        headers: ctx.headers ?? {},
        occurredAt: ctx.occurredAt,
      });
    }
    appended.push({ eventId: integrationEvent.id, type: event.type, topics: [...topics] });
  }
  // Prepared, like the rest of the write path (see partners.ts).
  await tx.insert(outbox).values(rows).prepare('append_outbox').execute();
  return appended;
}
