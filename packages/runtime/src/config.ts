import { z } from 'zod';
import { redact } from './redact.ts';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Variables that are a secret as a whole (API_TOKENS, PULSAR_TOKEN, API_PRINCIPAL_SECRET): never
 * shown. A switch about one (PULSAR_ALLOW_INSECURE_TOKEN) is no secret.
 */
const SECRET_NAME = /^(?!.*(?:^|_)ALLOW_).*(?:^|_)(?:TOKENS?|SECRET|PASSWORD|CREDENTIALS?)$/;

/** How a bad value is quoted in a message: a secret variable's value not at all, any other redacted. */
export function shownValue(name: string, value: string): string {
  return SECRET_NAME.test(name) ? `(${value.length} characters, not shown)` : JSON.stringify(redact(value));
}

/**
 * Parses environment variables with a zod object schema. Every bad value is reported on
 * its own line naming the variable, so an operator can fix them all in one go. No line
 * carries a secret: see shownValue (guarded by test/config-values.test.ts).
 */
export function parseEnv<S extends z.ZodType<unknown, Record<string, unknown>>>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    const value = env[name];
    const shown = value === undefined ? `${name} is not set` : `${name}=${shownValue(name, value)} is invalid`;
    return redact(`config: ${shown}: ${issue.message}`);
  });
  throw new ConfigError(lines.join('\n'));
}

/**
 * What is wrong with a DATABASE_URL's choice of server, if anything. Every relevo process
 * writes, so a URL naming a primary and its standbys (`postgres://h1:5432,h2:5432/relevo`)
 * must ask for the primary: without target_session_attrs=primary a connection opened after
 * a failover may land on a standby. postgres.js's read-write check reads only
 * default_transaction_read_only, which a PostgreSQL 14+ standby reports as off: it accepts
 * a standby (porsager/postgres#815). Guarded by test/config-values.test.ts.
 */
function databaseUrlProblem(url: string): string | undefined {
  const m = /^postgres(?:ql)?:\/\/([^/?#]*)[^?#]*(?:\?([^#]*))?/.exec(url);
  if (!m) return undefined;
  const authority = m[1]!;
  const hosts = authority.slice(authority.lastIndexOf('@') + 1).split(',');
  const attrs = new URLSearchParams(m[2] ?? '').get('target_session_attrs');
  if (attrs === 'read-write') {
    return 'target_session_attrs=read-write lets this driver connect to a standby (it reads only default_transaction_read_only, off on a '
      + 'PostgreSQL 14+ standby): use target_session_attrs=primary';
  }
  if (attrs !== null && attrs !== 'primary') return 'target_session_attrs must be primary: every relevo process writes';
  if (hosts.length > 1 && attrs === null) return 'it names several hosts: add target_session_attrs=primary, or a connection may go to a standby';
  return undefined;
}

/** Shared variable schemas, so every process reads them the same way. */
export const env = {
  databaseUrl: z.string({ error: 'set it to a postgres:// connection URL' })
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .superRefine((url, ctx) => {
      const problem = databaseUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  durationMs: (fallback: number) => z.coerce.number().int().nonnegative().default(fallback),
  list: z.string().transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean)),
  brokerUrl: z.string().regex(/^pulsar(\+ssl)?:\/\//, 'expected pulsar:// or pulsar+ssl://').default('pulsar://localhost:6650'),
  pulsarAdminUrl: z.url().default('http://localhost:8080'),
  pulsarNamespace: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected tenant/namespace').default('public/default'),
};
