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

export function parseId(value: string): bigint {
  if (!/^\d+$/.test(value)) throw new CliError('USAGE', `"${value}" is not an outbox id (a positive integer)`);
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
