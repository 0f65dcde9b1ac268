import type postgres from 'postgres';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { backlogByShard, runQuery } from '@relevo/db/sql';

export interface RelayMetrics {
  registry: Registry;
  /** A batch's rows of one topic, each with its commit → receipt time. */
  published(topic: string, shard: number, commitToAckSeconds: readonly number[]): void;
  failed(topic: string, shard: number, parked: boolean): void;
  drainRun(shard: number, outcome: string): void;
  dedupEnabled(on: boolean): void;
  /** The active layout's shard count: the backlog gauges are per shard of it. */
  useShards(shards: number): void;
}

/** Prometheus metrics of the relay; backlog gauges are read from the outbox at scrape time. */
export function createRelayMetrics(sql: postgres.Sql, initialShards: number): RelayMetrics {
  const registry = new Registry();
  let shards = initialShards;
  const publishedTotal = new Counter({
    name: 'relevo_relay_published_total', help: 'Outbox rows published and acknowledged by the broker',
    labelNames: ['topic', 'shard'], registers: [registry],
  });
  const failures = new Counter({
    name: 'relevo_relay_publish_failures_total', help: 'Publish attempts that failed (the row backs off or is parked)',
    labelNames: ['topic', 'shard', 'parked'], registers: [registry],
  });
  const latency = new Histogram({
    name: 'relevo_relay_commit_to_ack_seconds', help: 'From the event occurring (commit) to the broker receipt',
    labelNames: ['topic'], registers: [registry],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  const runs = new Counter({
    name: 'relevo_relay_drain_runs_total', help: 'Drain runs by how they ended',
    labelNames: ['shard', 'outcome'], registers: [registry],
  });
  const dedup = new Gauge({
    name: 'relevo_relay_broker_dedup_enabled', help: '1 if broker deduplication is on for the namespace (effectively once), else 0',
    registers: [registry],
  });
  // The three outbox gauges come from one query per scrape: the registry collects its metrics
  // concurrently, so each awaits the same query, which sets all three before any is read.
  let reading: Promise<void> | undefined;
  const readOutbox = () => (reading ??= (async () => {
    try {
      const rows = await runQuery(sql, backlogByShard({ shards }));
      for (let s = 0; s < shards; s++) {
        const r = rows.find((x) => x.shard === s);
        backlog.set({ shard: String(s) }, r?.unsent ?? 0);
        parked.set({ shard: String(s) }, r?.parked ?? 0);
        oldest.set({ shard: String(s) }, r?.oldest ? (Date.now() - r.oldest.getTime()) / 1000 : 0);
      }
    } finally {
      reading = undefined;
    }
  })());
  const backlog = new Gauge({
    name: 'relevo_outbox_backlog', help: 'Unsent outbox rows (parked included)', labelNames: ['shard'], registers: [registry],
    collect: readOutbox,
  });
  const parked = new Gauge({
    name: 'relevo_outbox_parked', help: 'Parked outbox rows', labelNames: ['shard'], registers: [registry], collect: readOutbox,
  });
  const oldest = new Gauge({
    name: 'relevo_outbox_oldest_unsent_age_seconds', help: 'Age of the oldest unsent, unparked row',
    labelNames: ['shard'], registers: [registry], collect: readOutbox,
  });
  return {
    registry,
    published(topic, shard, seconds) {
      publishedTotal.inc({ topic, shard: String(shard) }, seconds.length);
      const labels = { topic };
      for (const s of seconds) latency.observe(labels, s);
    },
    failed(topic, shard, isParked) {
      failures.inc({ topic, shard: String(shard), parked: String(isParked) });
    },
    drainRun(shard, outcome) {
      runs.inc({ shard: String(shard), outcome });
    },
    dedupEnabled(on) {
      dedup.set(on ? 1 : 0);
    },
    useShards(n) {
      if (n === shards) return;
      shards = n;
      // A shard the layout no longer has is no backlog: its series go.
      for (const gauge of [backlog, parked, oldest]) gauge.reset();
    },
  };
}
