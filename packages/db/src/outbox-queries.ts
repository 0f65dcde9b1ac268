// Read side of the outbox for operators (CLI, web page): plans, plus thin runners. States
// are derived from columns by the predicates the relay's plans use (outbox-states.ts).
import type postgres from 'postgres';
import { activeDrainJobs } from './drain-queue.ts';
import { PARKED, QUEUED, STATE_SQL, UNSENT, rowsIn, type OutboxState } from './outbox-states.ts';
import { Clauses, query, runQuery, type Query } from './query.ts';
import { SHARD_OF_ROW } from './shards.ts';

export interface OutboxRecord {
  id: bigint;
  event_id: string;
  state: OutboxState;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  event_type: string;
  topic: string;
  payload: Record<string, unknown>;
  schema_version: string;
  schema_fingerprint: string;
  headers: Record<string, string>;
  occurred_at: Date;
  attempts: number;
  last_error: string | null;
  next_attempt_at: Date | null;
  parked_at: Date | null;
  skipped_at: Date | null;
  skip_reason: string | null;
  skipped_by: string | null;
  retried_by: string | null;
  retried_at: Date | null;
  claimed_by: string | null;
  claimed_at: Date | null;
  publish_shard: number | null;
  publish_sequence: bigint | null;
  sent_at: Date | null;
  broker_message_id: string | null;
}

const RECORD_COLUMNS = `id, event_id, ${STATE_SQL} as state, aggregate_type, aggregate_id, aggregate_version, event_type,
  topic, payload, schema_version, schema_fingerprint, headers, occurred_at, attempts, last_error, next_attempt_at,
  parked_at, skipped_at, skip_reason, skipped_by, retried_by, retried_at, claimed_by, claimed_at, publish_shard, publish_sequence, sent_at, broker_message_id`;

export interface StatusGroup {
  shard: number;
  topic: string;
  event_type: string;
  state: OutboxState;
  count: number;
}

export interface OutboxStatus {
  groups: StatusGroup[];
  oldestUnsent: Date | null;
  parkedPartners: { aggregate_id: string; parked: number; first_error: string | null }[];
  activeDrains: { shard: number; started_on: Date }[];
  /** The `sent` groups count the rows sent within this many seconds. */
  sentWindowSeconds: number;
}

/** How far back the status counts sent rows: a recent rate, not the history retention keeps. */
export const STATUS_SENT_WINDOW_SECONDS = 3600;

/**
 * Rows per shard, topic, event type and state: every unsent and every skipped row, and the
 * rows sent within the window, each found through its partial index. It never reads the
 * sent history retention keeps, which the operator page would otherwise scan on every
 * refresh (test/outbox-storage.test.ts counts the rows its plan reads).
 */
export function statusGroups(i: { shards: number; sentWindowSeconds: number }): Query<StatusGroup> {
  return query('status-groups', `select ${SHARD_OF_ROW('$1')} as shard, topic, event_type, ${STATE_SQL} as state, count(*)::int as count
      from outbox
     where (${UNSENT}) or skipped_at is not null or sent_at >= now() - $2::int * interval '1 second'
     group by 1, 2, 3, 4 order by 1, 2, 3, 4`, [i.shards, i.sentWindowSeconds]);
}

/** When the oldest row still waiting for the relay (unsent, not parked) occurred. */
export function oldestQueued(): Query<{ at: Date | null }> {
  return query('oldest-queued', `select min(occurred_at) as at from outbox where ${QUEUED}`);
}

/** The partners with the most parked rows, each with its first row's error. */
export function parkedPartners(): Query<OutboxStatus['parkedPartners'][number]> {
  return query('parked-partners', `select aggregate_id, count(*)::int as parked, (array_agg(last_error order by id))[1] as first_error
      from outbox where ${PARKED} group by 1 order by 2 desc limit 50`);
}

export async function outboxStatus(sql: postgres.Sql, shards: number): Promise<OutboxStatus> {
  const groups = await runQuery(sql, statusGroups({ shards, sentWindowSeconds: STATUS_SENT_WINDOW_SECONDS }));
  const [oldest] = await runQuery(sql, oldestQueued());
  const parked = await runQuery(sql, parkedPartners());
  // pg-boss creates its schema when a relay first starts; before that no drain runs.
  const activeDrains = await runQuery(sql, activeDrainJobs()).catch(() => []);
  return {
    groups: [...groups], oldestUnsent: oldest?.at ?? null, parkedPartners: [...parked], activeDrains: [...activeDrains],
    sentWindowSeconds: STATUS_SENT_WINDOW_SECONDS,
  };
}

