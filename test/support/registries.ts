// The metrics registries of the api, the relay and the consumers, built as the processes
// build them (their SQL runs only on a scrape, so no database is needed).
import type postgres from 'postgres';
import { createConsumerMetrics } from '@relevo/consumers';
import { createRelayMetrics } from '@relevo/relay';
import { createApiMetrics } from '../../packages/api/src/metrics.ts';

type Registry = ReturnType<typeof createConsumerMetrics>['registry'];

export interface MetricInfo { name: string; type: string; labelNames: string[] }

export function processRegistries(): Record<'api' | 'relay' | 'consumers', Registry> {
  return { api: createApiMetrics().registry, relay: createRelayMetrics({} as postgres.Sql, 1).registry, consumers: createConsumerMetrics().registry };
}

export function registeredMetrics(): MetricInfo[] {
  return Object.values(processRegistries()).flatMap((r) => r.getMetricsAsArray() as unknown as MetricInfo[])
    .map((m) => ({ name: m.name, type: m.type, labelNames: [...m.labelNames] }));
}

/** The series names a scrape of the processes can show: a histogram's _bucket, _sum and _count. */
export function exportedSeriesNames(): Set<string> {
  return new Set(registeredMetrics().flatMap((m) => (m.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name])));
}
