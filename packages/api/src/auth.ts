// Bearer tokens from API_TOKENS (or API_TOKENS_FILE): each has a name, scopes and a secret.
// Every configured token is compared, in constant time, on every request, so neither the
// match nor its position leaks through timing. A request then needs the scope of what it
// does: `read` for GETs under /v1, `write` for the other methods, `operator` for /v1/outbox/* and
// /v1/dead-letters.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './problems.ts';
import type { AppEnv } from './context.ts';

export const SCOPES = ['read', 'write', 'operator'] as const;
export type Scope = (typeof SCOPES)[number];

/** Shortest accepted secret, for API tokens and API_PRINCIPAL_SECRET alike: 32 characters (`openssl rand -hex 16`). */
export const MIN_SECRET_LENGTH = 32;

export interface ApiToken {
  /** Not secret: logged, and recorded as `api:<name>` on the outbox rows it skips or retries. Null for a bare secret. */
  name: string | null;
  scopes: readonly Scope[];
  secret: string;
}

/** A configuration error in the token list. Its message never quotes a secret (or any part of an entry). */
export class TokenListError extends Error {
  readonly code = 'API_TOKENS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'TokenListError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Why a secret (a token's or API_PRINCIPAL_SECRET) is refused, or null. */
export function secretProblem(secret: string): string | null {
  if (secret.length < MIN_SECRET_LENGTH) return `it has ${secret.length} characters; use at least ${MIN_SECRET_LENGTH} (e.g. openssl rand -hex 32)`;
  if (!VISIBLE_ASCII.test(secret)) return 'use visible ASCII characters only (no spaces, commas or control characters)';
  return null;
}

/**
 * `name:scope+scope:secret` entries separated by commas or new lines; `#` starts a comment
 * line (in a file). An entry without `:` is a bare secret, as API_TOKENS held before tokens
 * had names: it keeps every scope, and the process warns about it at start.
 */
export function parseApiTokens(text: string): ApiToken[] {
  const entries = text.split(/\r?\n/).filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.split(',')).map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new TokenListError('give at least one token as name:scope+scope:secret (scopes: read, write, operator)');
  const tokens = entries.map((entry, i) => {
    const where = `entry ${i + 1} of ${entries.length}`;
    const first = entry.indexOf(':');
    let token: ApiToken;
    if (first < 0) {
      token = { name: null, scopes: SCOPES, secret: entry };
    } else {
      const second = entry.indexOf(':', first + 1);
      if (second < 0) throw new TokenListError(`${where}: expected name:scope+scope:secret (or a bare secret, without ':')`);
      const name = entry.slice(0, first);
      const scopes = entry.slice(first + 1, second).split('+');
      if (!NAME.test(name)) throw new TokenListError(`${where}: a name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
      if (scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) {
        throw new TokenListError(`${where}: unknown scope; scopes are ${SCOPES.join(', ')}, joined with +`);
      }
      token = { name, scopes: [...new Set(scopes as Scope[])], secret: entry.slice(second + 1) };
    }
    const problem = secretProblem(token.secret);
    if (problem) throw new TokenListError(`${where}: the secret is too weak: ${problem}`);
    return token;
  });
  for (let i = 0; i < tokens.length; i++) {
    for (let j = i + 1; j < tokens.length; j++) {
      if (tokens[i]!.secret === tokens[j]!.secret) throw new TokenListError(`entries ${i + 1} and ${j + 1} have the same secret`);
      if (tokens[i]!.name !== null && tokens[i]!.name === tokens[j]!.name) throw new TokenListError(`entries ${i + 1} and ${j + 1} have the same name`);
    }
  }
  return tokens;
}

/** Who made a request: set on the request context by requireBearer. */
export interface Caller {
  /** The token's name; `legacy-<8 hex>` for a bare secret. */
  name: string;
  scopes: ReadonlySet<Scope>;
  /** HMAC-SHA256 of the token keyed with API_PRINCIPAL_SECRET: what idempotency keys are stored under. */
  principal: string;
  /**
   * The unkeyed hash idempotency keys were stored under before API_PRINCIPAL_SECRET: looked
   * up as well, so a retry across the upgrade is replayed, not applied twice. Such records
   * expire with IDEMPOTENCY_KEY_RETENTION_HOURS; none is written any more.
   */
  legacyPrincipal: string;
}

export interface TokenCheck {
  /** The caller when the token is valid. */
  callerOf(token: string): Caller | null;
  /** Each token's name and scopes (not its secret), for the start-up log; `bare` for a secret without a name. */
  readonly described: readonly { name: string; scopes: string; bare: boolean }[];
}

const keyed = (secret: string, token: string) => createHmac('sha256', secret).update(token, 'utf8').digest();
const legacyPrincipalOf = (token: string) => createHash('sha256').update(`relevo:${token}`, 'utf8').digest('hex').slice(0, 32);

export function tokenCheck(tokens: readonly ApiToken[], principalSecret: string): TokenCheck {
  const known = tokens.map((t) => {
    const mac = keyed(principalSecret, t.secret);
    const principal = mac.toString('hex').slice(0, 32);
    const caller: Caller = {
      name: t.name ?? `legacy-${principal.slice(0, 8)}`,
      scopes: new Set(t.scopes),
      principal,
      legacyPrincipal: legacyPrincipalOf(t.secret),
    };
    return { mac, caller, bare: t.name === null };
  });
  return {
    described: known.map((k) => ({ name: k.caller.name, scopes: [...k.caller.scopes].join('+'), bare: k.bare })),
    callerOf(token) {
      const candidate = keyed(principalSecret, token);
      let found: Caller | null = null;
      for (const k of known) {
        // Equal-length MACs: timingSafeEqual never throws, and the loop never breaks early.
        if (timingSafeEqual(candidate, k.mac)) found = k.caller;
      }
      return found;
    },
  };
}

export function requireBearer(check: TokenCheck): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new ApiError('UNAUTHORIZED', 'send Authorization: Bearer <token>');
    const caller = check.callerOf(match[1]!);
    if (caller === null) throw new ApiError('UNAUTHORIZED', 'the bearer token is not valid');
    c.set('caller', caller);
    await next();
  };
}

/** The scope a /v1 request needs. The OpenAPI document declares the same per operation (packages/api/test/scopes.test.ts checks both agree). */
export function scopeFor(method: string, path: string): Scope {
  if (path === '/v1/outbox' || path.startsWith('/v1/outbox/') || path === '/v1/dead-letters') return 'operator';
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

/** 403 when the caller's token lacks the scope of the request; runs after requireBearer. */
export const requireScope: MiddlewareHandler<AppEnv> = async (c, next) => {
  const scope = scopeFor(c.req.method, c.req.path);
  const caller = c.get('caller');
  if (!caller.scopes.has(scope)) {
    throw new ApiError('INSUFFICIENT_SCOPE', `the token ${caller.name} lacks the ${scope} scope that ${c.req.method} ${c.req.path} needs`);
  }
  await next();
};
