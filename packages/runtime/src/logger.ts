import { pino, type Logger } from 'pino';
import { redact } from './redact.ts';

export type { Logger };

/**
 * Structured JSON logs on stdout; `component` tells the processes apart in one stream.
 * Every serialized line goes through redact, so no message, field or error stack carries
 * a URL password, a token or a webhook's query (packages/runtime/test/redact.test.ts).
 */
export function createLogger(component: string, level = 'info', destination?: pino.DestinationStream): Logger {
  const options = { level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: redact } };
  return destination ? pino(options, destination) : pino(options);
}
