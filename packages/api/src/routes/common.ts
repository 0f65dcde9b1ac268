// Pieces every route file shares: representations, replies, error responses for the docs.
import type { Context } from 'hono';
import type { Integration, Partner } from '@relevo/domain';
import { traceHeadersOf } from '@relevo/runtime';
import type { Scope } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { idempotencyRequest, IDEMPOTENCY_HEADER } from '../idempotency.ts';
import { PROBLEM_CONTENT_TYPE } from '../problems.ts';
import { ProblemSchema, type IntegrationDto, type PartnerDto } from '../schemas.ts';
import type { Reply, WriteRequest } from '../unit-of-work.ts';

export function partnerDto(p: Partner): PartnerDto {
  return {
    id: p.id,
    nombre: p.nombre,
    email: p.email,
    estado: p.estado,
    estado_kyc: p.estado_kyc,
    version: p.version,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
    deleted_at: p.deleted_at ? p.deleted_at.toISOString() : null,
  };
}

/** An integration as part of its partner: `version` is the partner aggregate's version. */
export function integrationDto(i: Integration, partnerVersion: number): IntegrationDto {
  return {
    id: i.id,
    partner_id: i.partner_id,
    tipo: i.tipo,
    nombre: i.nombre,
    estado: i.estado,
    version: partnerVersion,
    integration_version: i.version,
    created_at: i.created_at.toISOString(),
    revoked_at: i.revoked_at ? i.revoked_at.toISOString() : null,
    motivo_revocacion: i.motivo_revocacion,
  };
}

/**
 * Sends a unit-of-work reply. Its body was built from the route's response schema (or is
 * the stored first response of that same route), so the typed-route check is satisfied
 * by construction; the cast only tells the compiler so.
 */
export function send(c: Context<AppEnv>, reply: Reply): never {
  return new Response(reply.bodyText, {
    status: reply.status,
    headers: { 'content-type': 'application/json', ...reply.headers },
  }) as never;
}

const MAX_BAGGAGE_LENGTH = 512;

/** Who is writing, and with which trace context; an Idempotency-Key header is not honoured (PATCH, DELETE). */
export function writeRequest(c: Context<AppEnv>): WriteRequest {
  return request(c, null);
}

/** A write a client may retry with an Idempotency-Key: its first response is replayed for the same body. */
export function idempotentWriteRequest(c: Context<AppEnv>, body: unknown): WriteRequest {
  return request(c, idempotencyRequest(c.req.header(IDEMPOTENCY_HEADER), c.req.method, c.req.path, body));
}

function request(c: Context<AppEnv>, idempotency: WriteRequest['idempotency']): WriteRequest {
  // The request span's context (the caller's own when tracing is off), and the caller's baggage.
  const traceHeaders = traceHeadersOf(c.get('span'));
  const baggage = c.req.header('baggage');
  if (baggage !== undefined && baggage.length <= MAX_BAGGAGE_LENGTH) traceHeaders.baggage = baggage;
  const caller = c.get('caller');
  return {
    principal: caller.principal,
    legacyPrincipal: caller.legacyPrincipal,
    idempotency,
    traceHeaders,
  };
}

const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

export const PROBLEM_RESPONSES = {
  400: problem('invalid request: `errors` lists the failing field paths'),
  401: problem('missing or invalid bearer token'),
  403: problem("the token lacks the operation's scope"),
  404: problem('no such resource'),
  503: problem('the database is unavailable'),
} as const;

export const WRITE_PROBLEM_RESPONSES = {
  ...PROBLEM_RESPONSES,
  409: problem('conflict: duplicate email, deleted partner or revoked integration'),
  412: problem('If-Match does not match the current version'),
  413: problem('body too large'),
  415: problem('body is not application/json'),
  422: problem('Idempotency-Key reused with another request'),
} as const;

/**
 * The scope each operation needs, as OpenAPI security requirements. requireScope (auth.ts)
 * is what enforces it; packages/api/test/scopes.test.ts checks that both say the same.
 */
export const SECURITY: Record<Scope, { bearerAuth: string[] }[]> = {
  read: [{ bearerAuth: ['read'] }],
  write: [{ bearerAuth: ['write'] }],
  operator: [{ bearerAuth: ['operator'] }],
};
