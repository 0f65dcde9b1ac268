// The API's statements, as plans like relay-plans.ts: the write path's (the idempotency key's
// lock and lookup, lock the partner, insert or save it and its integrations, append its
// outbox rows, store the idempotency record) and the reads of partners and integrations.
// Each text is built once per shape, so postgres.js prepares it once per connection (it keys
// prepared statements by their text) and runs it in one round trip afterwards. Rows carry the
// schema's property names (InferSelectModel), which partnerFromRow and integrationFromRow map.
import type { InferSelectModel } from 'drizzle-orm';
import type { EstadoKyc, EstadoPartner, Integration, Partner } from '@relevo/domain';
import { Clauses, query, type Query, type QueryValue } from './query.ts';
import type { integrations, partners } from './schema.ts';

export type PartnerRow = InferSelectModel<typeof partners>;
export type IntegrationRow = InferSelectModel<typeof integrations>;

const PARTNER_COLUMNS = `id, nombre, email, estado, estado_kyc as "estadoKyc", version, created_at as "createdAt",
    updated_at as "updatedAt", deleted_at as "deletedAt"`;

const INTEGRATION_COLUMNS = `id, partner_id as "partnerId", tipo, nombre, estado, version, created_at as "createdAt",
    revoked_at as "revokedAt", motivo_revocacion as "motivoRevocacion"`;

/** Takes the partner's row lock for the rest of the transaction. */
export function lockPartnerRow(i: { id: string }): Query<PartnerRow> {
  return query('lock-partner', `select ${PARTNER_COLUMNS} from partners where id = $1 for update`, [i.id]);
}

export function partnerRow(i: { id: string }): Query<PartnerRow> {
  return query('partner', `select ${PARTNER_COLUMNS} from partners where id = $1`, [i.id]);
}

export interface PartnerFilter {
  estado?: EstadoPartner;
  estadoKyc?: EstadoKyc;
  /** Exclusive lower bound on id (the cursor). */
  after?: string;
  limit: number;
  includeDeleted?: boolean;
}

/** Live (or, asked, also deleted) partners in id order (uuid v7 ids: creation order), one page of keyset paging. */
export function partnerPage(f: PartnerFilter): Query<PartnerRow> {
  const c = new Clauses();
  if (!f.includeDeleted) c.require('deleted_at is null');
  c.filter('estado = ?', f.estado).filter('estado_kyc = ?', f.estadoKyc).filter('id > ?::uuid', f.after);
  const limit = c.bind(f.limit);
  return query('partner-page', `select ${PARTNER_COLUMNS} from partners ${c.where()} order by id limit ${limit}`, c.values);
}

/** savePartnerRow's values; insertPartnerRow binds created_at after them. */
function partnerValues(p: Partner): QueryValue[] {
  return [p.id, p.nombre, p.email, p.estado, p.estado_kyc, p.version, p.updated_at.toISOString(), p.deleted_at?.toISOString() ?? null];
}

export function insertPartnerRow(p: Partner): Query {
  return query('insert-partner', `insert into partners (id, nombre, email, estado, estado_kyc, version, updated_at, deleted_at, created_at)
    values ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8::timestamptz, $9::timestamptz)`, [...partnerValues(p), p.created_at.toISOString()]);
}

export function savePartnerRow(p: Partner): Query {
  return query('save-partner', `update partners set nombre = $2, email = $3, estado = $4, estado_kyc = $5, version = $6,
    updated_at = $7::timestamptz, deleted_at = $8::timestamptz where id = $1`, partnerValues(p));
}

export function integrationRow(i: { id: string }): Query<IntegrationRow> {
  return query('integration', `select ${INTEGRATION_COLUMNS} from integrations where id = $1`, [i.id]);
}

export interface IntegrationPage {
  /** Exclusive lower bound on id (the cursor). */
  after?: string;
  limit: number;
}

/** A partner's integrations in id order (uuid v7 ids: creation order), keyset paged. */
export function integrationPage(i: { partnerId: string } & IntegrationPage): Query<IntegrationRow> {
  const c = new Clauses();
  c.require(`partner_id = ${c.bind(i.partnerId)}::uuid`).filter('id > ?::uuid', i.after);
  const limit = c.bind(i.limit);
  return query('integration-page', `select ${INTEGRATION_COLUMNS} from integrations ${c.where()} order by id limit ${limit}`, c.values);
}

