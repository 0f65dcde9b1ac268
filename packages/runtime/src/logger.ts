import { pino, type Logger } from 'pino';
import { redact } from './redact.ts';

export type { Logger };

/**
 * Structured JSON logs on stdout (a CLI command that prints its results there logs to stderr:
 * file descriptor 2); `component` tells the processes apart in one stream. Every serialized
 * line goes through redact, so no message, field or error stack carries a URL password, a
 * token or a webhook's query (packages/runtime/test/redact.test.ts).
 */
export function createLogger(component: string, level = 'info', destination: pino.DestinationStream | 1 | 2 = 1): Logger {
  const options = { level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: redact } };
  if (destination === 1) return pino(options);
  return pino(options, destination === 2 ? pino.destination({ fd: 2, sync: true }) : destination);
}
