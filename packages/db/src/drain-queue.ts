// The pg-boss queue that drives the relay. `stately` keyed by shard: at most one active
// and one queued drain per shard across every relay process. pg-boss's job table only
// says "look at shard k"; the outbox is the source of truth.
import { PgBoss } from 'pg-boss';

export const DRAIN_QUEUE = 'relevo-drain';

export function drainKey(shard: number): string {
  return `shard-${shard}`;
}

/**
 * A killed relay leaves its drain job active, and the shard's next drain waits behind it.
 * pg-boss fails a job whose heartbeat lapsed (heartbeatSeconds) in its monitor pass, which
 * runs every monitorIntervalSeconds (60 by default): at 2, a killed relay's shards move on
 * within about 12 s instead of up to 70 s.
 */
export function createBoss(databaseUrl: string): PgBoss {
  return new PgBoss({
    connectionString: databaseUrl,
    schema: 'pgboss',
    useListenNotify: true,
    superviseIntervalSeconds: 2,
    monitorIntervalSeconds: 2,
    max: 4,
    application_name: 'relevo-pgboss',
  });
}

export async function ensureDrainQueue(boss: PgBoss): Promise<void> {
  if (await boss.getQueue(DRAIN_QUEUE)) return;
  await boss.createQueue(DRAIN_QUEUE, {
    policy: 'stately',
    notify: true,
    retryLimit: 0,
    heartbeatSeconds: 10,
    expireInSeconds: 300,
  });
}

/** Best effort: ask for a drain of each shard; a wake already queued absorbs this one. */
export async function wakeShards(boss: PgBoss, shards: Iterable<number>, startAfter?: Date): Promise<void> {
  await Promise.all([...shards].map((shard) =>
    boss.send(DRAIN_QUEUE, { shard }, { singletonKey: drainKey(shard), ...(startAfter ? { startAfter } : {}) })));
}
