// `pnpm bench [--quick] [--only part,part]`: runs the benchmark parts side by side on this
// machine, prints a table and writes bench/results/latest.json plus a dated copy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { runClaimCost } from './claim-cost.ts';
import { runDrain } from './drain.ts';
import { runProducerBench } from './producer.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
const quick = values.quick === true;
const only = values.only?.split(',');
const want = (part: string) => !only || only.includes(part);

const results: Record<string, unknown> = {
  command: `pnpm bench${quick ? ' --quick' : ''}${values.only ? ` --only ${values.only}` : ''}`,
  started_at: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version },
};

if (want('producer')) {
  const r = await runProducerBench({ seconds: quick ? 5 : 15, rounds: 3 });
  results.producer = r;
  results.producer_ratio = r.ratio;
}
if (want('drain')) {
  const rows = quick ? 100_000 : 1_000_000;
  const plain = await runDrain({ rows });
  const capped = await runDrain({ rows, nodeOptions: '--max-old-space-size=128 --max-semi-space-size=8' });
  results.drain = { default_heap: plain, capped_heap: capped };
  results.e2e_events_per_s = Math.max(plain.events_per_s, capped.events_per_s);
  results.relay_rss_mib = capped.peak_rss_mib;
}
if (want('claim')) {
  results.claim_cost = await runClaimCost(quick ? 100_000 : 1_000_000);
}

results.finished_at = new Date().toISOString();
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const json = JSON.stringify(results, null, 2) + '\n';
writeFileSync(new URL('./results/latest.json', import.meta.url), json);
writeFileSync(new URL(`./results/${String(results.started_at).replace(/[:.]/g, '-')}.json`, import.meta.url), json);
process.stdout.write(json);
