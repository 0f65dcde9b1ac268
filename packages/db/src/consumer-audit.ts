// The audit trail of relevo's own events, written by `relevo consumers` and read by
// `relevo audit`. Append-only: an insert that meets its (event id, topic) is a no-op.
import type postgres from 'postgres';
import { assertStorable } from './storable-text.ts';

/** A pool or a transaction: anything that runs hand-written SQL. */
export type SqlRunner = Pick<postgres.Sql, 'unsafe'>;

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

/**
 * Stores one delivery; resolves false when that (event id, topic) is already there. Throws
 * UnstorableTextError, writing nothing, when a value holds U+0000.
 */
export async function insertAuditEvent(sql: SqlRunner, e: AuditEventInput): Promise<boolean> {
  assertStorable({ eventId: e.eventId, eventType: e.eventType, envelope: e.envelope, producerName: e.producerName, properties: e.properties });
  const rows = await sql.unsafe(`insert into audit_events (event_id, topic, event_type, partner_id, envelope, message_id,
      producer_name, properties, event_time, publish_time, received_at, redelivery_count)
    values ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, $9, $10, $11, $12)
    on conflict (event_id, topic) do nothing
    returning id`, [
    e.eventId, e.topic, e.eventType, e.partnerId, e.envelope, e.messageId, e.producerName,
    e.properties, e.eventTime, e.publishTime, e.receivedAt, e.redeliveryCount,
  ] as never[]);
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

/** Newest stored first (id order); `before` pages on. */
export async function listAuditEvents(sql: SqlRunner, f: AuditFilter): Promise<AuditRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (f.partnerId !== undefined) add('partner_id = ?::uuid', f.partnerId);
  if (f.eventType !== undefined) add('event_type = ?', f.eventType);
  if (f.topic !== undefined) add('topic = ?', f.topic);
  if (f.since !== undefined) add('event_time >= ?', f.since);
  if (f.until !== undefined) add('event_time < ?', f.until);
  if (f.before !== undefined) add('id < ?::bigint', String(f.before));
  params.push(f.limit);
  return sql.unsafe<AuditRecord[]>(`select id, event_id, topic, event_type, partner_id, envelope, message_id, producer_name,
      properties, event_time, publish_time, received_at, redelivery_count
    from audit_events ${where.length ? `where ${where.join(' and ')}` : ''}
    order by id desc limit $${params.length}`, params as never[]);
}
