// What the API does after each commit, for tests that write without HTTP: wake the relay
// for the shards of the committed partners (coalesced, at most one send per shard per tick).
import { createBoss, ensureDrainQueue, shardOf, wakeShards } from '@relevo/db';

export interface Waker {
  wake(aggregateIds: string[]): void;
  stop(): Promise<void>;
}

export async function startWaker(databaseUrl: string, shards: number): Promise<Waker> {
  const boss = createBoss(databaseUrl);
  await boss.start();
  await ensureDrainQueue(boss);
  const dirty = new Set<number>();
  const timer = setInterval(() => {
    if (dirty.size === 0) return;
    const batch = [...dirty];
    dirty.clear();
    wakeShards(boss, batch).catch(() => undefined);
  }, 20);
  return {
    wake(ids) {
      for (const id of ids) dirty.add(shardOf(id, shards));
    },
    async stop() {
      clearInterval(timer);
      await boss.stop({ graceful: false });
    },
  };
}
