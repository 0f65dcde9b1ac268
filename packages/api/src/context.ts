// What the app is given (deps) and what middleware leaves on the request context.
import type { Database } from '@relevo/db';
import type { Logger, Span } from '@relevo/runtime';
import type { ApiToken, Caller } from './auth.ts';
import type { ApiMetrics } from './metrics.ts';
import type { DeadLetterSource } from './routes/operations.ts';

export interface AppDeps {
  database: Database;
  /** Valid bearer tokens with their names and scopes (API_TOKENS, parsed by parseApiTokens). */
  tokens: readonly ApiToken[];
  /** Keys the HMAC that turns a token into its idempotency principal (API_PRINCIPAL_SECRET). */
  principalSecret: string;
  clock?: () => Date;
  /** Called after a write commits, with the partner ids that got outbox rows. Best effort. */
  onCommitted?: (aggregateIds: string[]) => void | Promise<void>;
  log: Logger;
  /** Where the operator page's dead-letter counts come from; without it they show as unknown. */
  deadLetters?: DeadLetterSource;
  /** Request, outbox and wake metrics (served on API_METRICS_PORT); none in most tests. */
  metrics?: ApiMetrics;
  /** The relay's shard count (RELAY_SHARDS), for the outbox status by shard; 4 by default. */
  shards?: number;
  /** Largest accepted request body; 64 KiB by default. */
  maxBodyBytes?: number;
  /**
   * Runs inside the write transaction after the change, its outbox rows and its idempotency
   * record are written, just before commit. Tests inject failures here.
   */
  beforeCommit?: (info: { aggregateIds: string[] }) => void | Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export type AppEnv = {
  Variables: {
    /** Whose token the request carries (requireBearer). */
    caller: Caller;
    /** The request's server span; its context goes into the outbox rows the request writes. */
    span: Span;
  };
};
