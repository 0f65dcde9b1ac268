import postgres from 'postgres';

export interface ConnectOptions {
  max?: number;
  applicationName?: string;
  onnotice?: (n: postgres.Notice) => void;
}

/** A postgres.js pool as relevo configures it everywhere. */
export function connectSql(url: string, opts: ConnectOptions = {}): postgres.Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    connection: { application_name: opts.applicationName ?? 'relevo' },
    onnotice: opts.onnotice ?? (() => {}),
    // bigint columns (outbox ids, sequences) come back as JS bigint, never a lossy number.
    types: { bigint: postgres.BigInt },
  });
}
