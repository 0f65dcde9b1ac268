// The write half of the outbox: business transactions append their events here, in the
// same transaction as the aggregate change.
import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '@relevo/domain';
import { ROUTES, SCHEMA_VERSION, toIntegrationEvent, topicSchema, validateEvent } from '@relevo/events';
import type { Tx } from './client.ts';
import { runQuery } from './query.ts';
import { shardKeyOf } from './shards.ts';
import { appendOutboxRows, type OutboxAppend } from './write-plans.ts';

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
 * inserts one outbox row per topic. Call it after the aggregate row is locked.
 *
 * Not async on purpose: it throws (an event that does not validate) before it queues its
 * statement on the transaction's connection, and once it returns the statement is queued.
 * runTransaction sends COMMIT right behind it without waiting for the reply; a throw here
 * must reach the transaction, which then rolls back, rather than a promise nobody awaits yet.
 */
export function appendToOutbox(tx: Tx, events: DomainEvent[], ctx: AppendContext): Promise<AppendedEvent[]> {
  if (events.length === 0) return Promise.resolve([]);
  const newId = ctx.newEventId ?? randomUUID;
  const headers = JSON.stringify(ctx.headers ?? {});
  const rows: OutboxAppend[] = [];
  const appended: AppendedEvent[] = [];
  for (const event of events) {
    const integrationEvent = toIntegrationEvent(event, newId(), ctx.occurredAt);
    const payload = JSON.stringify(integrationEvent);
    const topics = ROUTES[event.type];
    for (const topic of topics) {
      validateEvent(topic, integrationEvent);
      rows.push({
        eventId: integrationEvent.id, aggregateType: PARTNER_AGGREGATE, aggregateId: event.partner_id, aggregateVersion: event.version,
        shardKey: shardKeyOf(event.partner_id), eventType: event.type, topic, payload, schemaVersion: SCHEMA_VERSION,
        schemaFingerprint: topicSchema(topic).fingerprint, headers, occurredAt: ctx.occurredAt,
      });
    }
    appended.push({ eventId: integrationEvent.id, type: event.type, topics: [...topics] });
  }
  return runQuery(tx, appendOutboxRows(rows)).then(() => appended);
}