/** saveIntegrationRow's values; insertIntegrationRow binds partner_id and created_at after them. */
function integrationValues(i: Integration): QueryValue[] {
  return [i.id, i.tipo, i.nombre, i.estado, i.version, i.revoked_at?.toISOString() ?? null, i.motivo_revocacion];
}

export function insertIntegrationRow(i: Integration): Query {
  return query('insert-integration', `insert into integrations (id, tipo, nombre, estado, version, revoked_at, motivo_revocacion, partner_id, created_at)
    values ($1, $2, $3, $4, $5, $6::timestamptz, $7, $8, $9::timestamptz)`, [...integrationValues(i), i.partner_id, i.created_at.toISOString()]);
}

export function saveIntegrationRow(i: Integration): Query {
  return query('save-integration', `update integrations set tipo = $2, nombre = $3, estado = $4, version = $5, revoked_at = $6::timestamptz,
    motivo_revocacion = $7 where id = $1`, integrationValues(i));
}

/** One outbox row as a writer appends it; the other columns keep their defaults. */
export interface OutboxAppend {
  eventId: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  shardKey: number;
  eventType: string;
  topic: string;
  /** JSON text. */
  payload: string;
  schemaVersion: string;
  schemaFingerprint: string;
  /** JSON text. */
  headers: string;
  occurredAt: Date;
}

/** The outbox columns a writer fills and their types, in the order appendOutboxRows binds them. */
const OUTBOX_APPEND_COLUMNS = [
  ['event_id', 'uuid'], ['aggregate_type', 'text'], ['aggregate_id', 'uuid'], ['aggregate_version', 'int'],
  ['shard_key', 'int'], ['event_type', 'text'], ['topic', 'text'], ['payload', 'text::jsonb'], ['schema_version', 'text'],
  ['schema_fingerprint', 'text'], ['headers', 'text::jsonb'], ['occurred_at', 'timestamptz'],
] as const;

function outboxAppendValues(r: OutboxAppend): QueryValue[] {
  return [r.eventId, r.aggregateType, r.aggregateId, r.aggregateVersion, r.shardKey, r.eventType, r.topic, r.payload,
    r.schemaVersion, r.schemaFingerprint, r.headers, r.occurredAt.toISOString()];
}

const appendTexts = new Map<number, string>();

/**
 * Inserts the rows in order: their ids are taken in that order. One text per row count (a
 * request appends a handful at most), built on its first use.
 */
export function appendOutboxRows(rows: readonly OutboxAppend[]): Query {
  let text = appendTexts.get(rows.length);
  if (text === undefined) {
    const width = OUTBOX_APPEND_COLUMNS.length;
    const tuples = rows.map((_, r) => `(${OUTBOX_APPEND_COLUMNS.map(([, type], i) => `$${r * width + i + 1}::${type}`).join(', ')})`);
    text = `insert into outbox (${OUTBOX_APPEND_COLUMNS.map(([column]) => column).join(', ')}) values ${tuples.join(', ')}`;
    appendTexts.set(rows.length, text);
  }
  return query('append-outbox-rows', text, rows.flatMap(outboxAppendValues));
}

/**
 * Serialises requests with the same (principal, key) until the transaction ends. Hash
 * collisions only make unrelated keys wait for each other.
 */
export function lockIdempotencyKeyRow(i: { principal: string; key: string }): Query {
  return query('lock-idempotency-key', `select pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 7340))`, [i.principal, i.key]);
}

/** A row of findIdempotencyRow; postgres.js parses the jsonb columns. */
export interface StoredIdempotencyRow { request_hash: string; status: number; body: unknown; headers: Record<string, string> }

/**
 * The stored response under the caller's principal or, failing that, under the principal its
 * token had before principals were keyed (idempotency.ts says why). Two primary-key lookups.
 */
export function findIdempotencyRow(i: { principal: string; key: string; earlierPrincipal: string }): Query<StoredIdempotencyRow> {
  return query('find-idempotency-record', `select request_hash, status, body, headers from idempotency_keys
    where principal in ($1, $3) and key = $2 order by principal = $1 desc limit 1`, [i.principal, i.key, i.earlierPrincipal]);
}

/** `body` and `headers` are JSON text. */
export function storeIdempotencyRow(i: { principal: string; key: string; requestHash: string; status: number; body: string; headers: string }): Query {
  return query('store-idempotency-record', `insert into idempotency_keys (principal, key, request_hash, status, body, headers)
    values ($1, $2, $3, $4::int, $5::text::jsonb, $6::text::jsonb)`, [i.principal, i.key, i.requestHash, i.status, i.body, i.headers]);
}
