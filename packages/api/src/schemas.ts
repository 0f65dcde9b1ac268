// Request and response shapes (zod, with OpenAPI metadata). Field names follow the service's event contract's
// event data: nombre, email, estado, estado_kyc, tipo, motivo. Request objects are strict:
// an unknown field is a 400, never silently dropped.
import { z } from '@hono/zod-openapi';
import { ESTADOS_INTEGRACION, ESTADOS_KYC, ESTADOS_PARTNER, RESULTADOS_KYC } from '@relevo/domain';

/**
 * C0 and C1 control characters and DEL. Postgres refuses NUL in text and jsonb (a 500 before
 * this rule), and the others act on the terminal or log viewer that later prints the value.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A surrogate that is not half of a pair: in a `u` regex a pair is one code point, so only a lone one is \p{Cs}. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The one rule for free text from a request (names, reasons): trimmed, not blank, at most
 * `max` characters, no control character, and well-formed UTF-16. A lone surrogate
 * (`"\ud800"`, which JSON allows) cannot be encoded as UTF-8: jsonb refuses it. Guarded by
 * packages/api/test/hostile-input.test.ts.
 */
export const text = (max: number) => z.string().trim().min(1).max(max)
  .refine((s) => !CONTROL.test(s), 'must not contain control characters (U+0000–U+001F, U+007F–U+009F)')
  .refine((s) => !LONE_SURROGATE.test(s), 'must be well-formed Unicode (it has a lone surrogate)');

/** Postgres bigint's largest value: outbox ids and the alliance cursor are bigint. */
export const MAX_BIGINT = 9_223_372_036_854_775_807n;

/**
 * A positive bigint id as decimal text, within Postgres' range (a larger one was a 500).
 * zod runs every check even after one failed: the bound only reads what passed the first.
 */
const DIGITS = /^[1-9]\d{0,18}$/;
export const bigintId = (what: string) => z.string()
  .regex(DIGITS, `${what} is a positive integer`)
  .refine((s) => !DIGITS.test(s) || BigInt(s) <= MAX_BIGINT, `${what} is at most ${MAX_BIGINT}`);

export const Uuid = z.uuid().openapi({ example: '01990000-0000-7000-8000-000000000000' });

export const IdParams = z.strictObject({
  id: Uuid.openapi({ param: { name: 'id', in: 'path' } }),
});

export const EstadoPartner = z.enum(ESTADOS_PARTNER).openapi('EstadoPartner');
export const EstadoKyc = z.enum(ESTADOS_KYC).openapi('EstadoKyc');
export const ResultadoKyc = z.enum(RESULTADOS_KYC).openapi('ResultadoKyc');
export const EstadoIntegracion = z.enum(ESTADOS_INTEGRACION).openapi('EstadoIntegracion');

export const CreatePartnerBody = z.strictObject({
  nombre: text(200),
  email: z.email().max(320),
  estado: EstadoPartner.optional(),
}).openapi('CreatePartner');

export const UpdatePartnerBody = z.strictObject({
  nombre: text(200).optional(),
  email: z.email().max(320).optional(),
  estado: EstadoPartner.optional(),
}).refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'give at least one of nombre, email, estado' })
  .openapi('UpdatePartner');

export const KycBody = z.strictObject({
  estado_kyc: ResultadoKyc,
  motivo: text(1000).nullable().optional(),
}).openapi('RecordKyc');

export const CreateIntegrationBody = z.strictObject({
  tipo: text(100),
  nombre: text(200),
}).openapi('CreateIntegration');

export const RevokeIntegrationBody = z.strictObject({
  motivo: text(1000),
}).openapi('RevokeIntegration');

export const PAGE_LIMIT_DEFAULT = 20;
export const PAGE_LIMIT_MAX = 100;

const limit = z.coerce.number().int().min(1).max(PAGE_LIMIT_MAX).default(PAGE_LIMIT_DEFAULT)
  .openapi({ param: { name: 'limit', in: 'query' }, example: PAGE_LIMIT_DEFAULT });
const cursor = z.string().min(1).max(200).optional()
  .openapi({ param: { name: 'cursor', in: 'query' }, description: 'next_cursor of the previous page' });

export const ListPartnersQuery = z.strictObject({
  estado: EstadoPartner.optional().openapi({ param: { name: 'estado', in: 'query' } }),
  estado_kyc: EstadoKyc.optional().openapi({ param: { name: 'estado_kyc', in: 'query' } }),
  include_deleted: z.enum(['true', 'false']).default('false').transform((v) => v === 'true')
    .openapi({ param: { name: 'include_deleted', in: 'query' }, description: 'also list soft-deleted partners (deleted_at set)' }),
  limit,
  cursor,
});

