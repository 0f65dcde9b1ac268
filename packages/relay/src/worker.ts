// pg-boss drives the relay (see @relevo/db drain-queue). Drain jobs come from commit
// announcements (the API NOTIFYs the shard keys it wrote; this relay sends a job for a
// shard it is not draining), a per-shard backstop schedule, retry timers and runs that ran
// out of budget. A run that emptied its shard lingers for idleLingerMs, woken by those
// announcements, so a steady trickle of events needs no job per event.
import { hostname } from 'node:os';
import type postgres from 'postgres';
import type { PgBoss } from 'pg-boss';
import {
  DRAIN_QUEUE, OUTBOX_COMMIT_CHANNEL, createBoss, drainKey, ensureDrainQueue, ensureShards, parseCommitPayload, queryRunner, requestLayout,
  runQuery, wakeShards, type LayoutRow,
} from '@relevo/db/sql';
import type { Logger } from '@relevo/runtime';
import { CommitSignal, coalescedWakes } from './commit-signal.ts';
import { drainShard, type DrainDeps } from './drain.ts';
import { BrokerUnavailableError, FenceLostError, SendOutcomeUnknownError, ShardBusyError } from './errors.ts';
import type { RelayMetrics } from './metrics.ts';
import type { ProducerPool } from './producers.ts';
import { RetryTimers } from './retry-timers.ts';
import { ShardLeases, type ShardLease } from './shard-lease.ts';

export interface RelayWorkerOptions {
  databaseUrl: string;
  sql: postgres.Sql;
  producers: ProducerPool;
  log: Logger;
  metrics: RelayMetrics;
  relayId?: string;
  /**
   * The shard count this relay asks for (RELAY_SHARDS). It drains under the layout the
   * database records (`layout`, or the one its request leaves active), which may differ.
   */
  shards: number;
  /** The active layout to drain under; without it the worker requests `shards` and takes the active one. */
  layout?: LayoutRow;
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
  /** The layout this worker drains under. */
  layout: LayoutRow;
  /**
   * Another layout is pending: runs stop lingering and every shard is drained once, so that
   * each settles what it holds and closes (its claims already find nothing).
   */
  closeForPendingLayout(): void;
  /** Stops taking jobs, lets running drains finish their batch, closes producers. */
  stop(): Promise<void>;
}

/**
 * The drain runs of this process, one shard at a time each. The advisory lock does not
 * exclude a second run of a shard here: both would use the shard's one lock session, and a
 * session can take a lock it holds again. pg-boss starts such a run when it fails a job whose
 * heartbeat lapsed (a busy event loop) while the run goes on (test/relay.test.ts: "runs one
 * drain of a shard at a time in a process"). A run stuck past its budget (a driver or broker
 * call that never settles) would keep its shard for good: the watchdog fences it off (it must
 * not send or write again, should it ever wake), ends its lock session, closes the shard's
 * producers, then frees the shard.
 */
class ShardRuns {
  private readonly draining = new Set<number>();
  private readonly leases: ShardLeases;
  private readonly retries: RetryTimers;
  private readonly o: RelayWorkerOptions & { relayId: string; busyDelayMs: number; stallAfterMs: number; layout: LayoutRow };
  private readonly deps: Omit<DrainDeps, 'session' | 'lockPid' | 'current'>;
  private readonly requeue: (shard: number) => Promise<void>;
  stopping = false;

  constructor(o: ShardRuns['o'], commits: CommitSignal, retries: RetryTimers, requeue: (shard: number) => Promise<void>) {
    this.o = o;
    this.leases = new ShardLeases(o.databaseUrl);
    this.retries = retries;
    this.requeue = requeue;
    this.deps = {
      pool: queryRunner(o.sql), producers: o.producers, log: o.log, metrics: o.metrics, relayId: o.relayId,
      generation: o.layout.generation, shards: o.layout.shards,
      batchSize: o.batchSize, maxAttempts: o.maxAttempts, backoffBaseMs: o.backoffBaseMs, backoffMaxMs: o.backoffMaxMs,
      commits, idleLingerMs: o.idleLingerMs ?? 0,
    };
  }

