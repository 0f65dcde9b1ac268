// Read side of the outbox for operators (CLI, web page): SQL text as pure functions, plus
// thin runners. States are derived from columns exactly as the relay's plans derive them.
import type postgres from 'postgres';
import { UNSENT } from './relay-plans.ts';
import { SHARD_OF_ROW } from './shards.ts';

export const OUTBOX_STATES = ['pending', 'backoff', 'parked', 'sent', 'skipped'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/** SQL expression naming a row's state. */
export const STATE_SQL = `case
  when sent_at is not null then 'sent'
  when skipped_at is not null then 'skipped'
  when parked_at is not null then 'parked'
  when attempts > 0 and next_attempt_at > now() then 'backoff'
  else 'pending' end`;

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
 * rows sent within the last $2 seconds, each found through its partial index. Counting the
 * sent history as well read the whole outbox: 1.1 s a call with a million retained rows,
 * against 14 ms for this, and the operator page calls it every 5 s.
 * Params: $1 shard count, $2 sent window in seconds.
 */
export function statusGroups(): string {
  return `select ${SHARD_OF_ROW('$1')} as shard, topic, event_type, ${STATE_SQL} as state, count(*)::int as count
      from outbox
     where (${UNSENT}) or skipped_at is not null or sent_at >= now() - $2::int * interval '1 second'
     group by 1, 2, 3, 4 order by 1, 2, 3, 4`;
}

export async function outboxStatus(sql: postgres.Sql, shards: number): Promise<OutboxStatus> {
  const groups = await sql.unsafe<StatusGroup[]>(statusGroups(), [shards, STATUS_SENT_WINDOW_SECONDS]);
  const [oldest] = await sql.unsafe<{ at: Date | null }[]>(`select min(occurred_at) as at from outbox where ${UNSENT} and parked_at is null`);
  const parkedPartners = await sql.unsafe<OutboxStatus['parkedPartners']>(`
    select aggregate_id, count(*)::int as parked, (array_agg(last_error order by id))[1] as first_error
      from outbox where ${UNSENT} and parked_at is not null group by 1 order by 2 desc limit 50`);
  const activeDrains = await sql.unsafe<OutboxStatus['activeDrains']>(`
    select (data->>'shard')::int as shard, started_on from pgboss.job
     where name = 'relevo-drain' and state = 'active' order by 1`).catch(() => []);
  return { groups, oldestUnsent: oldest?.at ?? null, parkedPartners, activeDrains, sentWindowSeconds: STATUS_SENT_WINDOW_SECONDS };
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

export interface ListFilter {
  state?: OutboxState;
  eventType?: string;
  topic?: string;
  aggregateId?: string;
  since?: Date;
  until?: Date;
  /** Rows after (oldest first) or before (newest first) this id. */
  cursor?: bigint;
  order: 'oldest' | 'newest';
  limit: number;
}

/**
 * A predicate each state's rows satisfy, one a partial index answers: with it, listing the
 * parked rows (the operator page, every 5 s) walks the unsent rows in id order instead of
 * the whole retained outbox. STATE_SQL still decides.
 */
const STATE_INDEXED: Record<OutboxState, string> = {
  pending: UNSENT,
  backoff: UNSENT,
  parked: UNSENT,
  skipped: 'skipped_at is not null',
  sent: 'sent_at is not null',
};

export async function listOutbox(sql: postgres.Sql, f: ListFilter): Promise<OutboxRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (f.state) {
    where.push(STATE_INDEXED[f.state]);
    add(`(${STATE_SQL}) = ?`, f.state);
  }
  if (f.eventType) add('event_type = ?', f.eventType);
  if (f.topic) add('topic = ?', f.topic);
  if (f.aggregateId) add('aggregate_id = ?::uuid', f.aggregateId);
  if (f.since) add('occurred_at >= ?', f.since);
  if (f.until) add('occurred_at < ?', f.until);
  if (f.cursor !== undefined) add(f.order === 'oldest' ? 'id > ?::bigint' : 'id < ?::bigint', f.cursor.toString());
  params.push(f.limit);
  return sql.unsafe<OutboxRecord[]>(`select ${RECORD_COLUMNS} from outbox
    ${where.length ? `where ${where.join(' and ')}` : ''}
    order by id ${f.order === 'oldest' ? 'asc' : 'desc'} limit $${params.length}`, params as never[]);
}

/** By outbox id or by event id (a KYC event id names two rows, one per topic). */
export async function findOutboxRows(sql: postgres.Sql, ref: string): Promise<OutboxRecord[]> {
  if (/^\d+$/.test(ref)) return sql.unsafe<OutboxRecord[]>(`select ${RECORD_COLUMNS} from outbox where id = $1::bigint`, [ref]);
  return sql.unsafe<OutboxRecord[]>(`select ${RECORD_COLUMNS} from outbox where event_id = $1::uuid order by id`, [ref]);
}

/** The earliest unsent row of the same partner that holds this one back, if any. */
export async function blockingRow(sql: postgres.Sql, row: OutboxRecord): Promise<OutboxRecord | undefined> {
  const [r] = await sql.unsafe<OutboxRecord[]>(`select ${RECORD_COLUMNS} from outbox
    where ${UNSENT} and aggregate_id = $1::uuid and id < $2::bigint order by id limit 1`, [row.aggregate_id, row.id.toString()]);
  return r;
}

/** Which sent rows a replay re-publishes. Times are the events' occurred_at. */
export interface ReplaySelection {
  fromId?: bigint;
  toId?: bigint;
  since?: Date;
  until?: Date;
  aggregateId?: string;
  eventType?: string;
  topic?: string;
}

function replayWhere(s: ReplaySelection, after: bigint): { where: string; params: unknown[] } {
  const params: unknown[] = [after.toString()];
  const where = ['sent_at is not null', 'id > $1::bigint'];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (s.fromId !== undefined) add('id >= ?::bigint', s.fromId.toString());
  if (s.toId !== undefined) add('id <= ?::bigint', s.toId.toString());
  if (s.since) add('occurred_at >= ?', s.since);
  if (s.until) add('occurred_at < ?', s.until);
  if (s.aggregateId) add('aggregate_id = ?::uuid', s.aggregateId);
  if (s.eventType) add('event_type = ?', s.eventType);
  if (s.topic) add('topic = ?', s.topic);
  return { where: where.join(' and '), params };
}

export async function countSentForReplay(sql: postgres.Sql, s: ReplaySelection, after: bigint): Promise<number> {
  const { where, params } = replayWhere(s, after);
  const [row] = await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from outbox where ${where}`, params as never[]);
  return row?.n ?? 0;
}

/** The next page of sent rows to replay, in id order (per-partner order), after a resume point. */
export async function listSentForReplay(sql: postgres.Sql, s: ReplaySelection, after: bigint, limit: number): Promise<OutboxRecord[]> {
  const { where, params } = replayWhere(s, after);
  params.push(limit);
  return sql.unsafe<OutboxRecord[]>(`select ${RECORD_COLUMNS} from outbox where ${where} order by id limit $${params.length}`, params as never[]);
}

export interface FollowOptions {
  fromStart: boolean;
  stopped: () => boolean;
  onRow: (row: OutboxRecord) => void;
  /** Called once the starting point is fixed: rows marked sent from now on will be shown. */
  onStart?: () => void;
  pollMs?: number;
}

export interface SentFilter { eventType?: string; topic?: string; aggregateId?: string }

/** Millisecond keys: the follow cursor travels through a JS Date, which has no microseconds. */
const SENT_KEY = `date_trunc('milliseconds', sent_at)`;
const FOLLOW_PAGE = 1000;

/**
 * The next page of rows marked sent after a cursor (sent_at to the millisecond, id), in
 * that order, among those marked more than a second ago. `sent_at >= $1` follows from the
 * cursor, and is written out because the planner cannot see it through the truncation: it
 * starts the scan at the cursor in outbox_sent_at_idx. Without it each poll read every
 * sent row the retention keeps: 436 ms a poll over 180,000 of them, against 0.04 ms.
 * Params: $1 cursor time, $2 cursor id, then sentAfterCursorValues(f).
 */
export function sentAfterCursor(f: SentFilter): string {
  const where = ['sent_at >= $1', `(${SENT_KEY}, id) > ($1, $2::bigint)`, "sent_at < now() - interval '1 second'"];
  let n = 2;
  if (f.eventType) where.push(`event_type = $${++n}`);
  if (f.topic) where.push(`topic = $${++n}`);
  if (f.aggregateId) where.push(`aggregate_id = $${++n}::uuid`);
  return `select ${RECORD_COLUMNS} from outbox where ${where.join(' and ')} order by ${SENT_KEY}, id limit ${FOLLOW_PAGE}`;
}

/** sentAfterCursor's parameters after the cursor, in its order. */
export function sentAfterCursorValues(f: SentFilter): string[] {
  return [f.eventType, f.topic, f.aggregateId].filter((v): v is string => Boolean(v));
}

/**
 * Calls onRow for each row as it is marked sent, in (sent_at, id) order, until stopped.
 * Marks by concurrent relays commit out of sent_at order, so it only reads rows marked more
 * than a second ago: a mark statement commits well within that, and nothing is skipped.
 */
export async function followSent(sql: postgres.Sql, f: SentFilter, opts: FollowOptions): Promise<void> {
  const [start] = await sql.unsafe<{ at: Date }[]>(opts.fromStart ? `select 'epoch'::timestamptz as at` : 'select now() as at');
  let last = { at: start!.at, id: '0' };
  opts.onStart?.();
  const text = sentAfterCursor(f);
  const values = sentAfterCursorValues(f);
  while (!opts.stopped()) {
    const rows = await sql.unsafe<OutboxRecord[]>(text, [last.at, last.id, ...values] as never[]);
    for (const row of rows) opts.onRow(row);
    const tail = rows.at(-1);
    if (tail) last = { at: tail.sent_at!, id: tail.id.toString() };
    if (rows.length < FOLLOW_PAGE) await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
}
