// A relay of the harness: the real drain runs of the relay, one shard at a time, on
// connections and a Pulsar client of its own, every call of which passes through the fault
// plan. When a fault crashes it, its backends are terminated and its client closed, as the
// operating system would at a SIGKILL, and the driver starts a fresh relay.
import type postgres from 'postgres';
import { connectSql, queryRunner, type QueryRunner } from '@relevo/db';
import { createClient } from '@relevo/pulsar';
import { ProducerPool, ShardLeases, createRelayMetrics, drainShard, type DrainOutcome } from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { serviceUrl } from '../../support/pulsar.ts';
import type { FaultPlan } from './faults.ts';
import { RelayLife, instrumentPulsar, instrumentRunner } from './instrumented.ts';

const log = createLogger('fault-harness', process.env.TEST_LOG_LEVEL ?? 'silent');

export interface DriverOptions {
  url: string;
  namespace: string;
  shards: number;
  plan: FaultPlan;
  /** Admin connection: terminates a crashed relay's backends. */
  admin: postgres.Sql;
}

type RunResult = DrainOutcome | { error: unknown } | 'crashed';

let relays = 0;

export class HarnessRelay {
  readonly id = `fault-harness-${process.pid}-${++relays}`;
  readonly crashed: Promise<void>;
  private readonly o: DriverOptions;
  private readonly life: RelayLife;
  private readonly client = createClient({ serviceUrl, operationTimeoutMs: 5_000 });
  private readonly producers: ProducerPool;
  private readonly rawPool: postgres.Sql;
  private readonly pool: QueryRunner;
  private readonly leases: ShardLeases;

  constructor(o: DriverOptions) {
    this.o = o;
    let died = () => {};
    this.crashed = new Promise<void>((r) => { died = r; });
    this.life = new RelayLife(died);
    this.rawPool = connectSql(o.url, { max: 4, applicationName: this.id });
    this.pool = instrumentRunner(queryRunner(this.rawPool), o.plan, this.life);
    this.leases = new ShardLeases(o.url, this.id);
    // A tiny idle time: a shard's producers may close between two runs, and must never close under one.
    this.producers = new ProducerPool({ client: instrumentPulsar(this.client, o.plan, this.life), namespace: o.namespace, idleMs: 2 });
  }

  /** One drain run of a shard under its lease, as the worker runs it. */
  async drain(shard: number): Promise<RunResult> {
    if (this.life.dead) return 'crashed';
    const lease = await this.leases.take(shard);
    if (!lease) return { error: new Error(`shard ${shard} locked elsewhere`) };
    const run = drainShard({
      session: instrumentRunner(lease.session, this.o.plan, this.life), lockPid: lease.pid, pool: this.pool, producers: this.producers, log,
      metrics: createRelayMetrics(this.rawPool, this.o.shards), relayId: this.id, generation: 1, shards: this.o.shards,
      batchSize: 3, maxAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 20,
    }, shard, 200).then((outcome): RunResult => outcome, (error: unknown): RunResult => ({ error }));
    const result = await Promise.race([run, this.crashed.then((): RunResult => 'crashed')]);
    if (result === 'crashed') return result;
    if ('error' in result) {
      // As the worker does after a failed run: close the shard's producers, never trust its session again.
      await this.producers.closeShard(shard);
      this.leases.retire(shard);
    } else {
      await lease.release();
    }
    return result;
  }

  /** After a crash: what the operating system does to a killed process's connections. */
  async bury(): Promise<void> {
    await this.o.admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${this.id}`;
    await this.rawPool.end({ timeout: 0 }).catch(() => undefined);
    await this.leases.closeAll().catch(() => undefined);
    await this.client.close();
  }

  /** A relay that ends normally. */
  async stop(): Promise<void> {
    await this.producers.closeAll();
    await this.rawPool.end({ timeout: 1 }).catch(() => undefined);
    await this.leases.closeAll().catch(() => undefined);
    await this.client.close();
  }
}

export interface DriveResult {
  relay: HarnessRelay;
  runs: number;
  crashes: number;
}

/**
 * Drains every shard until each one's last run found nothing to claim and no retry is due
 * (parked rows wait for an operator), starting a fresh relay after each crash. Gives up, with
 * an error naming what it saw, after `maxRuns` runs or `deadlineMs`: a relay that keeps
 * claiming without progress is a defect too.
 */
export async function driveUntilQuiet(start: () => HarnessRelay, shards: number, opts: { maxRuns?: number; deadlineMs?: number; relay?: HarnessRelay } = {}): Promise<DriveResult> {
  const maxRuns = opts.maxRuns ?? 400;
  const deadline = Date.now() + (opts.deadlineMs ?? 30_000);
  let relay = opts.relay ?? start();
  let runs = 0;
  let crashes = 0;
  const lastErrors: string[] = [];
  for (;;) {
    let quiet = true;
    let retryAt = Infinity;
    for (let shard = 0; shard < shards; shard++) {
      runs++;
      const result = await relay.drain(shard);
      if (result === 'crashed') {
        crashes++;
        await relay.bury();
        relay = start();
        quiet = false;
        continue;
      }
      if ('error' in result) {
        quiet = false;
        lastErrors.push(String((result.error as Error)?.message ?? result.error));
        continue;
      }
      if (result.reason === 'budget') quiet = false;
      if (result.nextRetryAt) {
        quiet = false;
        retryAt = Math.min(retryAt, result.nextRetryAt.getTime());
      }
    }
    if (quiet) return { relay, runs, crashes };
    if (runs >= maxRuns || Date.now() > deadline) {
      throw new Error(`the relay did not settle after ${runs} runs (${crashes} crashes); last errors: ${lastErrors.slice(-5).join(' | ')}`);
    }
    const wait = Math.min(50, Math.max(0, retryAt - Date.now()));
    if (wait > 0 && Number.isFinite(wait)) await new Promise((r) => setTimeout(r, wait));
  }
}