export type StateCounts = Record<OutboxState, number>;

export interface StateTotals {
  totals: StateCounts;
  byShard: { shard: number; counts: StateCounts }[];
  byTopic: { topic: string; counts: StateCounts }[];
}

const noRows = (): StateCounts => ({ pending: 0, backoff: 0, parked: 0, sent: 0, skipped: 0 });

/** Rows per state in all, per shard and per topic, from the status groups. */
export function stateTotals(groups: readonly StatusGroup[]): StateTotals {
  const totals = noRows();
  const shards = new Map<number, StateCounts>();
  const topics = new Map<string, StateCounts>();
  for (const g of groups) {
    totals[g.state] += g.count;
    if (!shards.has(g.shard)) shards.set(g.shard, noRows());
    if (!topics.has(g.topic)) topics.set(g.topic, noRows());
    shards.get(g.shard)![g.state] += g.count;
    topics.get(g.topic)![g.state] += g.count;
  }
  return {
    totals,
    byShard: [...shards].sort(([a], [b]) => a - b).map(([shard, counts]) => ({ shard, counts })),
    byTopic: [...topics].sort(([a], [b]) => a.localeCompare(b)).map(([topic, counts]) => ({ topic, counts })),
  };
}

/** The filters the operators' listings of outbox rows share: event type, topic, partner, occurred_at range. */
export interface EventFilter {
  eventType?: string;
  topic?: string;
  aggregateId?: string;
  since?: Date;
  until?: Date;
}

function filterEvents(c: Clauses, f: EventFilter): Clauses {
  return c.filter('event_type = ?', f.eventType)
    .filter('topic = ?', f.topic)
    .filter('aggregate_id = ?::uuid', f.aggregateId)
    .filter('occurred_at >= ?', f.since)
    .filter('occurred_at < ?', f.until);
}

export interface ListFilter extends EventFilter {
  state?: OutboxState;
  /** Rows after (oldest first) or before (newest first) this id. */
  cursor?: bigint;
  order: 'oldest' | 'newest';
  limit: number;
}

/** One page of rows matching the filter; a state filter reads through its partial index (rowsIn). */
export function outboxPage(f: ListFilter): Query<OutboxRecord> {
  const c = new Clauses();
  if (f.state) c.require(rowsIn(f.state));
  filterEvents(c, f).filter(f.order === 'oldest' ? 'id > ?::bigint' : 'id < ?::bigint', f.cursor);
  const limit = c.bind(f.limit);
  return query('outbox-page', `select ${RECORD_COLUMNS} from outbox
    ${c.where()}
    order by id ${f.order === 'oldest' ? 'asc' : 'desc'} limit ${limit}`, c.values);
}

export async function listOutbox(sql: postgres.Sql, f: ListFilter): Promise<OutboxRecord[]> {
  return [...await runQuery(sql, outboxPage(f))];
}

/** The row with this outbox id. */
export function outboxRowById(i: { id: string }): Query<OutboxRecord> {
  return query('outbox-row-by-id', `select ${RECORD_COLUMNS} from outbox where id = $1::bigint`, [i.id]);
}

/** The rows of this event id (a KYC event id names two rows, one per topic). */
export function outboxRowsByEventId(i: { eventId: string }): Query<OutboxRecord> {
  return query('outbox-rows-by-event-id', `select ${RECORD_COLUMNS} from outbox where event_id = $1::uuid order by id`, [i.eventId]);
}

/** By outbox id or by event id. */
export async function findOutboxRows(sql: postgres.Sql, ref: string): Promise<OutboxRecord[]> {
  return [...await runQuery(sql, /^\d+$/.test(ref) ? outboxRowById({ id: ref }) : outboxRowsByEventId({ eventId: ref }))];
}

/** The earliest unsent row of the partner before this id: what holds a row back. */
export function firstUnsentBefore(i: { aggregateId: string; id: bigint }): Query<OutboxRecord> {
  return query('first-unsent-before', `select ${RECORD_COLUMNS} from outbox
    where ${UNSENT} and aggregate_id = $1::uuid and id < $2::bigint order by id limit 1`, [i.aggregateId, i.id.toString()]);
}

/** The earliest unsent row of the same partner that holds this one back, if any. */
export async function blockingRow(sql: postgres.Sql, row: OutboxRecord): Promise<OutboxRecord | undefined> {
  const [r] = await runQuery(sql, firstUnsentBefore({ aggregateId: row.aggregate_id, id: row.id }));
  return r;
}

