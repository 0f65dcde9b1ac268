// pg-boss drives the relay (see @relevo/db drain-queue). Jobs come from API commits (woken
// by NOTIFY), a per-shard backstop schedule, retry timers and runs that ran out of budget.
// The advisory lock held on the drain's own connection is the fence inside Postgres.
import { hostname } from 'node:os';
import type postgres from 'postgres';
import type { PgBoss } from 'pg-boss';
import { DRAIN_QUEUE, createBoss, drainKey, ensureDrainQueue, ensureShards, wakeShards } from '@relevo/db';
import type { Logger } from '@relevo/runtime';
import { ShardBusyError, drainShard, type DrainDeps } from './drain.ts';
import type { ProducerPool } from './producers.ts';
import type { RelayMetrics } from './metrics.ts';

/** Advisory-lock namespace of the relay's shard locks ('relv'). */
const SHARD_LOCK_SPACE = 0x72656c76;

export interface RelayWorkerOptions {
  databaseUrl: string;
  sql: postgres.Sql;
  producers: ProducerPool;
  log: Logger;
  metrics: RelayMetrics;
  relayId?: string;
  shards: number;
  batchSize: number;
  runBudgetMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long to wait before trying a shard that another relay holds, or after a failed run. */
  busyDelayMs?: number;
}

export interface RelayWorker {
  relayId: string;
  boss: PgBoss;
  /** Stops taking jobs, lets running drains finish their batch, closes producers. */
  stop(): Promise<void>;
}

export async function startRelayWorker(o: RelayWorkerOptions): Promise<RelayWorker> {
  const relayId = o.relayId ?? `${hostname()}:${process.pid}`;
  const boss = createBoss(o.databaseUrl);
  boss.on('error', (err: unknown) => o.log.error({ err }, 'pg-boss error'));
  await boss.start();
  await ensureDrainQueue(boss);
  await o.sql.unsafe(ensureShards(), [o.shards]);
  const busyDelayMs = o.busyDelayMs ?? 2000;
  const retryTimers = new Map<number, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopping = false;

  const scheduleRetry = (shard: number, at: Date) => {
    clearTimeout(retryTimers.get(shard));
    const delay = Math.max(0, at.getTime() - Date.now());
    retryTimers.set(shard, setTimeout(() => {
      if (!stopping) wakeShards(boss, [shard]).catch((err: unknown) => o.log.warn({ err, shard }, 'retry wake failed'));
    }, delay).unref());
  };

  const runDrain = async (shard: number): Promise<void> => {
    const conn = await o.sql.reserve();
    try {
      const [lock] = await conn.unsafe<{ ok: boolean }[]>('select pg_try_advisory_lock($1, $2) as ok', [SHARD_LOCK_SPACE, shard]);
      if (!lock?.ok) {
        o.metrics.drainRun(shard, 'locked');
        scheduleRetry(shard, new Date(Date.now() + busyDelayMs));
        return;
      }
      try {
        const deps: DrainDeps = {
          sql: conn, producers: o.producers, log: o.log, metrics: o.metrics, relayId, shards: o.shards,
          batchSize: o.batchSize, maxAttempts: o.maxAttempts, backoffBaseMs: o.backoffBaseMs, backoffMaxMs: o.backoffMaxMs,
        };
        const outcome = await drainShard(deps, shard, stopping ? 0 : o.runBudgetMs);
        o.metrics.drainRun(shard, outcome.reason);
        if (outcome.published > 0 || outcome.failed > 0) o.log.debug({ shard, ...outcome }, 'drain run');
        if (outcome.reason === 'budget' && !stopping) await wakeShards(boss, [shard]);
        if (outcome.nextRetryAt) scheduleRetry(shard, outcome.nextRetryAt);
        o.producers.touch(shard);
      } finally {
        await conn.unsafe('select pg_advisory_unlock($1, $2)', [SHARD_LOCK_SPACE, shard]).catch(() => undefined);
      }
    } catch (err) {
      if (err instanceof ShardBusyError) {
        o.metrics.drainRun(shard, 'busy');
        o.log.info({ shard, reason: err.message }, 'shard busy: another relay holds it, backing off');
        await o.producers.closeShard(shard);
        if (!stopping) scheduleRetry(shard, new Date(Date.now() + busyDelayMs));
        return;
      }
      o.metrics.drainRun(shard, 'error');
      o.log.error({ err, shard }, 'drain run failed; producers of the shard closed, will retry');
      await o.producers.closeShard(shard);
      if (!stopping) scheduleRetry(shard, new Date(Date.now() + busyDelayMs));
    } finally {
      conn.release();
    }
  };

  await boss.work<{ shard: number }>(
    DRAIN_QUEUE,
    { localConcurrency: o.shards, batchSize: 1, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 2 },
    async ([job]) => {
      if (!job || stopping) return;
      const run = runDrain(job.data.shard);
      running.add(run);
      try {
        await run;
      } finally {
        running.delete(run);
      }
    },
  );
  for (let shard = 0; shard < o.shards; shard++) {
    await boss.schedule(DRAIN_QUEUE, '* * * * *', { shard }, { key: drainKey(shard), singletonKey: drainKey(shard) });
  }
  await wakeShards(boss, Array.from({ length: o.shards }, (_, s) => s));
  o.log.info({ relayId, shards: o.shards }, 'relay worker started');

  return {
    relayId,
    boss,
    async stop() {
      stopping = true;
      for (const t of retryTimers.values()) clearTimeout(t);
      await boss.offWork(DRAIN_QUEUE, { wait: false }).catch(() => undefined);
      await Promise.allSettled([...running]);
      await o.producers.closeAll();
      await boss.stop({ graceful: true, timeout: 10_000 });
    },
  };
}
