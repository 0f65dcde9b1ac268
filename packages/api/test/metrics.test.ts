// The API's metrics registry in process: requests labelled by route pattern (never the raw
// path) and status, 5xx included, requests in flight while a write waits, outbox rows per
// event type and topic, and the database connections read from pg_stat_activity.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiMetrics, UNMATCHED_ROUTE, type ApiMetrics } from '../src/metrics.ts';
import { call, createHarness, type Harness } from './support/harness.ts';

describe('API metrics', () => {
  let h: Harness;
  let metrics: ApiMetrics;
  let release: () => void = () => {};
  let hold = false;
  let app: Harness['app'];

  beforeAll(async () => {
    h = await createHarness();
    metrics = createApiMetrics({ sql: h.database.sql, applicationName: 'relevo', poolMax: 24 });
    app = h.appWith({
      metrics,
      beforeCommit: async () => {
        if (hold) await new Promise<void>((resolve) => { release = resolve; });
      },
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  const value = async (name: string, labels: Record<string, string> = {}) => {
    const m = await metrics.registry.getSingleMetric(name)!.get();
    return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
  };

  it('counts and times requests by method, route pattern and status', async () => {
    const created = await (await call(app, '/v1/partners', { method: 'POST', body: { nombre: 'M', email: 'm@example.com' } })).json();
    await call(app, `/v1/partners/${created.id}`);
    await call(app, `/v1/partners/${randomUUID()}`);
    await call(app, `/v1/partners/${randomUUID()}/kyc`, { method: 'POST', body: { estado_kyc: 'VERIFICADO' } });
    await call(app, '/nowhere/at/all');
    await call(app, `/no/${randomUUID()}`);
    expect(await value('relevo_api_requests_total', { method: 'POST', route: '/v1/partners', status: '201' })).toBe(1);
    expect(await value('relevo_api_requests_total', { method: 'GET', route: '/v1/partners/:id', status: '200' })).toBe(1);
    expect(await value('relevo_api_requests_total', { method: 'GET', route: '/v1/partners/:id', status: '404' })).toBe(1);
    expect(await value('relevo_api_requests_total', { method: 'POST', route: '/v1/partners/:id/kyc', status: '404' })).toBe(1);
    expect(await value('relevo_api_requests_total', { route: UNMATCHED_ROUTE, status: '404' })).toBe(2);
    const histogram = await metrics.registry.getSingleMetric('relevo_api_request_duration_seconds')!.get();
    const count = histogram.values.find((v) => (v as { metricName?: string }).metricName === 'relevo_api_request_duration_seconds_count' && v.labels.route === '/v1/partners/:id' && v.labels.status === '404');
    expect(count?.value).toBe(1);
    // One series per route, whatever ids the paths carried.
    const routes = new Set((await metrics.registry.getSingleMetric('relevo_api_requests_total')!.get()).values.map((v) => v.labels.route));
    expect([...routes].sort()).toEqual(['/v1/partners', '/v1/partners/:id', '/v1/partners/:id/kyc', UNMATCHED_ROUTE]);
  });

  it('counts a failing request under its 5xx status', async () => {
    const failing = h.appWith({ metrics, beforeCommit: () => { throw new Error('boom'); } });
    const res = await call(failing, '/v1/partners', { method: 'POST', body: { nombre: 'F', email: 'f@example.com' } });
    expect(res.status).toBe(500);
    expect(await value('relevo_api_requests_total', { method: 'POST', route: '/v1/partners', status: '500' })).toBe(1);
  });

  it('shows a request in flight while it runs, and the outbox rows its commit wrote by type and topic', async () => {
    const created = await (await call(app, '/v1/partners', { method: 'POST', body: { nombre: 'K', email: 'k@example.com' } })).json();
    hold = true;
    const pending = call(app, `/v1/partners/${created.id}/kyc`, { method: 'POST', body: { estado_kyc: 'RECHAZADO', motivo: 'x' } });
    await expect.poll(() => value('relevo_api_requests_in_flight')).toBe(1);
    expect(await value('relevo_api_outbox_rows_total', { type: 'KYCVerificado' })).toBe(0);
    hold = false;
    release();
    expect((await pending).status).toBe(200);
    expect(await value('relevo_api_requests_in_flight')).toBe(0);
    expect(await value('relevo_api_outbox_rows_total', { type: 'KYCVerificado', topic: 'eventos-partners' })).toBe(1);
    expect(await value('relevo_api_outbox_rows_total', { type: 'KYCVerificado', topic: 'administracion-financiera-compliance' })).toBe(1);
    expect(await value('relevo_api_outbox_rows_total', { type: 'PartnerCreado' })).toBe(2);
  });

  it('reads the pools\' connections by state at scrape time', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/relevo_api_db_connections\{state="(idle|active)"\} [1-9]/);
    expect(text).toContain('relevo_api_db_pool_max 24');
  });
});
