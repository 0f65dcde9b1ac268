// The benchmark's latency and throughput steps as an SVG chart, from a results JSON: commit →
// receipt p50/p95/p99 per offered rate, and offered against achieved events/s per step.
// `pnpm bench` writes it as bench/results/latest.svg next to latest.json;
// `node bench/chart.ts <results.json>` draws one for a saved run (next to it, .svg).
// A pure function of the results (test/bench-chart.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';

interface Step {
  offered_per_s: number;
  achieved_per_s: number;
  receipt_ms: { p50: number; p95: number; p99: number };
}

export interface BenchResults {
  started_at?: string;
  command?: string;
  machine?: { cpus?: number; cpu_model?: string; node?: string };
  latency?: { steps: Step[] };
  e2e_events_per_s?: number;
}

const W = 760;
const H = 340;
const PANEL = { top: 84, height: 180 };
const LEFT = { x: 60, width: 300 };
const RIGHT = { x: 440, width: 290 };
const PERCENTILES = [['p50', '#9ab8e8'], ['p95', '#4f7fd1'], ['p99', '#1d3f8f']] as const;
const THROUGHPUT = [['offered', '#c9ced8'], ['achieved', '#2e8b57']] as const;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : String(+v.toFixed(1)));

/** A round top for an axis: 1, 2 or 5 × a power of ten, at or above the largest value. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max)!;
}

function axis(x: number, width: number, top: number, unit: string): string {
  const y = PANEL.top + PANEL.height;
  return [0, 0.5, 1].map((f) => {
    const gy = y - f * PANEL.height;
    return `<line x1="${x}" y1="${gy}" x2="${x + width}" y2="${gy}" stroke="#e3e6ec"/>`
      + `<text x="${x - 6}" y="${gy + 4}" text-anchor="end" class="tick">${esc(num(top * f))}${f === 1 ? ` ${unit}` : ''}</text>`;
  }).join('');
}

/** Grouped bars: one group per step, one bar per series, each labelled with its value. */
function bars(x: number, width: number, steps: Step[], series: readonly (readonly [string, string])[], value: (s: Step, name: string) => number, unit: string): string {
  const top = niceMax(Math.max(...steps.flatMap((s) => series.map(([name]) => value(s, name)))));
  const group = width / steps.length;
  const bar = Math.min(28, (group * 0.8) / series.length);
  const out = [axis(x, width, top, unit)];
  steps.forEach((s, i) => {
    const gx = x + i * group + (group - bar * series.length) / 2;
    series.forEach(([name, color], k) => {
      const v = value(s, name);
      const h = (v / top) * PANEL.height;
      const bx = gx + k * bar;
      const by = PANEL.top + PANEL.height - h;
      out.push(`<rect class="bar ${name}" data-step="${s.offered_per_s}" data-value="${v}" x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`
        + `<text x="${(bx + bar / 2 - 1).toFixed(1)}" y="${(by - 3).toFixed(1)}" text-anchor="middle" class="value">${esc(num(v))}</text>`);
    });
    out.push(`<text x="${(x + i * group + group / 2).toFixed(1)}" y="${PANEL.top + PANEL.height + 16}" text-anchor="middle" class="step">${esc(num(s.offered_per_s))}/s offered</text>`);
  });
  return out.join('\n');
}

function legend(x: number, series: readonly (readonly [string, string])[]): string {
  return series.map(([name, color], i) => `<rect x="${x + i * 80}" y="${H - 26}" width="10" height="10" fill="${color}"/>`
    + `<text x="${x + i * 80 + 14}" y="${H - 17}" class="legend">${esc(name)}</text>`).join('');
}

export function benchChartSvg(results: BenchResults): string {
  const steps = results.latency?.steps ?? [];
  const m = results.machine ?? {};
  const subtitle = [results.started_at, results.command, m.cpu_model && `${m.cpu_model}, ${m.cpus} cores`, m.node && `Node ${m.node}`,
    results.e2e_events_per_s !== undefined && `e2e drain ${num(results.e2e_events_per_s)} events/s`].filter(Boolean).join(' · ');
  const body = steps.length === 0
    ? `<text x="${W / 2}" y="${PANEL.top + PANEL.height / 2}" text-anchor="middle" class="empty">this run has no latency steps (bench --only without latency)</text>`
    : [
      `<text x="${LEFT.x}" y="${PANEL.top - 14}" class="panel">commit → receipt latency per step, ms</text>`,
      bars(LEFT.x, LEFT.width, steps, PERCENTILES, (s, name) => s.receipt_ms[name as 'p50' | 'p95' | 'p99'], 'ms'),
      legend(LEFT.x, PERCENTILES),
      `<text x="${RIGHT.x}" y="${PANEL.top - 14}" class="panel">throughput per step, events/s</text>`,
      bars(RIGHT.x, RIGHT.width, steps, THROUGHPUT, (s, name) => (name === 'offered' ? s.offered_per_s : s.achieved_per_s), '/s'),
      legend(RIGHT.x, THROUGHPUT),
    ].join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="relevo benchmark: latency and throughput per step">
<style>text{font:12px system-ui,sans-serif;fill:#1d2330}.title{font-size:15px;font-weight:600}.sub,.tick{fill:#5b6475;font-size:11px}.panel{font-weight:600}.value{font-size:10px}</style>
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="16" y="24" class="title">relevo benchmark: latency and throughput steps</text>
<text x="16" y="42" class="sub">${esc(subtitle)}</text>
${body}
</svg>
`;
}

/** Writes the chart of a results file next to it (same name, .svg); returns its path. */
export function writeBenchChart(resultsPath: string): string {
  const out = resultsPath.replace(/\.json$/, '') + '.svg';
  writeFileSync(out, benchChartSvg(JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchResults));
  return out;
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/chart.ts <results.json>\n');
    process.exit(2);
  }
  process.stdout.write(`${writeBenchChart(file)}\n`);
}
