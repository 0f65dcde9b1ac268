// Idempotency-Key on POSTs: what identifies "the same request" and how a key is checked.
import { createHash } from 'node:crypto';
import { ValidationError } from './problems.ts';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';

export interface IdempotencyRequest {
  key: string;
  /** sha256 of method, path and the canonical JSON body. */
  requestHash: string;
}

const KEY = /^[\x21-\x7e]{1,255}$/;

/** JSON with object keys sorted at every level, so key order does not make two bodies differ. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function requestHash(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${canonicalJson(body)}`).digest('hex');
}

/** Null without a key; a 400 for a key that is not 1–255 visible ASCII characters. */
export function idempotencyRequest(header: string | undefined, method: string, path: string, body: unknown): IdempotencyRequest | null {
  if (header === undefined) return null;
  if (!KEY.test(header)) {
    throw new ValidationError(
      [{ path: 'headers.idempotency-key', message: 'use 1 to 255 visible ASCII characters' }],
      'the Idempotency-Key header is not valid',
    );
  }
  return { key: header, requestHash: requestHash(method, path, body) };
}
