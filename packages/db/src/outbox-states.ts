// The outbox row states, derived from columns, each defined once here for every plan that
// reads them (the relay's, the operators', the metrics'):
//   unsent   sent_at is null and skipped_at is null            (partial index outbox_unsent_idx)
//   queued   unsent and parked_at is null                       (what the relay may still claim)
//   parked   unsent and parked_at is not null
//   backoff  unsent and attempts > 0 and next_attempt_at > now()
//   in hand  unsent and publish_sequence is not null            (claimed; fate unknown after a crash)
//   sent     sent_at is not null; broker_message_id null when the broker answered that it already
//            had the message (a copy of one whose receipt was lost): stored, its id unknown
//   skipped  skipped_at is not null                             (done by an operator, never published)
// The partial indexes in schema.ts repeat the unsent predicate: Postgres uses one only for a
// query whose predicate implies the index's (test/outbox-storage.test.ts reads their plans).

const sentAt = (row: string) => `${row}sent_at`;
const skippedAt = (row: string) => `${row}skipped_at`;
const unsentOf = (row: string) => `${sentAt(row)} is null and ${skippedAt(row)} is null`;
const IS_SENT = `${sentAt('')} is not null`;
const IS_SKIPPED = `${skippedAt('')} is not null`;
const IS_PARKED = 'parked_at is not null';
const NOT_PARKED = 'parked_at is null';
const HAS_FAILED = 'attempts > 0';
const BACKING_OFF = 'next_attempt_at > now()';

/** Neither sent nor skipped. The partial indexes outbox_unsent_idx and outbox_blocked_idx carry this text. */
export const UNSENT = unsentOf('');

/** UNSENT for a row under an alias. */
export const unsentAs = (alias: string) => unsentOf(`${alias}.`);

/** Unsent and not parked: the rows the relay may still claim, now or after their backoff. */
export const QUEUED = `${UNSENT} and ${NOT_PARKED}`;

/** Unsent and parked: waiting for an operator's retry or skip. */
export const PARKED = `${UNSENT} and ${IS_PARKED}`;

/** Aggregates held back by one of their rows: parked, or waiting out a retry backoff. */
export const BLOCKED_AGGREGATES = `select aggregate_id from outbox
   where ${UNSENT} and ${HAS_FAILED} and (${IS_PARKED} or ${BACKING_OFF})`;

export const OUTBOX_STATES = ['pending', 'backoff', 'parked', 'sent', 'skipped'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/** SQL expression naming a row's state. */
export const STATE_SQL = `case
  when ${IS_SENT} then 'sent'
  when ${IS_SKIPPED} then 'skipped'
  when ${IS_PARKED} then 'parked'
  when ${HAS_FAILED} and ${BACKING_OFF} then 'backoff'
  else 'pending' end`;

/**
 * The rows in a state, for listings: a predicate a partial index answers (the unsent, sent or
 * skipped rows), then STATE_SQL, which decides. Listing the parked rows (the operator page)
 * walks the unsent rows in id order, not the whole retained outbox
 * (test/outbox-storage.test.ts).
 */
const ROWS_IN: Record<OutboxState, string> = Object.fromEntries(OUTBOX_STATES.map((state) => {
  const indexed = state === 'sent' ? IS_SENT : state === 'skipped' ? IS_SKIPPED : UNSENT;
  return [state, `${indexed} and (${STATE_SQL}) = '${state}'`];
})) as Record<OutboxState, string>;

export function rowsIn(state: OutboxState): string {
  return ROWS_IN[state];
}