export const PageQuery = z.strictObject({ limit, cursor });

/** If-Match (optional) on writes to an existing partner; Idempotency-Key (optional) on POSTs. */
export const IfMatchHeaders = z.object({
  'if-match': z.string().optional().openapi({
    param: { name: 'if-match', in: 'header' },
    description: 'the partner version the change is based on, as given in ETag ("3")',
  }),
});

export const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().optional().openapi({
    param: { name: 'idempotency-key', in: 'header' },
    description: 'repeat a POST safely: the same key and body replay the first response',
  }),
});

export const WriteHeaders = IfMatchHeaders.extend(IdempotencyHeaders.shape);

const timestamp = z.string().openapi({ format: 'date-time' });

export const PartnerSchema = z.object({
  id: Uuid,
  nombre: z.string(),
  email: z.string(),
  estado: EstadoPartner,
  estado_kyc: EstadoKyc,
  version: z.number().int().openapi({ description: 'the partner aggregate version; also the ETag' }),
  created_at: timestamp,
  updated_at: timestamp,
  deleted_at: timestamp.nullable(),
}).openapi('Partner');

export const IntegrationSchema = z.object({
  id: Uuid,
  partner_id: Uuid,
  tipo: z.string(),
  nombre: z.string(),
  estado: EstadoIntegracion,
  version: z.number().int().openapi({
    description: 'the partner aggregate version this integration belongs to; also the ETag and what If-Match compares',
  }),
  integration_version: z.number().int().openapi({ description: 'revision of this integration row (1 active, 2 revoked)' }),
  created_at: timestamp,
  revoked_at: timestamp.nullable(),
  motivo_revocacion: z.string().nullable(),
}).openapi('Integration');

export const PartnerPage = z.object({
  items: z.array(PartnerSchema),
  next_cursor: z.string().nullable(),
}).openapi('PartnerPage');

export const IntegrationPage = z.object({
  items: z.array(IntegrationSchema),
  version: z.number().int().openapi({ description: 'the partner aggregate version' }),
  next_cursor: z.string().nullable(),
}).openapi('IntegrationPage');

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string(),
  instance: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
}).openapi('Problem');

export type PartnerDto = z.infer<typeof PartnerSchema>;
export type IntegrationDto = z.infer<typeof IntegrationSchema>;

// ── /v1/outbox: the operator page's data and actions ──────────────────────────────────

export const OutboxIdParams = z.strictObject({
  id: bigintId('an outbox id').openapi({ param: { name: 'id', in: 'path' }, example: '42' }),
});

export const OutboxListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100).openapi({ param: { name: 'limit', in: 'query' }, example: 100 }),
});

export const RetryBody = z.strictObject({}).openapi('RetryOutboxRow');

export const SkipBody = z.strictObject({
  reason: text(500).openapi({ description: 'why this event will never be published; kept on the row' }),
}).openapi('SkipOutboxRow');

const StateCountsSchema = z.object({
  pending: z.number().int(), backoff: z.number().int(), parked: z.number().int(), sent: z.number().int(), skipped: z.number().int(),
}).openapi('OutboxStateCounts');

export const OutboxStatusSchema = z.object({
  totals: StateCountsSchema,
  by_shard: z.array(z.object({ shard: z.number().int(), counts: StateCountsSchema })),
  by_topic: z.array(z.object({ topic: z.string(), counts: StateCountsSchema })),
  oldest_unsent: timestamp.nullable(),
  publish_lag_seconds: z.number(),
  parked_partners: z.array(z.object({ aggregate_id: z.string(), parked: z.number().int(), first_error: z.string().nullable() })),
  active_drains: z.array(z.object({ shard: z.number().int(), started_on: timestamp })),
  sent_window_seconds: z.number().int().openapi({ description: 'the `sent` counts are of the rows sent within this many seconds' }),
}).openapi('OutboxStatus');

export const OutboxRowSchema = z.object({
  id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  topic: z.string(),
  aggregate_id: z.string(),
  aggregate_version: z.number().int(),
  state: z.enum(['pending', 'backoff', 'parked', 'sent', 'skipped']),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  occurred_at: timestamp,
  parked_at: timestamp.nullable(),
  retried_at: timestamp.nullable(),
  retried_by: z.string().nullable().openapi({ description: 'who last put the row back in line: api:<token name> or cli:<user>' }),
  skipped_at: timestamp.nullable(),
  skip_reason: z.string().nullable(),
  skipped_by: z.string().nullable().openapi({ description: 'who skipped the row: api:<token name> or cli:<user>' }),
}).openapi('OutboxRow');

export const OutboxRowList = z.object({ items: z.array(OutboxRowSchema) }).openapi('OutboxRowList');