  /** One drain job's run; resolves to the commit generation it saw last when it emptied the shard. */
  async run(shard: number): Promise<number | undefined> {
    if (this.draining.has(shard)) return this.lockedOut(shard);
    this.draining.add(shard);
    let fenced = false;
    const held: { lease?: ShardLease } = {};
    const run = this.drainOnce(shard, held, () => !fenced);
    let timer: NodeJS.Timeout | undefined;
    const budget = this.o.runBudgetMs + this.o.stallAfterMs;
    const stalled = new Promise<'stalled'>((resolve) => { timer = setTimeout(() => resolve('stalled'), budget); });
    try {
      const first = await Promise.race([run, stalled]);
      if (first !== 'stalled') return first;
      fenced = true;
      this.o.metrics.drainRun(shard, 'stalled');
      this.o.log.error({ shard, runningMs: budget }, 'drain run stalled: its lock session ended and producers closed; the shard is drained anew');
      if (held.lease) await this.leases.terminate(this.o.sql, held.lease).catch((err: unknown) => this.o.log.warn({ err, shard }, 'could not end the stalled run\'s session'));
      else this.leases.retire(shard);
      return await this.backOff(shard);
    } finally {
      clearTimeout(timer);
      this.draining.delete(shard);
    }
  }

  private async drainOnce(shard: number, held: { lease?: ShardLease }, current: () => boolean): Promise<number | undefined> {
    try {
      const lease = await this.leases.take(shard);
      if (!lease) return this.lockedOut(shard);
      held.lease = lease;
      try {
        const outcome = await drainShard({ ...this.deps, session: lease.session, lockPid: lease.pid, current }, shard, this.stopping ? 0 : this.o.runBudgetMs);
        this.o.metrics.drainRun(shard, outcome.reason);
        if (outcome.published > 0 || outcome.failed > 0) this.o.log.debug({ shard, ...outcome }, 'drain run');
        if (outcome.reason === 'budget' && !this.stopping) await this.requeue(shard);
        if (outcome.nextRetryAt) this.retries.at(shard, outcome.nextRetryAt);
        if (outcome.leftInHand > 0) this.retries.after(shard, this.o.busyDelayMs);
        return outcome.commitsSeen;
      } finally {
        await lease.release();
      }
    } catch (err) {
      return this.failed(shard, err, current);
    }
  }

  private async failed(shard: number, err: unknown, current: () => boolean): Promise<undefined> {
    if (!current()) {
      this.o.log.warn({ err, shard }, 'a drain run fenced off as stalled has ended');
      return undefined;
    }
    if (err instanceof BrokerUnavailableError) {
      this.o.metrics.drainRun(shard, 'broker_unavailable');
      this.o.log.warn({ shard, reason: err.message, retryInMs: this.o.busyDelayMs }, 'broker unavailable: rows stay in hand, no attempt counted');
    } else if (err instanceof SendOutcomeUnknownError) {
      this.o.metrics.drainRun(shard, 'send_failed');
      this.o.log.warn({ shard, reason: err.message, retryInMs: this.o.busyDelayMs }, 'sends failed with their fate unknown: rows stay in hand, no attempt counted');
    } else if (err instanceof ShardBusyError || err instanceof FenceLostError) {
      this.o.metrics.drainRun(shard, err.code === 'SHARD_BUSY' ? 'busy' : 'fence_lost');
      this.o.log.info({ shard, reason: err.message }, 'shard not ours right now: backing off');
    } else {
      this.o.metrics.drainRun(shard, 'error');
      this.o.log.error({ err, shard }, 'drain run failed; producers and lock session of the shard closed, will retry');
      this.leases.retire(shard);
    }
    return this.backOff(shard);
  }

  /** Someone drains the shard now (another relay, or a run of this process): ask again shortly. */
  private lockedOut(shard: number): undefined {
    this.o.metrics.drainRun(shard, 'locked');
    if (!this.stopping) this.retries.after(shard, this.o.busyDelayMs);
    return undefined;
  }

