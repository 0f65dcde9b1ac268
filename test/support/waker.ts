// What the API does after each commit, for tests that write without HTTP: announce the
// committed partners' shard keys on the commit channel; the relay turns that into drains.
import { createCommitAnnouncer, type Database } from '@relevo/db';
import type { OnCommitted } from './writes.ts';

export function commitWaker(database: Database): OnCommitted {
  const announce = createCommitAnnouncer(database.sql);
  return (ids) => void announce(ids).catch(() => undefined);
}
