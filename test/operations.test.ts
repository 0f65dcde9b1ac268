// What an operator deploys next to relevo, checked with the ecosystem's own tools: the alert
// rules with promtool (syntax and unit tests), the Prometheus config, and the Grafana
// dashboard's and the rules' queries against the metrics the processes really export.
// (Grafana itself is not packaged here; Prometheus is: test/prometheus-alerts.test.ts runs it.)
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { metricNamesIn } from './support/promql.ts';
import { exportedSeriesNames } from './support/registries.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROMETHEUS_DIR = join(ROOT, 'deploy/prometheus');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Series Prometheus makes itself for every target. */
const PROMETHEUS_SERIES = new Set(['up']);

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const r = await promisify(execFile)('promtool', args, { cwd: PROMETHEUS_DIR });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

interface Panel { title: string; type: string; targets?: { expr: string }[]; panels?: Panel[] }

function dashboardPanels(): Panel[] {
  const dashboard = JSON.parse(read('deploy/grafana/relevo.json')) as { panels: Panel[] };
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** The `expr:` of every rule: a one-line value, or a folded block (`expr: >`) of indented lines. */
function ruleExpressions(): { alert: string; expr: string }[] {
  const out: { alert: string; expr: string }[] = [];
  let alert = '';
  const lines = read('deploy/prometheus/rules.yml').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const a = /^\s*- alert: (\S+)/.exec(lines[i]!);
    if (a) alert = a[1]!;
    const e = /^(\s*)expr: (.*)$/.exec(lines[i]!);
    if (!e) continue;
    let expr = e[2]!;
    if (expr === '>' || expr === '|') {
      expr = '';
      while (i + 1 < lines.length && lines[i + 1]!.startsWith(`${e[1]}  `)) expr += ` ${lines[++i]!.trim()}`;
    }
    out.push({ alert, expr: expr.trim() });
  }
  return out;
}

describe('PromQL metric names', () => {
  it('are found in selectors, aggregations, histograms and binary expressions, and nothing else is', () => {
    expect(metricNamesIn('histogram_quantile(0.99, sum by (le, route) (rate(relevo_api_request_duration_seconds_bucket{status=~"5..", route!="x y"}[5m])))'))
      .toEqual(['relevo_api_request_duration_seconds_bucket']);
    expect(metricNamesIn('up{job="relevo-relay"} == 0 or absent(up{job="relevo-relay"})')).toEqual(['up']);
    expect(metricNamesIn('sum(rate(a_total[5m] offset 1h)) / on (shard) group_left (topic) b > bool 0.5 unless c'))
      .toEqual(['a_total', 'b', 'c']);
    expect(metricNamesIn('max without (instance) (relevo_outbox_parked) > 1e3')).toEqual(['relevo_outbox_parked']);
  });
});

describe('deploy/prometheus', () => {
  it('the rules pass `promtool check rules`', async () => {
    const r = await promtool('check', 'rules', 'rules.yml');
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('the rules pass their unit tests (`promtool test rules rules.test.yml`)', async () => {
    const r = await promtool('test', 'rules', 'rules.test.yml');
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('the scrape config passes `promtool check config` and scrapes the api, the relay and the consumers on their ops ports', async () => {
    const r = await promtool('check', 'config', 'prometheus.yml');
    expect(r.code, r.output).toBe(0);
    const config = read('deploy/prometheus/prometheus.yml');
    for (const [job, target] of [['relevo-api', 'api:9463'], ['relevo-relay', 'relay:9464'], ['relevo-consumers', 'consumers:9465']]) {
      expect(config).toMatch(new RegExp(`job_name: ${job}\\n\\s+static_configs:\\n\\s+- targets: \\["${target}"\\]`));
    }
  });

  it('every rule queries only metrics the processes export, and the alerts operators need are there', () => {
    const exported = exportedSeriesNames();
    const rules = ruleExpressions();
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining([
      'RelevoOutboxEventsLate', 'RelevoOutboxRowsParked', 'RelevoRelayDown', 'RelevoDeadLetters', 'RelevoDrainStalled',
    ]));
    const unknown = rules.flatMap((r) => metricNamesIn(r.expr).filter((n) => !exported.has(n) && !PROMETHEUS_SERIES.has(n)).map((n) => `${r.alert}: ${n}`));
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(unknown).toEqual([]);
  });

  it('the compose file loads the same config and rules into its Prometheus, and provisions the dashboard into Grafana', () => {
    const compose = read('docker-compose.yml');
    expect(compose).toContain('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    expect(compose).toContain('./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro');
    expect(compose).toContain('./deploy/grafana/relevo.json:/var/lib/grafana/dashboards/relevo.json:ro');
    expect(read('deploy/grafana/provisioning/dashboards/relevo.yml')).toContain('path: /var/lib/grafana/dashboards');
    expect(read('deploy/grafana/provisioning/datasources/prometheus.yml')).toMatch(/uid: prometheus\n[\s\S]*url: http:\/\/prometheus:9090/);
  });
});

describe('deploy/grafana/relevo.json', () => {
  const panels = dashboardPanels();
  const queries = panels.filter((p) => p.type !== 'row');

  it('every panel queries only metrics the api, the relay or the consumers export', () => {
    const exported = exportedSeriesNames();
    const unknown: string[] = [];
    for (const p of queries) {
      expect(p.targets?.length, `${p.title} has no query`).toBeGreaterThan(0);
      for (const t of p.targets!) for (const n of metricNamesIn(t.expr)) if (!exported.has(n) && !PROMETHEUS_SERIES.has(n)) unknown.push(`${p.title}: ${n}`);
    }
    expect(unknown).toEqual([]);
  });

  it('has the panels on-call opens first, each on the metric it is about', () => {
    const metricsOf = (title: RegExp) => queries.filter((p) => title.test(p.title)).flatMap((p) => p.targets!.flatMap((t) => metricNamesIn(t.expr)));
    expect(metricsOf(/^Publish lag/)).toContain('relevo_outbox_oldest_unsent_age_seconds');
    expect(metricsOf(/^Backlog per shard/)).toContain('relevo_outbox_backlog');
    expect(metricsOf(/^Parked rows/)).toContain('relevo_outbox_parked');
    expect(metricsOf(/^Events\/s by topic/)).toContain('relevo_relay_published_total');
    expect(metricsOf(/^Commit → receipt/)).toContain('relevo_relay_commit_to_ack_seconds_bucket');
    expect(metricsOf(/^Consumer lag/)).toContain('relevo_consumer_event_to_receipt_seconds_bucket');
    expect(metricsOf(/^Dead letters/)).toContain('relevo_consumer_dead_lettered_total');
    expect(metricsOf(/^Requests\/s/)).toContain('relevo_api_requests_total');
    expect(metricsOf(/^5xx share/)).toContain('relevo_api_requests_total');
    expect(metricsOf(/^Latency p99/)).toContain('relevo_api_request_duration_seconds_bucket');
  });

  it('every panel reads the provisioned Prometheus data source', () => {
    const dashboard = read('deploy/grafana/relevo.json');
    const sources = new Set([...dashboard.matchAll(/"datasource": \{\s*"type": "(\w+)",\s*"uid": "(\w+)"/g)].map((m) => `${m[1]}/${m[2]}`));
    expect([...sources]).toEqual(['prometheus/prometheus']);
  });
});
