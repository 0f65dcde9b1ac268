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

/** Shared variable schemas, so every process reads them the same way. */
export const env = {
  databaseUrl: z.string({ error: 'set it to a postgres:// connection URL' })
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  durationMs: (fallback: number) => z.coerce.number().int().nonnegative().default(fallback),
  list: z.string().transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean)),
  brokerUrl: z.string().regex(/^pulsar(\+ssl)?:\/\//, 'expected pulsar:// or pulsar+ssl://').default('pulsar://localhost:6650'),
  pulsarAdminUrl: z.url().default('http://localhost:8080'),
  pulsarNamespace: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected tenant/namespace').default('public/default'),
};
