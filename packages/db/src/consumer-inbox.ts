// The inbox of the external consumers: the idempotency record of each message, written in
// the same transaction as the handler's effect.
import type { SqlRunner } from './consumer-audit.ts';
import { assertStorable, storable } from './storable-text.ts';

export type InboxStatus = 'processed' | 'unhandled' | 'dead_lettered';

export interface InboxEntry {
  consumer: string;
  /** The event id when the message decodes, else the broker message id. */
  messageKey: string;
  topic: string;
  eventType: string | null;
  messageId: string;
  status: InboxStatus;
  envelope: unknown;
  error?: string | null;
}

/**
 * Claims a message for processing inside the caller's transaction. Resolves false when it
 * was already processed or recorded as unhandled (a duplicate: do nothing, acknowledge).
 * A dead-lettered entry is claimed again, so an operator may replay the dead-letter topic.
 * The row lock taken here also makes concurrent copies of one message wait for each other.
 * Throws UnstorableTextError, writing nothing, when a value holds U+0000.
 */
export async function claimInbox(sql: SqlRunner, e: InboxEntry): Promise<boolean> {
  assertStorable({ messageKey: e.messageKey, eventType: e.eventType, envelope: e.envelope, error: e.error });
  const rows = await sql.unsafe(`insert into inbox (consumer, message_key, topic, event_type, message_id, status, envelope, error)
    values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
    on conflict (consumer, message_key) do update
      set status = excluded.status, message_id = excluded.message_id, envelope = excluded.envelope,
          error = excluded.error, attempts = inbox.attempts + 1, processed_at = now()
      where inbox.status = 'dead_lettered'
    returning consumer`, [
    e.consumer, e.messageKey, e.topic, e.eventType, e.messageId, e.status,
    e.envelope ?? null, e.error ?? null,
  ] as never[]);
  return rows.length === 1;
}

/**
 * Records a message sent to the dead-letter topic (inserted, or an earlier entry updated). The
 * record is always writable: a U+0000 in any of its values is stored as U+FFFD (the dead-letter
 * topic keeps the message's original bytes).
 */
export async function recordDeadLettered(sql: SqlRunner, entry: Omit<InboxEntry, 'status'> & { error: string }): Promise<void> {
  const e = storable(entry);
  await sql.unsafe(`insert into inbox (consumer, message_key, topic, event_type, message_id, status, envelope, error)
    values ($1, $2, $3, $4, $5, 'dead_lettered', $6::jsonb, $7)
    on conflict (consumer, message_key) do update
      set status = 'dead_lettered', error = excluded.error, message_id = excluded.message_id, processed_at = now(),
          attempts = inbox.attempts + 1
      where inbox.status = 'dead_lettered'`, [
    e.consumer, e.messageKey, e.topic, e.eventType, e.messageId,
    e.envelope ?? null, e.error,
  ] as never[]);
}

/** True when the consumer's inbox has an entry under that key, whatever its status. */
export async function inboxHas(sql: SqlRunner, consumer: string, messageKey: string): Promise<boolean> {
  const rows = await sql.unsafe('select 1 from inbox where consumer = $1 and message_key = $2', [consumer, messageKey] as never[]);
  return rows.length > 0;
}

/** True when this broker message id was dead-lettered by the consumer (its ack may have been lost since). */
export async function wasDeadLetteredById(sql: SqlRunner, consumer: string, messageId: string): Promise<boolean> {
  const rows = await sql.unsafe(`select 1 from inbox where consumer = $1 and message_id = $2 and status = 'dead_lettered' limit 1`,
    [consumer, messageId] as never[]);
  return rows.length > 0;
}

export interface InboxRecord {
  consumer: string;
  message_key: string;
  topic: string;
  event_type: string | null;
  message_id: string;
  status: InboxStatus;
  envelope: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  received_at: Date;
  processed_at: Date;
}

export async function listInbox(sql: SqlRunner, f: { consumer?: string; status?: InboxStatus; limit?: number } = {}): Promise<InboxRecord[]> {
  return sql.unsafe<InboxRecord[]>(`select * from inbox
    where ($1::text is null or consumer = $1) and ($2::text is null or status = $2)
    order by processed_at desc limit $3`, [f.consumer ?? null, f.status ?? null, f.limit ?? 100] as never[]);
}
