import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; `component` tells the processes apart in one stream. */
export function createLogger(component: string, level = 'info'): Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}
