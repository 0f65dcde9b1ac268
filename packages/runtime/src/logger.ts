import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout (a CLI command that prints its results there logs to stderr:
 * file descriptor 2); `component` tells the processes apart in one stream.
 */
export function createLogger(component: string, level = 'info', fd: 1 | 2 = 1): Logger {
  const options = { level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime };
  return fd === 1 ? pino(options) : pino(options, pino.destination({ fd, sync: true }));
}
