// Audit: every event on relevo's own topics, stored once per (event id, topic) with how the
// broker delivered it. Insert … on conflict do nothing, then acknowledge: a redelivered or
// duplicated message leaves the one row that is already there.
import { insertAuditEvent, type SqlRunner } from '@relevo/db/sql';
import { decodeEvent, eventTypesOf, type OwnTopic } from '@relevo/events';
import { formatMessageId, type Message } from '@relevo/pulsar';
import type { ConsumerSpec, HandleResult } from './runner.ts';
import type { WriterSchemas } from './writer-schemas.ts';

export const AUDIT_SUBSCRIPTION = 'relevo-audit';

export interface AuditDeps {
  sql: SqlRunner;
  schemas: WriterSchemas;
  topicUrl(topic: string): string;
}

export function auditConsumer(deps: AuditDeps, topic: OwnTopic): ConsumerSpec {
  return {
    name: `audit:${topic}`,
    topic: deps.topicUrl(topic),
    subscription: AUDIT_SUBSCRIPTION,
    deadLetterTopic: deps.topicUrl(`${topic}-${AUDIT_SUBSCRIPTION}-dlq`),
    eventTypes: new Set(eventTypesOf(topic)),
    async handle(message: Message, receivedAt: Date): Promise<HandleResult> {
      const writer = message.schemaVersion?.length ? (await deps.schemas.schemaOf(message)).schema : undefined;
      const event = decodeEvent(topic, message.payload, writer);
      const data = event.data as { partner_id?: unknown };
      const stored = await insertAuditEvent(deps.sql, {
        eventId: event.id,
        topic,
        eventType: event.type,
        partnerId: typeof data.partner_id === 'string' ? data.partner_id : null,
        envelope: event,
        messageId: formatMessageId(message.messageId),
        producerName: message.producerName,
        properties: message.properties,
        eventTime: new Date(Number(event.time)),
        publishTime: new Date(message.publishTime),
        receivedAt,
        redeliveryCount: message.redeliveryCount,
      });
      return { type: event.type, outcome: stored ? 'stored' : 'duplicate', eventTime: Number(event.time) };
    },
  };
}
