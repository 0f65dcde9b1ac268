// The audit trail of relevo's own events, written by `relevo consumers` and read by
// `relevo audit`. Append-only: an insert that meets its (event id, topic) is a no-op.
import { Clauses, jsonText, query, runQuery, type Query, type SqlRunner } from './query.ts';
import { assertStorable } from './storable-text.ts';

export interface AuditEventInput {
  eventId: string;
  topic: string;
  eventType: string;
  partnerId: string | null;
  envelope: unknown;
  messageId: string;
  producerName: string;
  properties: Record<string, string>;
  eventTime: Date;
  publishTime: Date;
  receivedAt: Date;
  redeliveryCount: number;
}

/** Stores one delivery unless that (event id, topic) is already there; returns its id when stored. */
export function insertAuditEventRow(e: AuditEventInput): Query<{ id: bigint }> {
  return query('insert-audit-event', `insert into audit_events (event_id, topic, event_type, partner_id, envelope, message_id,
      producer_name, properties, event_time, publish_time, received_at, redelivery_count)
    values ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8::text::jsonb, $9::timestamptz, $10::timestamptz, $11::timestamptz, $12)
    on conflict (event_id, topic) do nothing
    returning id`, [
    e.eventId, e.topic, e.eventType, e.partnerId, jsonText(e.envelope), e.messageId, e.producerName,
    jsonText(e.properties), e.eventTime.toISOString(), e.publishTime.toISOString(), e.receivedAt.toISOString(), e.redeliveryCount,
  ]);
}

/**
 * Stores one delivery; resolves false when that (event id, topic) is already there. Throws
 * UnstorableTextError, writing nothing, when a value holds U+0000.
 */
export async function insertAuditEvent(sql: SqlRunner, e: AuditEventInput): Promise<boolean> {
  assertStorable({ eventId: e.eventId, eventType: e.eventType, envelope: e.envelope, producerName: e.producerName, properties: e.properties });
  const rows = await runQuery(sql, insertAuditEventRow(e));
  return rows.length === 1;
}

export interface AuditRecord {
  id: bigint;
  event_id: string;
  topic: string;
  event_type: string;
  partner_id: string | null;
  envelope: Record<string, unknown>;
  message_id: string;
  producer_name: string;
  properties: Record<string, string>;
  event_time: Date;
  publish_time: Date;
  received_at: Date;
  redelivery_count: number;
}

export interface AuditFilter {
  partnerId?: string;
  eventType?: string;
  topic?: string;
  /** Events that happened at or after this time (the envelope's time). */
  since?: Date;
  until?: Date;
  /** Rows with ids below this (newest first paging). */
  before?: bigint;
  limit: number;
}

/** One page of audit events matching the filter, newest stored first (id order); `before` pages on. */
export function auditPage(f: AuditFilter): Query<AuditRecord> {
  const c = new Clauses()
    .filter('partner_id = ?::uuid', f.partnerId)
    .filter('event_type = ?', f.eventType)
    .filter('topic = ?', f.topic)
    .filter('event_time >= ?', f.since)
    .filter('event_time < ?', f.until)
    .filter('id < ?::bigint', f.before);
  const limit = c.bind(f.limit);
  return query('audit-page', `select id, event_id, topic, event_type, partner_id, envelope, message_id, producer_name,
      properties, event_time, publish_time, received_at, redelivery_count
    from audit_events ${c.where()}
    order by id desc limit ${limit}`, c.values);
}

export async function listAuditEvents(sql: SqlRunner, f: AuditFilter): Promise<AuditRecord[]> {
  return [...await runQuery(sql, auditPage(f))];
}
