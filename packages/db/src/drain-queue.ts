// The pg-boss queue that drives the relay. `stately` keyed by shard: at most one active
// and one queued drain per shard across every relay process. pg-boss's job table only
// says "look at shard k"; the outbox is the source of truth.
import { PgBoss, type StopOptions } from 'pg-boss';
import { connectBossDatabase, type BossDatabase } from './boss-database.ts';
import { query, type Query } from './query.ts';

/** The schema pg-boss keeps its tables in. */
export const BOSS_SCHEMA = 'pgboss';

export const DRAIN_QUEUE = 'relevo-drain';

/** The drain jobs running now, by shard, from pg-boss's job table. */
export function activeDrainJobs(): Query<{ shard: number; started_on: Date }> {
  return query('active-drain-jobs', `select (data->>'shard')::int as shard, started_on from ${BOSS_SCHEMA}.job
     where name = $1 and state = 'active' order by 1`, [DRAIN_QUEUE]);
}

export function drainKey(shard: number): string {
  return `shard-${shard}`;
}

/** pg-boss on its own postgres.js connections (boss-database.ts), closed when it stops. */
class RelevoBoss extends PgBoss {
  private readonly database: BossDatabase;

  constructor(database: BossDatabase, options: ConstructorParameters<typeof PgBoss>[0] & object) {
    super({ ...options, db: database });
    this.database = database;
  }

  override async stop(options?: StopOptions): Promise<void> {
    try {
      await super.stop(options);
    } finally {
      await this.database.end();
    }
  }
}

/**
 * A killed relay leaves its drain job active, and the shard's next drain waits behind it.
 * pg-boss fails a job whose heartbeat lapsed (heartbeatSeconds) in its monitor pass, which
 * runs every monitorIntervalSeconds (60 by default): at 2, a killed relay's shards move on
 * within about 12 s instead of up to 70 s.
 */
export function createBoss(databaseUrl: string): PgBoss {
  return new RelevoBoss(connectBossDatabase(databaseUrl, { max: 4, applicationName: 'relevo-pgboss' }), {
    schema: BOSS_SCHEMA,
    useListenNotify: true,
    superviseIntervalSeconds: 2,
    monitorIntervalSeconds: 2,
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
