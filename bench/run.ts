// `pnpm bench [--quick] [--only part,part] [--profile]`: runs the benchmark parts side by
// side on this machine, prints a table and writes bench/results/latest.json plus a dated copy,
// and latest.svg, a chart of its latency and throughput steps (chart.ts).
//
// Parts (default order): producer, e2e, limits, baseline, latency, write_overhead, scaling.
// `claim` (claim cost as sent history piles up) and `cluster` (the relay on the test cluster
// against the dev broker, side by side) run only when named in --only.
// --quick: a tenth of the sizes (under five minutes in all). --profile: CPU-profile the e2e
// relay (V8 .cpuprofile under bench/results/profiles/, summarised into the JSON). Each part
// records the load average at its start and end (part_loadavg), printed beside its figures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBaseline } from './baseline.ts';
import { writeBenchChart } from './chart.ts';
import { runClaimCost } from './claim-cost.ts';
import { runClusterComparison } from './cluster.ts';
import { runE2E, type E2EResult } from './e2e.ts';
import { runLatency, type LatencyResult } from './latency.ts';
import { runLimits, type LimitsResult } from './limits.ts';
import { runProducerBench } from './producer.ts';
import { log, ratio } from './support.ts';
import { runWriteOverhead, type WriteOverheadResult } from './write-overhead.ts';

const PARTS = ['producer', 'e2e', 'limits', 'baseline', 'latency', 'write_overhead', 'scaling'];
const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, profile: { type: 'boolean' } } });
const quick = values.quick === true;
const only = values.only?.split(',');
if (only) for (const p of only) if (![...PARTS, 'claim', 'cluster'].includes(p)) throw new Error(`unknown part ${p}; parts: ${PARTS.join(', ')}, claim, cluster`);
const want = (part: string) => (only ? only.includes(part) : PARTS.includes(part));
const scale = (n: number) => (quick ? n / 10 : n);

const results: Record<string, unknown> = {
  command: `pnpm bench${quick ? ' --quick' : ''}${values.only ? ` --only ${values.only}` : ''}${values.profile ? ' --profile' : ''}`,
  started_at: new Date().toISOString(),
  machine: {
    cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version,
    loadavg_at_start: loadavg().map((x) => +x.toFixed(2)),
  },
};
const began = performance.now();
// Every part's figures come with the load average at its start and end: the machine's two
// cores may be shared, and a figure means little without it.
const partLoad: Record<string, { start: number[]; end: number[] }> = {};
results.part_loadavg = partLoad;
const load = () => loadavg().map((x) => +x.toFixed(2));
const loadOf = (part: string) => (partLoad[part] ? `load ${partLoad[part].start[0]} → ${partLoad[part].end[0]}` : '');
const timed = async <T>(part: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const start = load();
  log(`part ${part}: start (load average ${start.join(' ')})`);
  const r = await fn();
  partLoad[part] = { start, end: load() };
  (results.part_seconds ??= {} as Record<string, number>);
  (results.part_seconds as Record<string, number>)[part] = Math.round((performance.now() - t0) / 1000);
  log(`part ${part}: done in ${Math.round((performance.now() - t0) / 1000)} s (load average ${partLoad[part].end.join(' ')})`);
  return r;
};

if (want('producer')) {
  const r = await timed('producer', () => runProducerBench({ seconds: quick ? 8 : 15, rounds: quick ? 2 : 3 }));
  results.producer = r;
  results.producer_ratio = r.ratio;
}
let e2e: E2EResult | undefined;
if (want('e2e')) {
  e2e = await timed('e2e', () => runE2E({ rows: scale(1_000_000), profile: values.profile === true }));
  results.e2e = e2e;
  results.e2e_events_per_s = e2e.events_per_s;
  results.relay_rss_mib = e2e.peak_rss_mib;
}
let limits: LimitsResult | undefined;
if (want('limits')) {
  limits = await timed('limits', () => runLimits({ rows: scale(1_000_000), brokerSeconds: quick ? 8 : 10, rounds: quick ? 2 : 3 }));
  results.limits = limits;
  // Three digits: it is judged against 0.6, and 0.597 must not round up to a target held.
  if (e2e) results.limit_ratio = ratio(e2e.events_per_s, limits.lower_limit_events_per_s, 3);
}
if (want('baseline')) {
  const r = await timed('baseline', () => runBaseline({ rows: scale(50_000) }));
  results.baseline = r;
  if (e2e) results.baseline_ratio = ratio(e2e.events_per_s, r.events_per_s);
}
let latency: LatencyResult | undefined;
if (want('latency')) {
  latency = await timed('latency', () => runLatency({ rates: [100, 1_000, 5_000], seconds: quick ? 5 : 15, warmupSeconds: quick ? 6 : 12 }));
  results.latency = latency;
  results.latency_ms = Object.fromEntries(latency.steps.map((s) => [String(s.offered_per_s), {
    p50: s.receipt_ms.p50, p95: s.receipt_ms.p95, p99: s.receipt_ms.p99, achieved_per_s: s.achieved_per_s,
  }]));
}
let writes: WriteOverheadResult | undefined;
if (want('write_overhead')) {
  writes = await timed('write_overhead', () => runWriteOverhead({ seconds: 1, rounds: quick ? 8 : 24 }));
  results.write_overhead_detail = writes;
  results.write_overhead = writes.overhead;
}
if (want('scaling')) {
  const rows = scale(200_000);
  const one = await timed('scaling(1)', () => runE2E({ rows, relays: 1 }));
  const two = await timed('scaling(2)', () => runE2E({ rows, relays: 2 }));
  results.scaling = {
    one_relay: one, two_relays: two,
    // Wall-clock ratio includes each process's start-up; the steady ratio (first row sent →
    // empty) is the drain rate itself, the one that matters at a tenth of the size.
    wall_ratio: ratio(two.events_per_s, one.events_per_s),
    steady_ratio: ratio(two.steady_events_per_s, one.steady_events_per_s),
  };
  results.scaling_ratio = ratio(two.steady_events_per_s, one.steady_events_per_s);
}
if (want('claim')) {
  results.claim_cost = await timed('claim', () => runClaimCost(scale(1_000_000)));
}
if (want('cluster')) {
  const r = await timed('cluster', () => runClusterComparison({ rows: scale(200_000), rounds: quick ? 2 : 3 }));
  results.cluster = r;
  results.cluster_ratio = r.cluster_ratio;
}

