// Bearer tokens from API_TOKENS. Every configured token is compared, in constant time, on
// every request, so neither the match nor its position leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './problems.ts';
import type { AppEnv } from './context.ts';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export interface TokenCheck {
  /** The principal (a stable, non-secret name of the token) when it is valid. */
  principalOf(token: string): string | null;
}

export function tokenCheck(tokens: readonly string[]): TokenCheck {
  const known = tokens.filter((t) => t.length > 0).map((t) => ({ hash: digest(t), principal: digest(`relevo:${t}`).toString('hex').slice(0, 32) }));
  return {
    principalOf(token) {
      const candidate = digest(token);
      let found: string | null = null;
      for (const k of known) {
        // Equal-length digests: timingSafeEqual never throws, and the loop never breaks early.
        if (timingSafeEqual(candidate, k.hash)) found = k.principal;
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
    const principal = check.principalOf(match[1]!);
    if (principal === null) throw new ApiError('UNAUTHORIZED', 'the bearer token is not valid');
    c.set('principal', principal);
    await next();
  };
}
