// What the API does after each commit, for tests that write without HTTP: announce the
// committed partners' shard keys on the commit channel; the relay turns that into drains.
import { connectSql, createCommitAnnouncer } from '@relevo/db';

export interface Waker {
  wake(aggregateIds: string[]): void;
  stop(): Promise<void>;
}

export function startWaker(databaseUrl: string): Waker {
  const sql = connectSql(databaseUrl, { max: 2, applicationName: 'relevo-test-waker' });
  const announce = createCommitAnnouncer(sql);
  return {
    wake: (ids) => void announce(ids).catch(() => undefined),
    stop: () => sql.end({ timeout: 5 }),
  };
}