/** Which sent rows a replay re-publishes. Times are the events' occurred_at. */
export interface ReplaySelection extends EventFilter {
  fromId?: bigint;
  toId?: bigint;
}

/** The sent rows a replay selects after its resume point. */
function replayClauses(s: ReplaySelection, after: bigint): Clauses {
  const c = new Clauses()
    .require('sent_at is not null')
    .filter('id > ?::bigint', after)
    .filter('id >= ?::bigint', s.fromId)
    .filter('id <= ?::bigint', s.toId);
  return filterEvents(c, s);
}

/** How many sent rows a replay selects after its resume point. */
export function replayCount(i: { selection: ReplaySelection; after: bigint }): Query<{ n: number }> {
  const c = replayClauses(i.selection, i.after);
  return query('replay-count', `select count(*)::int as n from outbox ${c.where()}`, c.values);
}

/** The next page of sent rows to replay, in id order (per-partner order), after a resume point. */
export function replayPage(i: { selection: ReplaySelection; after: bigint; limit: number }): Query<OutboxRecord> {
  const c = replayClauses(i.selection, i.after);
  const limit = c.bind(i.limit);
  return query('replay-page', `select ${RECORD_COLUMNS} from outbox ${c.where()} order by id limit ${limit}`, c.values);
}

export async function countSentForReplay(sql: postgres.Sql, s: ReplaySelection, after: bigint): Promise<number> {
  const [row] = await runQuery(sql, replayCount({ selection: s, after }));
  return row?.n ?? 0;
}

export async function listSentForReplay(sql: postgres.Sql, s: ReplaySelection, after: bigint, limit: number): Promise<OutboxRecord[]> {
  return [...await runQuery(sql, replayPage({ selection: s, after, limit }))];
}

export interface FollowOptions {
  fromStart: boolean;
  stopped: () => boolean;
  onRow: (row: OutboxRecord) => void;
  /** Called once the starting point is fixed: rows marked sent from now on will be shown. */
  onStart?: () => void;
  pollMs?: number;
}

export type SentFilter = Pick<EventFilter, 'eventType' | 'topic' | 'aggregateId'>;

/** Millisecond keys: the follow cursor travels through a JS Date, which has no microseconds. */
const SENT_KEY = `date_trunc('milliseconds', sent_at)`;
const FOLLOW_PAGE = 1000;

/** Where following starts: now, or the beginning of the sent history. */
export function followStart(i: { fromStart: boolean }): Query<{ at: Date }> {
  return query('follow-start', i.fromStart ? `select 'epoch'::timestamptz as at` : 'select now() as at');
}

/**
 * The next page of rows marked sent after a cursor (sent_at to the millisecond, id), in
 * that order, among those marked more than a second ago. `sent_at >= cursor` follows from
 * the cursor, and is written out because the planner cannot see it through the truncation:
 * it starts the scan at the cursor in outbox_sent_at_idx, so a poll reads the new rows
 * only, never the sent history retention keeps (test/outbox-storage.test.ts).
 */
export function sentAfterCursor(cursor: { at: Date; id: string }, f: SentFilter): Query<OutboxRecord> {
  const c = new Clauses();
  const at = c.bind(cursor.at);
  const id = c.bind(cursor.id);
  c.require(`sent_at >= ${at}`)
    .require(`(${SENT_KEY}, id) > (${at}, ${id}::bigint)`)
    .require("sent_at < now() - interval '1 second'");
  filterEvents(c, f);
  return query('sent-after-cursor', `select ${RECORD_COLUMNS} from outbox ${c.where()} order by ${SENT_KEY}, id limit ${FOLLOW_PAGE}`, c.values);
}

/**
 * Calls onRow for each row as it is marked sent, in (sent_at, id) order, until stopped.
 * Marks by concurrent relays commit out of sent_at order, so it only reads rows marked more
 * than a second ago: a mark statement commits well within that, and nothing is skipped.
 */
export async function followSent(sql: postgres.Sql, f: SentFilter, opts: FollowOptions): Promise<void> {
  const [start] = await runQuery(sql, followStart({ fromStart: opts.fromStart }));
  let last = { at: start!.at, id: '0' };
  opts.onStart?.();
  while (!opts.stopped()) {
    const rows = await runQuery(sql, sentAfterCursor(last, f));
    for (const row of rows) opts.onRow(row);
    const tail = rows.at(-1);
    if (tail) last = { at: tail.sent_at!, id: tail.id.toString() };
    if (rows.length < FOLLOW_PAGE) await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
}