results.finished_at = new Date().toISOString();
results.total_seconds = Math.round((performance.now() - began) / 1000);

// The targets, judged on this run.
const lat1000 = latency?.steps.find((s) => s.offered_per_s === 1_000);
const check = (v: unknown, ok: (x: number) => boolean) => (typeof v === 'number' && Number.isFinite(v) ? ok(v) : null);
results.targets = {
  e2e_ge_20000_per_s: check(results.e2e_events_per_s, (x) => x >= 20_000),
  limit_ratio_ge_0_6: check(results.limit_ratio, (x) => x >= 0.6),
  baseline_ratio_ge_5: check(results.baseline_ratio, (x) => x >= 5),
  p99_le_50ms_at_1000_per_s: lat1000 ? lat1000.receipt_ms.p99 <= 50 && lat1000.achieved_per_s >= 950 : null,
  write_overhead_le_0_2: check(results.write_overhead, (x) => x <= 0.2),
  relay_rss_le_200_mib: check(results.relay_rss_mib, (x) => x <= 200),
  producer_ratio_ge_0_8: check(results.producer_ratio, (x) => x >= 0.8),
};

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const json = JSON.stringify(results, null, 2) + '\n';
writeFileSync(new URL('./results/latest.json', import.meta.url), json);
// bench/results/latest.svg: the latency and throughput steps as a chart.
writeBenchChart(fileURLToPath(new URL('./results/latest.json', import.meta.url)));
writeFileSync(new URL(`./results/${String(results.started_at).replace(/[:.]/g, '-')}.json`, import.meta.url), json);

const fmt = (v: unknown) => (v === undefined ? '—' : typeof v === 'number' ? v.toLocaleString('en-US') : String(v));
const rows: [string, unknown, string][] = [
  ['e2e events/s', results.e2e_events_per_s, `≥ 20,000  ${loadOf('e2e')}`],
  ['limit (pg claim+mark | broker)', limits ? `${fmt(limits.pg_claim_mark_rows_per_s)} | ${fmt(limits.broker_ingest_msgs_per_s)}` : undefined, loadOf('limits')],
  ['limit_ratio', results.limit_ratio, '≥ 0.6'],
  ['baseline_ratio', results.baseline_ratio, `≥ 5  ${loadOf('baseline')}`],
  ...(latency?.steps ?? []).map((s): [string, unknown, string] => [
    `latency @${s.offered_per_s}/s p50/p95/p99 ms`, `${s.receipt_ms.p50}/${s.receipt_ms.p95}/${s.receipt_ms.p99} (achieved ${s.achieved_per_s}/s)`,
    `${s.offered_per_s === 1_000 ? 'p99 ≤ 50  ' : ''}${loadOf('latency')}`]),
  ['write_overhead', results.write_overhead, `≤ 0.20  ${loadOf('write_overhead')}`],
  ['write CPU ms/tx (with | without outbox)', writes ? `${writes.cpu_ms_per_tx.with_outbox} | ${writes.cpu_ms_per_tx.without_outbox}` : undefined, ''],
  ['http PATCH req/s (with outbox)', writes?.http_median_req_per_s, ''],
  ['relay_rss_mib', results.relay_rss_mib, '≤ 200'],
  ['scaling_ratio (2 relays / 1)', results.scaling_ratio, [loadOf('scaling(1)'), loadOf('scaling(2)')].filter(Boolean).join('; ')],
  ['cluster events/s (standalone | cluster | 4 partitions)', results.cluster ? (['standalone', 'cluster', 'cluster_4_partitions'] as const)
    .map((k) => fmt((results.cluster as Awaited<ReturnType<typeof runClusterComparison>>)[k].median_steady_events_per_s)).join(' | ') : undefined, loadOf('cluster')],
  ['producer_ratio (relevo / java)', results.producer_ratio, `≥ 0.8  ${loadOf('producer')}`],
];
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => fmt(r[1]).length));
process.stdout.write(`\n${results.command}  (${results.total_seconds} s)\n`);
for (const [k, v, t] of rows) process.stdout.write(`${k.padEnd(w0)}  ${fmt(v).padStart(w1)}  ${t}\n`);
process.stdout.write(`targets: ${JSON.stringify(results.targets)}\nwrote bench/results/latest.json\n`);
