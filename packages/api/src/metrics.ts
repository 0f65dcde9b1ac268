// The API's Prometheus metrics (served on API_METRICS_PORT, apart from the API's own port):
// requests by route and status (rate, errors, duration), requests in flight, the database
// connections of the API's pool, the outbox rows its writes committed, and commit → wake.
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type postgres from 'postgres';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { readConnectionsByState } from '@relevo/db/sql';
import { ROUTES } from '@relevo/events';

export interface ApiMetrics {
  registry: Registry;
  /** Counts and times every request; register it first, so it sees the final status. */
  middleware: MiddlewareHandler;
  /** A write committed these events: one outbox row per event and topic it is routed to. */
  outboxWritten(eventTypes: readonly (keyof typeof ROUTES)[]): void;
  /** The commit's shard keys were announced to the relay this long after the commit. */
  woken(seconds: number): void;
}

export interface ApiMetricsOptions {
  /** Where the scrape reads the connections of the pool named applicationName (not that pool: it may be saturated). */
  sql?: postgres.Sql;
  applicationName?: string;
  /** Connections the API's pool may open. */
  poolMax?: number;
}

/** The label of a request that matched no handler (404, 405): one series, whatever the path. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The handler's route pattern (`/v1/partners/:id`), never the raw path: one series per route. */
function routeOf(c: Parameters<MiddlewareHandler>[0]): string {
  const handler = matchedRoutes(c).findLast((r) => r.method !== 'ALL');
  return handler?.path ?? UNMATCHED_ROUTE;
}

export function createApiMetrics(o: ApiMetricsOptions = {}): ApiMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'relevo_api_requests_total', help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'], registers: [registry],
  });
  const duration = new Histogram({
    name: 'relevo_api_request_duration_seconds', help: 'From the request reaching the app to its response, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'], registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const inFlight = new Gauge({ name: 'relevo_api_requests_in_flight', help: 'Requests being handled now', registers: [registry] });
  const outboxRows = new Counter({
    name: 'relevo_api_outbox_rows_total', help: 'Outbox rows committed by the API\'s writes, by event type and topic',
    labelNames: ['type', 'topic'], registers: [registry],
  });
  const wake = new Histogram({
    name: 'relevo_api_commit_to_wake_seconds', help: 'From a write\'s commit to the NOTIFY that wakes the relay for it',
    registers: [registry], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });
  new Gauge({
    name: 'relevo_api_db_pool_max', help: 'Connections the API\'s database pool may open', registers: [registry],
    collect() {
      this.set(o.poolMax ?? 0);
    },
  });
  const connections = new Gauge({
    name: 'relevo_api_db_connections', help: 'Database connections of the API\'s pool by state, from pg_stat_activity',
    labelNames: ['state'], registers: [registry],
    async collect() {
      if (!o.sql) return;
      connections.reset();
      // A scrape during a database outage shows no connections rather than failing.
      const rows = await readConnectionsByState(o.sql, o.applicationName ?? 'relevo-api').catch(() => []);
      for (const r of rows) connections.set({ state: r.state }, r.connections);
    },
  });

  return {
    registry,
    middleware: async (c, next) => {
      const started = performance.now();
      inFlight.inc();
      try {
        await next();
      } finally {
        inFlight.dec();
        const labels = { method: c.req.method, route: routeOf(c), status: String(c.res.status) };
        requests.inc(labels);
        duration.observe(labels, (performance.now() - started) / 1000);
      }
    },
    outboxWritten(types) {
      for (const type of types) for (const topic of ROUTES[type]) outboxRows.inc({ type, topic });
    },
    woken(seconds) {
      wake.observe(seconds);
    },
  };
}
