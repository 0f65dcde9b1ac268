import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into one clear usage line. */
export function parse<O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { json: { type: 'boolean' }, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('USAGE', (err as Error).message);
  }
}

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };

/** An ISO time, or a duration ago: `90m`, `2h`, `7d`. */
export function parseTime(flag: string, value: string, now = Date.now()): Date {
  const rel = /^(\d+)([smhdw])$/.exec(value);
  if (rel) return new Date(now - Number(rel[1]) * UNITS[rel[2]!]!);
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime())) {
    throw new CliError('USAGE', `--${flag}: "${value}" is not a time (use ISO 8601 like 2026-11-28T10:00:00Z, or 90m, 2h, 7d)`);
  }
  return d;
}

/** Postgres bigint's largest value: ids and cursors past it are refused here, not by the database. */
const MAX_BIGINT = 9_223_372_036_854_775_807n;

export function parseId(value: string): bigint {
  if (!/^\d{1,19}$/.test(value) || BigInt(value) > MAX_BIGINT) {
    throw new CliError('USAGE', `"${value}" is not an outbox id (a positive integer up to ${MAX_BIGINT})`);
  }
  return BigInt(value);
}

export function parsePositive(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CliError('USAGE', `--${flag}: "${value}" is not a positive whole number`);
  return n;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseUuid(flag: string, value: string): string {
  if (!UUID.test(value)) throw new CliError('USAGE', `--${flag}: "${value}" is not a UUID`);
  return value;
}

/** Text an operator gives that is stored and printed later (a skip reason): no control characters. */
export function parseStoredText(flag: string, value: string, max: number): string {
  const text = value.trim();
  if (!text) throw new CliError('USAGE', `--${flag} must not be blank`);
  if (text.length > max) throw new CliError('USAGE', `--${flag} is ${text.length} characters; at most ${max}`);
  if (/[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u.test(text)) throw new CliError('USAGE', `--${flag} must not contain control characters`);
  return text;
}

/**
 * Who a retry or skip is recorded as (retried_by, skipped_by): `cli:<--by>`, else
 * `cli:<the OS user>` (`cli:uid-<n>` for a user without a name, as in some containers).
 */
export function actorOf(by: string | undefined): string {
  if (by !== undefined) {
    const name = parseStoredText('by', by, 64);
    if (!/^[\x21-\x7e]+$/.test(name)) throw new CliError('USAGE', '--by: use visible ASCII characters, no spaces (e.g. --by alice)');
    return `cli:${name}`;
  }
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
