// The inbox of the external consumers: the idempotency record of each message, written in
// the same transaction as the handler's effect.
import { jsonText, query, runQuery, type Query, type SqlRunner } from './query.ts';
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
 * Inserts the entry, or takes over a dead-lettered one under the same key; returns its
 * consumer when it did either. The row lock it takes makes concurrent copies of one message
 * wait for each other.
 */
export function claimInboxRow(e: InboxEntry): Query<{ consumer: string }> {
  return query('claim-inbox', `insert into inbox (consumer, message_key, topic, event_type, message_id, status, envelope, error)
    values ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8)
    on conflict (consumer, message_key) do update
      set status = excluded.status, message_id = excluded.message_id, envelope = excluded.envelope,
          error = excluded.error, attempts = inbox.attempts + 1, processed_at = now()
      where inbox.status = 'dead_lettered'
    returning consumer`, [
    e.consumer, e.messageKey, e.topic, e.eventType, e.messageId, e.status, jsonText(e.envelope), e.error ?? null,
  ]);
}

/**
 * Claims a message for processing inside the caller's transaction. Resolves false when it
 * was already processed or recorded as unhandled (a duplicate: do nothing, acknowledge).
 * A dead-lettered entry is claimed again, so an operator may replay the dead-letter topic.
 * Throws UnstorableTextError, writing nothing, when a value holds U+0000.
 */
export async function claimInbox(sql: SqlRunner, e: InboxEntry): Promise<boolean> {
  assertStorable({ messageKey: e.messageKey, eventType: e.eventType, envelope: e.envelope, error: e.error });
  const rows = await runQuery(sql, claimInboxRow(e));
  return rows.length === 1;
}

/** Inserts a dead-lettered entry, or updates an earlier dead-lettered one under the same key. */
export function recordDeadLetteredRow(e: Omit<InboxEntry, 'status'> & { error: string }): Query {
  return query('record-dead-lettered', `insert into inbox (consumer, message_key, topic, event_type, message_id, status, envelope, error)
    values ($1, $2, $3, $4, $5, 'dead_lettered', $6::text::jsonb, $7)
    on conflict (consumer, message_key) do update
      set status = 'dead_lettered', error = excluded.error, message_id = excluded.message_id, processed_at = now(),
          attempts = inbox.attempts + 1
      where inbox.status = 'dead_lettered'`, [
    e.consumer, e.messageKey, e.topic, e.eventType, e.messageId, jsonText(e.envelope), e.error,
  ]);
}

/**
 * Records a message sent to the dead-letter topic (inserted, or an earlier entry updated). The
 * record is always writable: a U+0000 in any of its values is stored as U+FFFD (the dead-letter
 * topic keeps the message's original bytes).
 */
export async function recordDeadLettered(sql: SqlRunner, entry: Omit<InboxEntry, 'status'> & { error: string }): Promise<void> {
  await runQuery(sql, recordDeadLetteredRow(storable(entry)));
}

/** The consumer's inbox entry under that key, whatever its status. */
export function inboxEntry(i: { consumer: string; messageKey: string }): Query {
  return query('inbox-entry', 'select 1 from inbox where consumer = $1 and message_key = $2', [i.consumer, i.messageKey]);
}

/** True when the consumer's inbox has an entry under that key, whatever its status. */
export async function inboxHas(sql: SqlRunner, consumer: string, messageKey: string): Promise<boolean> {
  return (await runQuery(sql, inboxEntry({ consumer, messageKey }))).length > 0;
}

/** A dead-lettered entry of the consumer with this broker message id. */
export function deadLetteredEntry(i: { consumer: string; messageId: string }): Query {
  return query('dead-lettered-entry', `select 1 from inbox where consumer = $1 and message_id = $2 and status = 'dead_lettered' limit 1`,
    [i.consumer, i.messageId]);
}

/** True when this broker message id was dead-lettered by the consumer (its ack may have been lost since). */
export async function wasDeadLetteredById(sql: SqlRunner, consumer: string, messageId: string): Promise<boolean> {
  return (await runQuery(sql, deadLetteredEntry({ consumer, messageId }))).length > 0;
}
