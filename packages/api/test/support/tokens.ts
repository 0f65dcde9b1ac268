// Bearer tokens for the API tests: one per scope, and one with every scope. Secrets are 32
// characters or more, as the API requires.
import { parseApiTokens, type ApiToken } from '../../src/auth.ts';

export const PRINCIPAL_SECRET = 'test-principal-secret-0123456789abcdef';

/** Every scope: the token the tests call with unless they say otherwise. */
export const TOKEN = 'test-token-all-scopes-0123456789abcdef';
/** Every scope too, under another name: idempotency keys are per token. */
export const OTHER_TOKEN = 'test-token-other-0123456789abcdef012345';
export const READ_TOKEN = 'test-token-read-only-0123456789abcdef01';
export const WRITE_TOKEN = 'test-token-write-only-0123456789abcdef0';
export const OPERATOR_TOKEN = 'test-token-operator-only-0123456789abcd';

export const TOKENS: ApiToken[] = parseApiTokens([
  `admin:read+write+operator:${TOKEN}`,
  `other:read+write+operator:${OTHER_TOKEN}`,
  `reader:read:${READ_TOKEN}`,
  `writer:write:${WRITE_TOKEN}`,
  `ops:operator:${OPERATOR_TOKEN}`,
].join(','));
