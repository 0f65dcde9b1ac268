// bench/chart.ts on a saved run of `pnpm bench` (bench/results/2026-12-05T13-19-41-420Z.json,
// also latest.json): one bar per step and percentile, each as tall as its value on the
// panel's scale, labelled; the machine and command in the subtitle; a run without the
// latency part says so; and the file is written next to its JSON.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { benchChartSvg, niceMax, writeBenchChart, type BenchResults } from '../bench/chart.ts';

const SAVED = fileURLToPath(new URL('../bench/results/2026-12-05T13-19-41-420Z.json', import.meta.url));
const results = JSON.parse(readFileSync(SAVED, 'utf8')) as BenchResults;

interface Bar { series: string; step: number; value: number; height: number }
const barsOf = (svg: string): Bar[] => [...svg.matchAll(/<rect class="bar (\w+)" data-step="(\d+)" data-value="([\d.]+)" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)]
  .map((m) => ({ series: m[1]!, step: Number(m[2]), value: Number(m[3]), height: Number(m[4]) }));

describe('the benchmark chart', () => {
  const svg = benchChartSvg(results);

  it('draws p50/p95/p99 receipt latency and offered/achieved rate for every step, to scale', () => {
    const bars = barsOf(svg);
    const steps = results.latency!.steps;
    expect(bars).toHaveLength(steps.length * 5);
    for (const s of steps) {
      expect(bars.filter((b) => b.step === s.offered_per_s).map((b) => [b.series, b.value])).toEqual([
        ['p50', s.receipt_ms.p50], ['p95', s.receipt_ms.p95], ['p99', s.receipt_ms.p99], ['offered', s.offered_per_s], ['achieved', s.achieved_per_s],
      ]);
    }
    // The same px per ms for every latency bar (and per event/s for every rate bar): the tallest
    // value sets the scale's round top (120 ms → 200; 5,000/s → 5,000).
    const offScale = (series: string[], pxPerUnit: number) =>
      bars.filter((b) => series.includes(b.series) && Math.abs(b.height - b.value * pxPerUnit) > 0.051);
    expect(offScale(['p50', 'p95', 'p99'], 180 / 200)).toEqual([]);
    expect(offScale(['offered', 'achieved'], 180 / 5000)).toEqual([]);
    expect(svg).toContain('>120</text>');
    expect(svg).toContain('>1,497</text>');
    expect(svg).toContain('>5,000/s offered</text>');
  });

  it('says which run it is: time, command, machine, Node, the e2e drain rate', () => {
    expect(svg).toContain('2026-12-05T13:19:41.420Z · pnpm bench · Intel(R) Xeon(R) Processor, 2 cores · Node v24.9.0 · e2e drain 20,599 events/s');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });

  it('escapes what it prints, and says so when a run has no latency steps', () => {
    const other = benchChartSvg({ command: 'pnpm bench --only e2e', machine: { cpu_model: '<AMD & co>', cpus: 2 } });
    expect(other).toContain('this run has no latency steps');
    expect(other).toContain('&lt;AMD &amp; co&gt;');
    expect(barsOf(other)).toEqual([]);
  });

  it('rounds an axis up to 1, 2 or 5 times a power of ten', () => {
    expect([0, 0.3, 7, 10, 19.3, 120, 1497, 5000, 5001].map(niceMax)).toEqual([1, 0.5, 10, 10, 20, 200, 2000, 5000, 10000]);
  });

  it('is written next to its results file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relevo-bench-chart-'));
    try {
      const json = join(dir, 'latest.json');
      writeFileSync(json, JSON.stringify(results));
      expect(writeBenchChart(json)).toBe(join(dir, 'latest.svg'));
      expect(readFileSync(join(dir, 'latest.svg'), 'utf8')).toBe(svg);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
