// pg-boss drives the relay (see @relevo/db drain-queue). Drain jobs come from commit
// announcements (the API NOTIFYs the shard keys it wrote; this relay sends a job for a
// shard it is not draining), a per-shard backstop schedule, retry timers and runs that ran
// out of budget. A run that emptied its shard lingers for idleLingerMs, woken by those
// announcements, so a steady trickle of events needs no job per event.
// The advisory lock held on the drain's own connection is the fence inside Postgres.
import { hostname } from 'node:os';
import type postgres from 'postgres';
import type { PgBoss } from 'pg-boss';
import {
  DRAIN_QUEUE, OUTBOX_COMMIT_CHANNEL, connectSql, createBoss, drainKey, ensureDrainQueue, ensureShards, parseCommitPayload, wakeShards,
} from '@relevo/db/sql';
import type { Logger } from '@relevo/runtime';
import { CommitSignal, coalescedWakes } from './commit-signal.ts';
import { BrokerUnavailableError, FenceLostError, ShardBusyError, drainShard, type DrainDeps } from './drain.ts';
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
  /** How long a run that emptied its shard waits for a new commit before it ends; 0: it ends at once. */
  idleLingerMs?: number;
  /** A run still going this long after its budget is taken for hung, fenced off, and its shard freed. */
  stallAfterMs?: number;
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
  const running = new Set<Promise<unknown>>();
  let stopping = false;

  const scheduleRetry = (shard: number, at: Date) => {
    clearTimeout(retryTimers.get(shard));
    const delay = Math.max(0, at.getTime() - Date.now());
    retryTimers.set(shard, setTimeout(() => {
      if (!stopping) wakeShards(boss, [shard]).catch((err: unknown) => o.log.warn({ err, shard }, 'retry wake failed'));
    }, delay).unref());
  };

  const commits = new CommitSignal(o.shards, coalescedWakes(
    (shard) => wakeShards(boss, [shard]),
    (shard, err) => {
      o.log.warn({ err, shard, retryInMs: busyDelayMs }, 'could not ask for a drain of an announced commit; retrying');
      if (!stopping) scheduleRetry(shard, new Date(Date.now() + busyDelayMs));
    },
  ));
  let listened = false;
  const listening = await o.sql.listen(OUTBOX_COMMIT_CHANNEL, (payload) => {
    const keys = parseCommitPayload(payload);
    if (keys) commits.notify(keys);
    else o.log.warn({ channel: OUTBOX_COMMIT_CHANNEL, payload }, 'ignoring a commit notification this relay does not understand');
  }, () => {
    // Called again each time postgres.js re-listens on a new connection: what was announced
    // while it had none is lost, so every shard is drained.
    if (listened) {
      o.log.info({ channel: OUTBOX_COMMIT_CHANNEL }, 'listening again after a lost connection: draining every shard');
      commits.notifyAll();
    }
    listened = true;
  });

  // One single-connection client per shard holds the shard's advisory lock for a run. Not
  // sql.reserve(): postgres.js crashes the process when a reserved connection's backend is
  // terminated (porsager/postgres#1208); a pool of one replaces the connection instead, and
  // the claims' pid fence notices that the lock went with it.
  const lockClients = new Map<number, postgres.Sql>();
  const lockClient = (shard: number) => {
    let c = lockClients.get(shard);
    if (!c) {
      c = connectSql(o.databaseUrl, { max: 1, applicationName: 'relevo-relay' });
      lockClients.set(shard, c);
    }
    return c;
  };
  /**
   * Ends a shard's lock client; the shard's next run opens a new one. A client whose run
   * failed is not trusted again: postgres.js can leave a pool of one whose backend was
   * terminated while it connected timing out on every later connect (the fault suite saw
   * CONNECT_TIMEOUT every 30 s for minutes on one shard, its rows left unsent).
   */
  const retireLockClient = (shard: number, conn: postgres.Sql) => {
    if (lockClients.get(shard) === conn) lockClients.delete(shard);
    void conn.end({ timeout: 1 }).catch(() => undefined);
  };

  // Shards this process is draining now. The advisory lock does not exclude a second run of
  // the same shard here: both would use the shard's one lock connection, and a session can
  // take a lock it holds again. pg-boss starts such a run when it fails a job whose heartbeat
  // lapsed (a busy event loop) while the run goes on; the two runs then sent on one producer
  // out of sequence order, and the broker dropped the lower sequences as duplicates.
  // A run stuck past its budget (a driver or broker call that never settles) would keep its
  // shard here for good: the watchdog below fences it off (it must not send again, should it
  // ever wake), ends its lock session, closes the shard's producers, then frees the shard.
  const draining = new Set<number>();
  const stallAfterMs = o.stallAfterMs ?? 120_000;

  /** Someone drains the shard now (another relay, or a run of this process): ask again shortly. */
  const lockedOut = (shard: number): undefined => {
    o.metrics.drainRun(shard, 'locked');
    if (!stopping) scheduleRetry(shard, new Date(Date.now() + busyDelayMs));
    return undefined;
  };

  /** A run that ended without draining: its producers are closed, the shard asked for again shortly. */
  const backOff = async (shard: number): Promise<undefined> => {
    await o.producers.closeShard(shard);
    if (!stopping) scheduleRetry(shard, new Date(Date.now() + busyDelayMs));
    return undefined;
  };

  /** One drain job's run; resolves to the commit generation it saw last when it emptied the shard. */
  const runDrain = async (shard: number): Promise<number | undefined> => {
    if (draining.has(shard)) return lockedOut(shard);
    draining.add(shard);
    const conn = lockClient(shard);
    const session: { pid?: number } = {};
    let fenced = false;
    const run = drainOnce(shard, conn, session, () => !fenced);
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => { timer = setTimeout(() => resolve('stalled'), o.runBudgetMs + stallAfterMs); });
    try {
      const first = await Promise.race([run, stalled]);
      if (first !== 'stalled') return first;
      fenced = true;
      o.metrics.drainRun(shard, 'stalled');
      o.log.error({ shard, lockPid: session.pid, runningMs: o.runBudgetMs + stallAfterMs },
        'drain run stalled: its lock session ended and producers closed; the shard is drained anew');
      if (session.pid !== undefined) {
        await o.sql`select pg_terminate_backend(${session.pid})`.catch((err: unknown) => o.log.warn({ err, shard }, 'could not end the stalled run\'s session'));
      }
      retireLockClient(shard, conn);
      return backOff(shard);
    } finally {
      clearTimeout(timer);
      draining.delete(shard);
    }
  };

  const drainOnce = async (shard: number, conn: postgres.Sql, session: { pid?: number }, current: () => boolean): Promise<number | undefined> => {
    try {
      const [lock] = await conn.unsafe<{ ok: boolean; pid: number }[]>(
        'select pg_try_advisory_lock($1, $2) as ok, pg_backend_pid() as pid', [SHARD_LOCK_SPACE, shard]);
      if (!lock?.ok) return lockedOut(shard);
      session.pid = lock.pid;
      try {
        const deps: DrainDeps = {
          sql: conn, lockPid: lock.pid, pool: o.sql, producers: o.producers, log: o.log, metrics: o.metrics, relayId, shards: o.shards,
          batchSize: o.batchSize, maxAttempts: o.maxAttempts, backoffBaseMs: o.backoffBaseMs, backoffMaxMs: o.backoffMaxMs,
          commits, idleLingerMs: o.idleLingerMs ?? 0, current,
        };
        const outcome = await drainShard(deps, shard, stopping ? 0 : o.runBudgetMs);
        o.metrics.drainRun(shard, outcome.reason);
        if (outcome.published > 0 || outcome.failed > 0) o.log.debug({ shard, ...outcome }, 'drain run');
        if (outcome.reason === 'budget' && !stopping) await wakeShards(boss, [shard]);
        if (outcome.nextRetryAt) scheduleRetry(shard, outcome.nextRetryAt);
        o.producers.touch(shard);
        return outcome.commitsSeen;
      } finally {
        await conn.unsafe('select pg_advisory_unlock($1, $2)', [SHARD_LOCK_SPACE, shard]).catch(() => undefined);
      }
    } catch (err) {
      if (!current()) {
        o.log.warn({ err, shard }, 'a drain run fenced off as stalled has ended');
        return undefined;
      }
      if (err instanceof BrokerUnavailableError) {
        o.metrics.drainRun(shard, 'broker_unavailable');
        o.log.warn({ shard, reason: err.message, retryInMs: busyDelayMs }, 'broker unavailable: rows stay in hand, no attempt counted');
        return backOff(shard);
      }
      if (err instanceof ShardBusyError || err instanceof FenceLostError) {
        o.metrics.drainRun(shard, err.code === 'SHARD_BUSY' ? 'busy' : 'fence_lost');
        o.log.info({ shard, reason: err.message }, 'shard not ours right now: backing off');
        return backOff(shard);
      }
      o.metrics.drainRun(shard, 'error');
      o.log.error({ err, shard }, 'drain run failed; producers and lock session of the shard closed, will retry');
      retireLockClient(shard, conn);
      return backOff(shard);
    }
  };

  await boss.work<{ shard: number }>(
    DRAIN_QUEUE,
    { localConcurrency: o.shards, batchSize: 1, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 2 },
    async ([job]) => {
      if (!job || stopping) return;
      const { shard } = job.data;
      commits.runStarted(shard);
      const run = runDrain(shard);
      running.add(run);
      let seen: number | undefined;
      try {
        seen = await run;
      } finally {
        running.delete(run);
        commits.runEnded(shard, seen);
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
      commits.close();
      await listening.unlisten().catch(() => undefined);
      for (const t of retryTimers.values()) clearTimeout(t);
      await boss.offWork(DRAIN_QUEUE, { wait: false }).catch(() => undefined);
      await Promise.allSettled([...running]);
      await o.producers.closeAll();
      await Promise.all([...lockClients.values()].map((c) => c.end({ timeout: 5 })));
      await boss.stop({ graceful: true, timeout: 10_000 });
    },
  };
}
