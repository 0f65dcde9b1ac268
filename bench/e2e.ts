// End-to-end drain: a backlog of valid ~1 KiB events (10,000 partners) loaded with
// set-based SQL into a fresh database, then `relevo relay` child process(es) publish it to a
// fresh Pulsar namespace. Events/s = rows / wall time from spawning the relay(s) to no
// unsent row left; peak RSS is the relay's VmHWM. `relays: 2` is the scaling part.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connectDatabase } from '@relevo/db';
import { createTestDatabase } from '../test/support/database.ts';
import { createTestNamespace } from '../test/support/pulsar.ts';
import { summarizeProfile, type ProfileSummary } from './profile.ts';
import { type Child, dropNamespace, loadBacklog, log, PROFILE_DIR, sleep, spawnRelevo } from './support.ts';

export interface E2EOptions {
  rows: number;
  relays?: number;
  shards?: number;
  batchSize?: number;
  /** Replaces the shipped NODE_OPTIONS (SHIPPED_RELAY_ENV) of the relay(s), to compare settings. */
  nodeOptions?: string;
  /** Write a V8 CPU profile of the (first) relay and summarise it. */
  profile?: boolean;
  /** Extra relay env (e.g. to try a setting). */
  env?: Record<string, string>;
  /** SQL run on the fresh database before loading (to try a schema change side by side). */
  setup?: string[];
}

export interface E2EResult {
  rows: number;
  relays: number;
  shards: number;
  batch_size: number;
  load_seconds: number;
  /** Spawn → first row sent (process start, pg-boss, producers). */
  startup_seconds: number;
  seconds: number;
  events_per_s: number;
  /** Rate from the first row sent to the last, without process start-up. */
  steady_events_per_s: number;
  peak_rss_mib: number;
  profile?: ProfileSummary;
}

export async function runE2E(opts: E2EOptions): Promise<E2EResult> {
  const relays = opts.relays ?? 1;
  const shards = opts.shards ?? 4;
  const batchSize = opts.batchSize ?? 500;
  const db = await createTestDatabase('relevo_bench');
  const database = connectDatabase(db.url, { max: 2 });
  const children: Child[] = [];
  let namespace: string | undefined;
  try {
    namespace = await createTestNamespace();
    for (const stmt of opts.setup ?? []) await database.sql.unsafe(stmt);
    const t0 = performance.now();
    await loadBacklog(database.sql, opts.rows);
    const loadSeconds = (performance.now() - t0) / 1000;
    let profileDir: string | undefined;
    if (opts.profile) {
      profileDir = join(PROFILE_DIR, `e2e-${Date.now()}`);
      mkdirSync(profileDir, { recursive: true });
    }
    const started = performance.now();
    for (let i = 0; i < relays; i++) {
      const nodeArgs = opts.profile && i === 0 ? ['--cpu-prof', '--cpu-prof-dir', profileDir!] : [];
      children.push(spawnRelevo('relay', {
        DATABASE_URL: db.url, PULSAR_NAMESPACE: namespace, RELAY_SHARDS: String(shards), RELAY_BATCH_SIZE: String(batchSize),
        RELAY_RUN_BUDGET_MS: '10000', RELAY_PRODUCER_IDLE_MS: '30000',
        ...(opts.nodeOptions !== undefined ? { NODE_OPTIONS: opts.nodeOptions } : {}), ...opts.env,
      }, nodeArgs));
    }
    let firstSent: number | undefined;
    let tick = 0;
    for (;;) {
      for (const c of children) c.peakRssMib();
      if (firstSent === undefined) {
        const [s] = await database.sql<{ any: boolean }[]>`select exists(select 1 from outbox where sent_at is not null) as any`;
        if (s!.any) firstSent = performance.now();
      }
      const left = await database.sql`select 1 from outbox where sent_at is null and skipped_at is null limit 1`;
      if (left.length === 0) break;
      for (const c of children) if (c.child.exitCode !== null) throw new Error(`relay exited: ${c.output().slice(-2000)}`);
      if (++tick % 50 === 0) {
        // Progress from the first unsent id (rows are loaded in id order): a count of the
        // unsent rows read the whole table every 10 s, competing with the drain it measures.
        const [p] = await database.sql<{ done: number }[]>`select coalesce(
            (select id from outbox where sent_at is null and skipped_at is null order by id limit 1) - (select min(id) from outbox), 0)::int as done`;
        log(`e2e ${opts.rows} rows, ${relays} relay(s): about ${opts.rows - p!.done} unsent after ${((performance.now() - started) / 1000).toFixed(0)} s`);
      }
      await sleep(200);
    }
    const ended = performance.now();
    const seconds = (ended - started) / 1000;
    const peak = Math.max(...children.map((c) => c.peakRssMib()));
    await Promise.all(children.map((c) => c.stop()));
    const steady = (ended - (firstSent ?? started)) / 1000;
    const result: E2EResult = {
      rows: opts.rows, relays, shards, batch_size: batchSize, load_seconds: +loadSeconds.toFixed(1),
      startup_seconds: +(((firstSent ?? started) - started) / 1000).toFixed(2),
      seconds: +seconds.toFixed(2), events_per_s: Math.round(opts.rows / seconds),
      steady_events_per_s: Math.round(opts.rows / steady), peak_rss_mib: Math.round(peak),
    };
    if (profileDir) {
      const file = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(profileDir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
      if (file) result.profile = summarizeProfile(file);
    }
    return result;
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await database.close();
    await db.drop();
    if (namespace) await dropNamespace(namespace);
  }
}
