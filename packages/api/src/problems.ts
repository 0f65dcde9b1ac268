// RFC 9457 problem+json: every error the API answers with, typed by code, and the one
// mapping from thrown errors (ours, the domain's, postgres', hono's) to a problem.
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { DomainError } from '@relevo/domain';
import { PARTNER_EMAIL_UNIQUE } from '@relevo/db';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const PROBLEMS = {
  VALIDATION_FAILED: { status: 400, slug: 'validation-failed', title: 'The request is not valid' },
  MALFORMED_JSON: { status: 400, slug: 'malformed-json', title: 'The request body is not valid JSON' },
  UNAUTHORIZED: { status: 401, slug: 'unauthorized', title: 'A valid bearer token is required' },
  INSUFFICIENT_SCOPE: { status: 403, slug: 'insufficient-scope', title: 'The token lacks the scope this request needs' },
  NOT_FOUND: { status: 404, slug: 'not-found', title: 'Resource not found' },
  METHOD_NOT_ALLOWED: { status: 405, slug: 'method-not-allowed', title: 'The resource does not support this method' },
  EMAIL_TAKEN: { status: 409, slug: 'email-taken', title: 'The email is already used by another partner' },
  PARTNER_DELETED: { status: 409, slug: 'partner-deleted', title: 'The partner is deleted' },
  INTEGRATION_REVOKED: { status: 409, slug: 'integration-revoked', title: 'The integration is already revoked' },
  OUTBOX_ROW_NOT_PARKED: { status: 409, slug: 'outbox-row-not-parked', title: 'Only a parked outbox row can be retried or skipped' },
  VERSION_MISMATCH: { status: 412, slug: 'version-mismatch', title: 'The resource has changed since that version' },
  PAYLOAD_TOO_LARGE: { status: 413, slug: 'payload-too-large', title: 'The request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, slug: 'unsupported-media-type', title: 'The request body must be application/json' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, slug: 'idempotency-key-reused', title: 'The idempotency key was used for another request' },
  INTERNAL: { status: 500, slug: 'internal', title: 'Internal server error' },
  DATABASE_UNAVAILABLE: { status: 503, slug: 'database-unavailable', title: 'The database is unavailable' },
} as const;

export type ProblemCode = keyof typeof PROBLEMS;

export function problemType(code: ProblemCode): string {
  return `urn:relevo:problem:${PROBLEMS[code].slug}`;
}

export interface FieldError {
  /** Where the bad value is: `body.email`, `params.id`, `query.limit`, `headers.if-match`. */
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  instance?: string;
  errors?: FieldError[];
}

/** An error that is answered as a problem of its code. */
export class ApiError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  constructor(code: ProblemCode, detail: string, errors?: FieldError[]) {
    super(detail);
    this.name = 'ApiError';
    this.code = code;
    this.status = PROBLEMS[code].status;
    this.errors = errors;
  }
}

export class ValidationError extends ApiError {
  constructor(errors: FieldError[], detail = 'the request has invalid fields') {
    super('VALIDATION_FAILED', detail, errors);
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends ApiError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${id} does not exist`);
    this.name = 'NotFoundError';
  }
}

export class VersionMismatchError extends ApiError {
  constructor(expected: string, actual: number) {
    super('VERSION_MISMATCH', `If-Match ${expected} does not match the current version ${actual}`);
    this.name = 'VersionMismatchError';
  }
}

export class DatabaseUnavailableError extends ApiError {
  constructor(detail = 'the database cannot be reached; retry later') {
    super('DATABASE_UNAVAILABLE', detail);
    this.name = 'DatabaseUnavailableError';
  }
}

export function problemOf(code: ProblemCode, detail: string, errors?: FieldError[]): Problem {
  const p = PROBLEMS[code];
  return { type: problemType(code), title: p.title, status: p.status, detail, code, ...(errors ? { errors } : {}) };
}

/** Zod issues as field errors; unknown keys become one error per key, at that key's path. */
export function fieldErrors(location: string, error: ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = [location, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...base, key].join('.'), message: 'unknown field' });
    } else {
      out.push({ path: base.join('.'), message: issue.message });
    }
  }
  return out;
}

// postgres.js / node socket errors and SQLSTATEs meaning "cannot talk to the database".
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED',
  '57P01', '57P02', '57P03', '53300', '3D000', '28000', '28P01',
]);

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let e: unknown = err;
  while (e !== undefined && e !== null && chain.length < 8) {
    chain.push(e);
    if (e instanceof AggregateError) chain.push(...e.errors);
    e = (e as { cause?: unknown }).cause;
  }
  return chain;
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isConnectionError(err: unknown): boolean {
  return causes(err).some((e) => {
    const code = codeOf(e);
    return code !== undefined && (CONNECTION_ERROR_CODES.has(code) || code.startsWith('08'));
  });
}

function uniqueViolation(err: unknown): string | undefined {
  for (const e of causes(err)) {
    if (codeOf(e) === '23505') return String((e as { constraint_name?: string }).constraint_name ?? '');
  }
  return undefined;
}

/** Maps anything thrown while serving a request; `internal` is true when it deserves an error log. */
export function toProblem(err: unknown): { problem: Problem; internal: boolean } {
  if (err instanceof ApiError) return { problem: problemOf(err.code, err.message, err.errors), internal: false };
  if (err instanceof DomainError) {
    return { problem: problemOf(err.code, err.message), internal: false };
  }
  if (err instanceof HTTPException) {
    if (err.status === 400) return { problem: problemOf('MALFORMED_JSON', err.message || 'malformed JSON'), internal: false };
    if (err.status === 413) return { problem: problemOf('PAYLOAD_TOO_LARGE', err.message), internal: false };
    if (err.status === 415) return { problem: problemOf('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'), internal: false };
    if (err.status === 401) return { problem: problemOf('UNAUTHORIZED', err.message), internal: false };
    if (err.status === 404) return { problem: problemOf('NOT_FOUND', err.message), internal: false };
  }
  const constraint = uniqueViolation(err);
  if (constraint === PARTNER_EMAIL_UNIQUE) {
    return { problem: problemOf('EMAIL_TAKEN', 'another live partner has this email (compared case-insensitively)'), internal: false };
  }
  if (isConnectionError(err)) return { problem: problemOf('DATABASE_UNAVAILABLE', 'the database cannot be reached; retry later'), internal: true };
  return { problem: problemOf('INTERNAL', 'an unexpected error occurred'), internal: true };
}
