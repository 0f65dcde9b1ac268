// What the outbox costs the write path. A bench-only copy of the API's PATCH transaction
// (lock the partner FOR UPDATE, decide with the domain, save it and appendToOutbox with the
// COMMIT in one round trip: the functions and the transaction runner the unit of work uses)
// run with and without the outbox insert, at a fixed concurrency for a fixed time,
// alternating rounds side by side. Plus the real API over HTTP (closed loop, same
// concurrency) for the absolute number with everything around it.
import { randomUUID } from 'node:crypto';
import { appendToOutbox, connectDatabase, lockPartner, runTransaction, savePartner, type Database } from '@relevo/db';
import { updatePartner } from '@relevo/domain';
import { createTestDatabase } from '../test/support/database.ts';
import { BENCH_API_ENV, BENCH_TOKEN, backendPids, closedLoop, cpuTicks, freePort, loadPartners, log, median, partnerPatcher, spawnRelevo, waitFor } from './support.ts';

export interface WriteOverheadResult {
  partners: number;
  concurrency: number;
  seconds: number;
  with_outbox_tx_per_s: number[];
  without_outbox_tx_per_s: number[];
  /** with / without of each round (the two measured back to back). */
  round_ratios: number[];
  /** The median of round_ratios: 1.0 = free. */
  throughput_ratio: number;
  /**
   * CPU per transaction, this process and its Postgres backends, with and without the
   * outbox, over all rounds of each: the outbox's cost in CPU, next to its cost in rate.
   */
  cpu_ms_per_tx: { with_outbox: number; without_outbox: number };
  /** 1 − ratio: the share of write throughput the outbox costs. Target ≤ 0.20. */
  overhead: number;
  http_with_outbox_req_per_s?: number[];
  http_median_req_per_s?: number;
}

async function updateOnce(database: Database, id: string, n: number, withOutbox: boolean): Promise<void> {
  await runTransaction(database, async (tx, sendWithCommit) => {
    const now = new Date();
    const current = await lockPartner(tx, id);
    const { state, events } = updatePartner(current!, { nombre: `Partner v${n}` }, now);
    const headers = { traceparent: `00-${randomUUID().replace(/-/g, '')}-0000000000000001-01` };
    if (events.length > 0) sendWithCommit(savePartner(tx, state));
    if (withOutbox) sendWithCommit(appendToOutbox(tx, events, { occurredAt: now, headers }));
  });
}

export async function runWriteOverhead(opts: { seconds: number; rounds?: number; concurrency?: number; partners?: number; http?: boolean }): Promise<WriteOverheadResult> {
  const rounds = opts.rounds ?? 3;
  const concurrency = opts.concurrency ?? 16;
  const partners = opts.partners ?? 10_000;
  const db = await createTestDatabase('relevo_bench');
  // The API's pool size (connectDatabase's default of 10) is what a real process gets.
  const database = connectDatabase(db.url, { applicationName: 'relevo-bench-writes' });
  const withOutbox: number[] = [];
  const without: number[] = [];
  const http: number[] = [];
  try {
    const ids = await loadPartners(database.sql, partners);
    const pick = (n: number) => ids[(n * 7919) % ids.length]!;
    // Warm-up of both paths (JIT, pool, caches; the first seconds after loading are slow).
    await closedLoop(2, concurrency, (n) => updateOnce(database, pick(n), n, true));
    await closedLoop(2, concurrency, (n) => updateOnce(database, pick(n), n, false));
    const backends = await backendPids(database.sql, db.name, 'relevo-bench-writes');
    const ticks = () => cpuTicks(process.pid) + backends.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    const cpu = { with: { ticks: 0, tx: 0 }, without: { ticks: 0, tx: 0 } };
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first so drift (vacuum, other load) hits both.
      const order = r % 2 === 0 ? [true, false] : [false, true];
      for (const w of order) {
        const side = w ? cpu.with : cpu.without;
        const t0 = ticks();
        const rate = await closedLoop(opts.seconds, concurrency, async (n) => {
          await updateOnce(database, pick(n), n, w);
          side.tx++;
        });
        side.ticks += ticks() - t0;
        (w ? withOutbox : without).push(rate);
      }
      log(`write overhead round ${r + 1}: with outbox ${Math.round(withOutbox.at(-1)!)} tx/s, without ${Math.round(without.at(-1)!)} tx/s`);
    }
    if (opts.http !== false) {
      const port = await freePort();
      const api = spawnRelevo('api', { DATABASE_URL: db.url, PORT: String(port), ...BENCH_API_ENV, RELAY_SHARDS: '4' });
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitFor(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.ok === true, 30_000, 'api ready');
        const send = partnerPatcher(base, BENCH_TOKEN, concurrency);
        const patch = async (n: number) => {
          const status = await send(pick(n), `Partner h${n}`);
          if (status !== 200) throw new Error(`PATCH ${status}`);
        };
        await closedLoop(1, concurrency, patch);
        for (let r = 0; r < rounds; r++) http.push(await closedLoop(opts.seconds, concurrency, patch));
        log(`write overhead http: ${http.map(Math.round).join(', ')} req/s`);
      } finally {
        await api.stop();
      }
    }
    // A ratio per round, then their median: a round's two halves run back to back and share
    // most of this machine's drift (autovacuum, checkpoints, other services).
    const roundRatios = withOutbox.map((w, i) => w / without[i]!);
    const throughput = median(roundRatios);
    return {
      partners, concurrency, seconds: opts.seconds,
      with_outbox_tx_per_s: withOutbox.map(Math.round), without_outbox_tx_per_s: without.map(Math.round),
      round_ratios: roundRatios.map((x) => +x.toFixed(3)), throughput_ratio: +throughput.toFixed(3), overhead: +(1 - throughput).toFixed(3),
      cpu_ms_per_tx: { with_outbox: +((cpu.with.ticks * 10) / cpu.with.tx).toFixed(3), without_outbox: +((cpu.without.ticks * 10) / cpu.without.tx).toFixed(3) },
      ...(http.length ? { http_with_outbox_req_per_s: http.map(Math.round), http_median_req_per_s: Math.round(median(http)) } : {}),
    };
  } finally {
    await database.close();
    await db.drop();
  }
}
