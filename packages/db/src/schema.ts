import { sql } from 'drizzle-orm';
import {
  bigint, check, index, integer, jsonb, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, uuid,
} from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const partners = pgTable('partners', {
  id: uuid('id').primaryKey(),
  nombre: text('nombre').notNull(),
  email: text('email').notNull(),
  estado: text('estado').notNull(),
  estadoKyc: text('estado_kyc').notNull(),
  version: integer('version').notNull(),
  createdAt: tz('created_at').notNull(),
  updatedAt: tz('updated_at').notNull(),
  deletedAt: tz('deleted_at'),
}, (t) => [
  // Case-insensitive uniqueness among live partners: a deleted partner frees its email.
  uniqueIndex('partners_email_live_uq').on(sql`lower(${t.email})`).where(sql`${t.deletedAt} is null`),
  index('partners_estado_idx').on(t.estado, t.id),
  check('partners_estado_ck', sql`${t.estado} in ('ACTIVO', 'INACTIVO', 'SUSPENDIDO')`),
  check('partners_estado_kyc_ck', sql`${t.estadoKyc} in ('PENDIENTE', 'VERIFICADO', 'RECHAZADO')`),
]);

export const integrations = pgTable('integrations', {
  id: uuid('id').primaryKey(),
  partnerId: uuid('partner_id').notNull().references(() => partners.id),
  tipo: text('tipo').notNull(),
  nombre: text('nombre').notNull(),
  estado: text('estado').notNull(),
  version: integer('version').notNull(),
  createdAt: tz('created_at').notNull(),
  revokedAt: tz('revoked_at'),
  motivoRevocacion: text('motivo_revocacion'),
}, (t) => [
  index('integrations_partner_idx').on(t.partnerId, t.createdAt),
  check('integrations_estado_ck', sql`${t.estado} in ('ACTIVA', 'REVOCADA')`),
]);

/**
 * The transactional outbox. `id` is taken after the aggregate row lock, so per-partner
 * order equals id order. `publish_sequence` is assigned by the relay when it claims the
 * row and becomes the Pulsar sequence id (ids are not in commit order; sequences are).
 */
export const outbox = pgTable('outbox', {
  id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
  eventId: uuid('event_id').notNull(),
  aggregateType: text('aggregate_type').notNull(),
  aggregateId: uuid('aggregate_id').notNull(),
  aggregateVersion: integer('aggregate_version').notNull(),
  /** Stable 31-bit hash of aggregate_id; shards are contiguous ranges of it (see shards.ts). */
  shardKey: integer('shard_key').notNull(),
  eventType: text('event_type').notNull(),
  topic: text('topic').notNull(),
  payload: jsonb('payload').notNull(),
  schemaVersion: text('schema_version').notNull(),
  schemaFingerprint: text('schema_fingerprint').notNull(),
  headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
  occurredAt: tz('occurred_at').notNull(),
  attempts: integer('attempts').notNull().default(0),
  lastError: text('last_error'),
  nextAttemptAt: tz('next_attempt_at'),
  parkedAt: tz('parked_at'),
  skippedAt: tz('skipped_at'),
  skipReason: text('skip_reason'),
  /** Who skipped the row: `api:<token name>` or `cli:<user>` (outbox-admin.ts). */
  skippedBy: text('skipped_by'),
  /** Who last put the row back in line after it was parked, and when. */
  retriedBy: text('retried_by'),
  retriedAt: tz('retried_at'),
  claimedBy: text('claimed_by'),
  claimedAt: tz('claimed_at'),
  publishShard: smallint('publish_shard'),
  publishSequence: bigint('publish_sequence', { mode: 'bigint' }),
  sentAt: tz('sent_at'),
  brokerMessageId: text('broker_message_id'),
}, (t) => [
  uniqueIndex('outbox_event_topic_uq').on(t.eventId, t.topic),
  // The relay's hot path only ever looks at unsent rows: keep that index tiny.
  // A skipped row is done too: it releases its partner without being published. The
  // predicate is outbox-states.ts's UNSENT: a plan's filter must imply it for the index to serve.
  index('outbox_unsent_idx').on(t.id).where(sql`${t.sentAt} is null and ${t.skippedAt} is null`),
  index('outbox_unsent_aggregate_idx').on(t.aggregateId, t.id).where(sql`${t.sentAt} is null and ${t.skippedAt} is null`),
  // Aggregates held back by a failing or parked row; tiny, read once per claim.
  index('outbox_blocked_idx').on(t.aggregateId).where(sql`${t.sentAt} is null and ${t.skippedAt} is null and ${t.attempts} > 0`),
  index('outbox_sent_at_idx').on(t.sentAt).where(sql`${t.sentAt} is not null`),
  // Skipped rows, for the operators' status counts; an entry only when a row is skipped.
  index('outbox_skipped_idx').on(t.id).where(sql`${t.skippedAt} is not null`),
]);

/**
 * Per-shard publish sequence: the last Pulsar sequence id handed out for that shard, and
 * the last one known settled (every row claimed up to it was marked sent, failed or
 * released when a run ended cleanly). Rows can be in hand only while last > settled, so
 * a run looks for them only then: the look is a scan of the whole unsent backlog.
 */
export const relayShards = pgTable('relay_shards', {
  shard: integer('shard').primaryKey(),
  lastSequence: bigint('last_sequence', { mode: 'bigint' }).notNull().default(sql`0`),
  settledSequence: bigint('settled_sequence', { mode: 'bigint' }).notNull().default(sql`0`),
  /**
   * Rows in hand at or below it get new sequences instead of being judged by the broker's:
   * the database was found behind the broker (a restored backup, a lossy failover), so their
   * sequences may name other events on the broker. Set with the raise of the shard's
   * sequence, cleared when the shard settles.
   */
  untrustedSequence: bigint('untrusted_sequence', { mode: 'bigint' }).notNull().default(sql`0`),
});

