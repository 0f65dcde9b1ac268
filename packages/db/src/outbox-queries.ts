// Read side of the outbox for operators (CLI, web page): SQL text as pure functions, plus
// thin runners. States are derived from columns exactly as the relay's plans derive them.
import type postgres from 'postgres';
import { UNSENT } from './relay-plans.ts';

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
  claimed_by: string | null;
  claimed_at: Date | null;
  publish_shard: number | null;
  publish_sequence: bigint | null;
  sent_at: Date | null;
  broker_message_id: string | null;
}

const RECORD_COLUMNS = `id, event_id, ${STATE_SQL} as state, aggregate_type, aggregate_id, aggregate_version, event_type,
  topic, payload, schema_version, schema_fingerprint, headers, occurred_at, attempts, last_error, next_attempt_at,
  parked_at, skipped_at, skip_reason, claimed_by, claimed_at, publish_shard, publish_sequence, sent_at, broker_message_id`;

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
}

export async function outboxStatus(sql: postgres.Sql, shards: number): Promise<OutboxStatus> {
  const groups = await sql.unsafe<StatusGroup[]>(`
    select shard_key % $1::int as shard, topic, event_type, ${STATE_SQL} as state, count(*)::int as count
      from outbox group by 1, 2, 3, 4 order by 1, 2, 3, 4`, [shards]);
  const [oldest] = await sql.unsafe<{ at: Date | null }[]>(`select min(occurred_at) as at from outbox where ${UNSENT} and parked_at is null`);
  const parkedPartners = await sql.unsafe<OutboxStatus['parkedPartners']>(`
    select aggregate_id, count(*)::int as parked, (array_agg(last_error order by id))[1] as first_error
      from outbox where ${UNSENT} and parked_at is not null group by 1 order by 2 desc limit 50`);
  const activeDrains = await sql.unsafe<OutboxStatus['activeDrains']>(`
    select (data->>'shard')::int as shard, started_on from pgboss.job
     where name = 'relevo-drain' and state = 'active' order by 1`).catch(() => []);
  return { groups, oldestUnsent: oldest?.at ?? null, parkedPartners, activeDrains };
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

export async function listOutbox(sql: postgres.Sql, f: ListFilter): Promise<OutboxRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (f.state) add(`(${STATE_SQL}) = ?`, f.state);
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
