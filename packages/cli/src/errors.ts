/** Exit codes every `relevo` command keeps: scripts can tell bad input from a missing row. */
export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3, conflict: 4 } as const;

export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: 'USAGE' | 'NOT_FOUND' | 'CONFLICT' | 'UNAVAILABLE', message: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = code === 'USAGE' ? EXIT.usage : code === 'NOT_FOUND' ? EXIT.notFound : code === 'CONFLICT' ? EXIT.conflict : EXIT.failure;
  }
}