/**
 * The relay's shard layouts, by generation: one active (the shard count relays drain under),
 * at most one pending (requested by a relay started with another RELAY_SHARDS). While one is
 * pending, the active layout's shards claim nothing more and each records itself closed in
 * relay_layout_closed once nothing of it is in hand; the last one to close activates the
 * pending layout. So no partner's rows are ever drained under two layouts at once.
 */
export const relayLayout = pgTable('relay_layout', {
  generation: integer('generation').primaryKey(),
  shards: integer('shards').notNull(),
  state: text('state').notNull(),
  requestedBy: text('requested_by').notNull(),
  requestedAt: tz('requested_at').notNull().defaultNow(),
  activatedAt: tz('activated_at'),
  retiredAt: tz('retired_at'),
}, (t) => [
  check('relay_layout_shards_ck', sql`${t.shards} between 1 and 1024`),
  check('relay_layout_state_ck', sql`${t.state} in ('pending', 'active', 'retired')`),
]);

/** The shards of a layout that closed for its successor: nothing in hand, nothing more to claim. */
export const relayLayoutClosed = pgTable('relay_layout_closed', {
  generation: integer('generation').notNull().references(() => relayLayout.generation),
  shard: integer('shard').notNull(),
  closedAt: tz('closed_at').notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.generation, t.shard] })]);

/** POST idempotency: the first response for a key is replayed for the same request. */
export const idempotencyKeys = pgTable('idempotency_keys', {
  key: text('key').notNull(),
  principal: text('principal').notNull(),
  requestHash: text('request_hash').notNull(),
  status: integer('status').notNull(),
  body: jsonb('body').notNull(),
  headers: jsonb('headers').$type<Record<string, string>>().notNull(),
  createdAt: tz('created_at').notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.principal, t.key] })]);

// ── Consumers (`relevo consumers`) ──────────────────────────────────────────────────────

/**
 * Append-only audit of every event relevo published on its own topics, as the broker
 * delivered it. One row per (event id, topic) however often the broker redelivers: the
 * consumer inserts with `on conflict do nothing`, then acknowledges. A trigger (in the
 * migration) refuses UPDATE and DELETE.
 */
export const auditEvents = pgTable('audit_events', {
  id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
  eventId: uuid('event_id').notNull(),
  topic: text('topic').notNull(),
  eventType: text('event_type').notNull(),
  /** data.partner_id of the envelope, when it has one (all six own events do). */
  partnerId: uuid('partner_id'),
  envelope: jsonb('envelope').notNull(),
  messageId: text('message_id').notNull(),
  producerName: text('producer_name').notNull(),
  properties: jsonb('properties').$type<Record<string, string>>().notNull().default({}),
  /** The envelope's `time` (when the change happened). */
  eventTime: tz('event_time').notNull(),
  publishTime: tz('publish_time').notNull(),
  receivedAt: tz('received_at').notNull(),
  /** How many times the broker had delivered it before the delivery that was stored. */
  redeliveryCount: integer('redelivery_count').notNull().default(0),
}, (t) => [
  uniqueIndex('audit_events_event_topic_uq').on(t.eventId, t.topic),
  index('audit_events_partner_idx').on(t.partnerId, t.eventTime),
  index('audit_events_type_idx').on(t.eventType, t.eventTime),
  index('audit_events_time_idx').on(t.eventTime),
]);

/**
 * Inbox of the external consumers: one row per (consumer, message key) — the event id when
 * the message decodes, else the broker message id. Written in the same transaction as the
 * handler's effect, so a redelivered or duplicated message is applied at most once.
 */
export const inbox = pgTable('inbox', {
  consumer: text('consumer').notNull(),
  messageKey: text('message_key').notNull(),
  topic: text('topic').notNull(),
  eventType: text('event_type'),
  messageId: text('message_id').notNull(),
  /** processed (a handler applied it), unhandled (no handler for its type), dead_lettered. */
  status: text('status').notNull(),
  envelope: jsonb('envelope'),
  error: text('error'),
  attempts: integer('attempts').notNull().default(1),
  receivedAt: tz('received_at').notNull().defaultNow(),
  processedAt: tz('processed_at').notNull().defaultNow(),
}, (t) => [
  primaryKey({ columns: [t.consumer, t.messageKey] }),
  index('inbox_status_idx').on(t.status, t.processedAt),
  check('inbox_status_ck', sql`${t.status} in ('processed', 'unhandled', 'dead_lettered')`),
]);

/**
 * Alliance events (external topic gestion-de-alianzas) that reference one of our partners,
 * recorded against that partner. No foreign key: the external system may name a partner we
 * have since deleted, and the record is kept either way.
 */
export const partnerAllianceEvents = pgTable('partner_alliance_events', {
  id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
  partnerId: uuid('partner_id').notNull(),
  eventId: text('event_id').notNull(),
  eventType: text('event_type').notNull(),
  alianzaId: text('alianza_id'),
  data: jsonb('data').notNull(),
  occurredAt: tz('occurred_at').notNull(),
  messageId: text('message_id').notNull(),
  schemaVersion: text('schema_version'),
  receivedAt: tz('received_at').notNull().defaultNow(),
}, (t) => [
  uniqueIndex('partner_alliance_events_event_uq').on(t.eventId),
  index('partner_alliance_events_partner_idx').on(t.partnerId, t.id),
]);