  /** A run that ended without draining: its producers are closed, the shard asked for again shortly. */
  private async backOff(shard: number): Promise<undefined> {
    await this.o.producers.closeShard(shard);
    if (!this.stopping) this.retries.after(shard, this.o.busyDelayMs);
    return undefined;
  }

  close(): Promise<void> {
    return this.leases.closeAll();
  }
}

export async function startRelayWorker(options: RelayWorkerOptions): Promise<RelayWorker> {
  const relayId = options.relayId ?? `${hostname()}:${process.pid}`;
  const layout = options.layout ?? (await requestLayout(options.sql, options.shards, relayId)).active;
  const o = { ...options, relayId, layout, busyDelayMs: options.busyDelayMs ?? 2000, stallAfterMs: options.stallAfterMs ?? 120_000 };
  const shards = layout.shards;
  o.metrics.useShards(shards);
  const boss = createBoss(o.databaseUrl);
  boss.on('error', (err: unknown) => o.log.error({ err }, 'pg-boss error'));
  await boss.start();
  await ensureDrainQueue(boss);
  await runQuery(o.sql, ensureShards({ shards }));
  const running = new Set<Promise<unknown>>();

  const wake = (shard: number) => wakeShards(boss, [shard]);
  const retries = new RetryTimers((shard) => void wake(shard).catch((err: unknown) => o.log.warn({ err, shard }, 'retry wake failed')));
  const commits = new CommitSignal(shards, coalescedWakes(wake, (shard, err) => {
    o.log.warn({ err, shard, retryInMs: o.busyDelayMs }, 'could not ask for a drain of an announced commit; retrying');
    retries.after(shard, o.busyDelayMs);
  }));
  const runs = new ShardRuns(o, commits, retries, wake);

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

  await boss.work<{ shard: number }>(
    DRAIN_QUEUE,
    { localConcurrency: shards, batchSize: 1, pollingIntervalSeconds: 1, notifyPollingIntervalSeconds: 2 },
    async ([job]) => {
      if (!job || runs.stopping) return;
      const { shard } = job.data;
      // A job for a shard of another layout (more shards than this one has): nothing to drain here.
      if (shard >= shards) return;
      commits.runStarted(shard);
      const run = runs.run(shard);
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
  for (let shard = 0; shard < shards; shard++) {
    await boss.schedule(DRAIN_QUEUE, '* * * * *', { shard }, { key: drainKey(shard), singletonKey: drainKey(shard) });
  }
  // The backstops of a larger layout's shards, if one came before.
  for (const { key } of await boss.getSchedules(DRAIN_QUEUE)) {
    const shard = /^shard-(\d+)$/.exec(key)?.[1];
    if (shard !== undefined && Number(shard) >= shards) await boss.unschedule(DRAIN_QUEUE, key);
  }
  const all = Array.from({ length: shards }, (_, s) => s);
  await wakeShards(boss, all);
  o.log.info({ relayId: o.relayId, shards, generation: layout.generation, requested: o.shards }, 'relay worker started');
  if (shards !== o.shards) {
    o.log.warn({ requested: o.shards, active: shards, generation: layout.generation },
      'RELAY_SHARDS differs from the active shard layout: this relay drains under the active one');
  }

  return {
    relayId: o.relayId,
    boss,
    layout,
    closeForPendingLayout() {
      commits.close();
      void wakeShards(boss, all).catch((err: unknown) => o.log.warn({ err }, 'could not ask for the drains that close the layout'));
    },
    async stop() {
      runs.stopping = true;
      retries.close();
      commits.close();
      await listening.unlisten().catch(() => undefined);
      await boss.offWork(DRAIN_QUEUE, { wait: false }).catch(() => undefined);
      await Promise.allSettled([...running]);
      await o.producers.closeAll();
      await runs.close();
      await boss.stop({ graceful: true, timeout: 10_000 });
    },
  };
}
