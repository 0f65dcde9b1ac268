// The /outbox operator page in headless Chromium (Debian's package, driven by playwright-core)
// against a real API server and Postgres: sign in with an operator token, see the status, the
// parked rows and the last hour's charts, click Retry and Skip, and check both what the page
// shows and what the database holds (who did it included). Also the /v1/outbox endpoints'
// refusals, which the page relies on.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, parseApiTokens } from '../src/index.ts';
import { connectDatabase, type Database } from '@relevo/db';
import { DEAD_LETTER_SUBSCRIPTION, TOPICS } from '@relevo/events';
import { createAdmin, createClient } from '@relevo/pulsar';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { adminUrl, createTestNamespace, serviceUrl } from '../../../test/support/pulsar.ts';
import { createPartners, parkRow } from '../../../test/support/writes.ts';
import { closeInOrder, servePages, type ServedPages } from './support/browser.ts';

const TOKEN = 'operator-page-token-0123456789abcdef012';
/** Reads and writes partners, but is no operator's. */
const APP_TOKEN = 'operator-page-app-token-0123456789abcdef';

describe('operator page /outbox', () => {
  let tdb: TestDatabase;
  let database: Database;
  let pages: ServedPages;
  let base: string;
  let browser: Browser;
  const woken: string[][] = [];
  let partners: string[];
  let rowOf: Record<string, string>;

  /** Parks a partner's row the way the relay does after its last failed attempt. */
  const park = (id: string, error: string) => parkRow(database.sql, id, error);
  const stateOf = async (id: string) =>
    (await database.sql<{ parked: boolean; skipped: boolean; attempts: number; skip_reason: string | null; skipped_by: string | null; retried_by: string | null }[]>`
      select parked_at is not null as parked, skipped_at is not null as skipped, attempts, skip_reason, skipped_by, retried_by
        from outbox where id = ${id}`)[0]!;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_operator_page');
    database = connectDatabase(tdb.url);
    partners = await createPartners(database, 3);
    const rows = await database.sql<{ id: string; aggregate_id: string }[]>`select id::text, aggregate_id from outbox order by id`;
    rowOf = Object.fromEntries(rows.map((r) => [r.aggregate_id, r.id]));
    await park(rowOf[partners[0]!]!, 'EVENT_SCHEMA_MISMATCH: data.version: "two" is not a long');
    await park(rowOf[partners[1]!]!, 'Timeout: <script>alert("not run")</script>');
    // Two dead letters wait on the alliances consumer's dead-letter topic.
    const namespace = await createTestNamespace();
    const admin = createAdmin(adminUrl);
    const dlqTopic = `persistent://${namespace}/${TOPICS.alianzas}-dlq`;
    const client = createClient({ serviceUrl });
    const producer = await client.createProducer({ topic: dlqTopic, batching: false });
    await admin.createSubscription(dlqTopic, DEAD_LETTER_SUBSCRIPTION);
    for (const n of [1, 2]) await producer.send({ payload: Buffer.from(`dead ${n}`), properties: { relevo_dlq_error: 'boom' } });
    await client.close();
    const app = createApp({
      database, tokens: parseApiTokens(`night-shift:operator:${TOKEN},app:read+write:${APP_TOKEN}`),
      principalSecret: 'operator-page-principal-secret-0123456789', log: createLogger('operator-page-test', 'silent'), shards: 4,
      onCommitted: (ids) => { woken.push(ids); },
      deadLetters: { admin, namespace },
    });
    pages = await servePages(app);
    ({ base, browser } = pages);
  });

  // Whatever beforeAll got to open: the browser and server, the pool, the database.
  afterAll(() => closeInOrder(pages, database, tdb));

  const signIn = async (): Promise<Page> => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/outbox`);
    await page.getByLabel('Operator token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('table', { name: 'Parked rows' }).getByRole('row').nth(1).waitFor();
    expect(errors).toEqual([]);
    return page;
  };
  const total = (page: Page, state: string) => page.locator(`#total-${state}`).textContent();
  const message = (page: Page) => page.getByRole('status').textContent();

  it('shows the status, the backlog per shard and topic, and the parked rows with their errors as text', async () => {
    const page = await signIn();
    expect(await total(page, 'parked')).toBe('2');
    expect(await total(page, 'pending')).toBe('1');
    const topics = page.getByRole('table', { name: 'Backlog per topic' });
    expect(await topics.getByRole('row').nth(1).innerText()).toMatch(new RegExp(`${TOPICS.partners}\\s+1\\s+0\\s+2`));
    expect(await page.getByRole('table', { name: 'Backlog per shard' }).getByRole('row').count()).toBeGreaterThan(1);
    const parked = page.getByRole('table', { name: 'Parked rows' });
    expect(await parked.getByRole('row').count()).toBe(3);
    // An error holding markup is shown as text, not run or parsed.
    expect(await parked.getByText('<script>alert("not run")</script>').count()).toBe(1);
    expect(await page.locator('#parked script').count()).toBe(0);
    await page.close();
  });

  it('charts the last hour (backlog, publish lag, events/s) as inline SVG, and counts the dead letters per consumer', async () => {
    const page = await signIn();
    const backlog = page.locator('#chart-backlog svg');
    await backlog.waitFor();
    // Three rows unsent (one pending, two parked), none sent.
    expect(await backlog.getAttribute('aria-label')).toBe('Backlog over the last hour: now 3, at most 3');
    expect(await page.locator('#chart-backlog .now').textContent()).toBe('3');
    expect(await page.locator('#chart-rate svg').getAttribute('aria-label')).toBe('Events per second over the last hour: now 0.00, at most 0.00');
    expect(await page.locator('#chart-lag svg').getAttribute('aria-label')).toMatch(/^Publish lag over the last hour: now \d+(\.\d)? (ms|s)/);
    const points = (await backlog.locator('polyline').getAttribute('points'))!.split(' ');
    expect(points).toHaveLength(60);
    // The rows were written a moment ago: 0 for the hour before, 3 at the end (the top of the chart).
    expect(points[0]).toBe('0.0,78.0');
    expect(points[59]).toBe('300.0,2.0');
    const dead = page.getByRole('table', { name: 'Dead letters per consumer' });
    expect(await dead.getByRole('row', { name: /alliances/ }).innerText()).toMatch(new RegExp(`alliances\\s+${TOPICS.alianzas}-dlq\\s+2`));
    expect(await dead.getByRole('row', { name: /alerts/ }).innerText()).toMatch(/\s0$/);
    expect(await page.locator('#dead-letters-error').textContent()).toBe('');
    await page.close();
  });

  it('Retry re-queues the parked row, wakes the relay for its partner and updates the page', async () => {
    const id = rowOf[partners[0]!]!;
    const page = await signIn();
    woken.length = 0;
    await page.getByRole('button', { name: `Retry row ${id}` }).click();
    await page.getByRole('button', { name: `Retry row ${id}` }).waitFor({ state: 'detached' });
    expect(await message(page)).toBe(`Row ${id} re-queued by api:night-shift; the relay was woken.`);
    expect(await total(page, 'parked')).toBe('1');
    expect(await total(page, 'pending')).toBe('2');
    expect(await stateOf(id)).toMatchObject({ parked: false, skipped: false, attempts: 0, retried_by: 'api:night-shift' });
    expect(woken).toEqual([[partners[0]]]);
    await page.close();
  });

  it('Skip asks for a reason, keeps the row as skipped with it, and releases the partner', async () => {
    const id = rowOf[partners[1]!]!;
    const page = await signIn();
    page.once('dialog', (d) => void d.accept('  payload lost upstream, re-sent by hand  '));
    await page.getByRole('button', { name: `Skip row ${id}` }).click();
    await page.getByRole('button', { name: `Skip row ${id}` }).waitFor({ state: 'detached' });
    expect(await message(page)).toBe(`Row ${id} skipped by api:night-shift; its partner is released.`);
    expect(await total(page, 'skipped')).toBe('1');
    expect(await page.locator('#no-parked').isVisible()).toBe(true);
    expect(await stateOf(id)).toMatchObject({ skipped: true, skip_reason: 'payload lost upstream, re-sent by hand', skipped_by: 'api:night-shift' });
    // The skipped row is listed with who skipped it and why.
    const skipped = page.getByRole('table', { name: 'Skipped rows' }).getByRole('row').nth(1);
    await skipped.waitFor();
    expect(await skipped.innerText()).toMatch(new RegExp(`^${id}\\s.*api:night-shift\\s+payload lost upstream, re-sent by hand$`));
    await page.close();
  });

  it('a refused token sends the operator back to the sign-in form', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/outbox`);
    await page.getByLabel('Operator token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Operator token').waitFor();
    expect(await message(page)).toMatch(/^The token was refused: the bearer token is not valid/);
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    await page.close();
  });

  it('a valid token without the operator scope is refused the same way, and shows nothing', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/outbox`);
    await page.getByLabel('Operator token').fill(APP_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(/^The token was refused/).waitFor();
    expect(await message(page)).toBe('The token was refused: the token app lacks the operator scope that GET /v1/outbox/status needs');
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    expect(await page.locator('#total-parked').textContent()).toBe('–');
    await page.close();
  });

  it('serves the page shell without a token, with a nonce-only content security policy', async () => {
    const res = await fetch(`${base}/outbox`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    expect(csp).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).not.toContain(partners[0]);
  });

  describe('the /v1/outbox endpoints refuse what they cannot do, changing nothing', () => {
    const call = (path: string, body?: unknown, token: string | null = TOKEN) => fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const cases: { name: string; path: () => string; body?: unknown; token?: string | null; status: number; type: string; paths?: string[] }[] = [
      { name: 'status without a token', path: () => '/v1/outbox/status', token: null, status: 401, type: 'unauthorized' },
      { name: 'status with a read+write token', path: () => '/v1/outbox/status', token: APP_TOKEN, status: 403, type: 'insufficient-scope' },
      { name: 'skip with a read+write token', path: () => `/v1/outbox/${rowOf[partners[2]!]}/skip`, body: { reason: 'x' }, token: APP_TOKEN, status: 403, type: 'insufficient-scope' },
      { name: 'retry: id past bigint', path: () => '/v1/outbox/9223372036854775808/retry', body: {}, status: 400, type: 'validation-failed', paths: ['params.id'] },
      { name: 'skip: reason with an escape sequence', path: () => `/v1/outbox/${rowOf[partners[2]!]}/skip`, body: { reason: 'ok\u001b]0;pwned\u0007' }, status: 400, type: 'validation-failed', paths: ['body.reason'] },
      { name: 'retry without a token', path: () => `/v1/outbox/${rowOf[partners[2]!]}/retry`, body: {}, token: null, status: 401, type: 'unauthorized' },
      { name: 'retry: id not a number', path: () => '/v1/outbox/abc/retry', body: {}, status: 400, type: 'validation-failed', paths: ['params.id'] },
      { name: 'retry: unknown field', path: () => `/v1/outbox/${rowOf[partners[2]!]}/retry`, body: { force: true }, status: 400, type: 'validation-failed', paths: ['body.force'] },
      { name: 'retry: no such row', path: () => '/v1/outbox/999999/retry', body: {}, status: 404, type: 'not-found' },
      { name: 'retry: row is pending, not parked', path: () => `/v1/outbox/${rowOf[partners[2]!]}/retry`, body: {}, status: 409, type: 'outbox-row-not-parked' },
      { name: 'skip: no reason', path: () => `/v1/outbox/${rowOf[partners[2]!]}/skip`, body: {}, status: 400, type: 'validation-failed', paths: ['body.reason'] },
      { name: 'skip: blank reason', path: () => `/v1/outbox/${rowOf[partners[2]!]}/skip`, body: { reason: '   ' }, status: 400, type: 'validation-failed', paths: ['body.reason'] },
      { name: 'skip: row is pending, not parked', path: () => `/v1/outbox/${rowOf[partners[2]!]}/skip`, body: { reason: 'x' }, status: 409, type: 'outbox-row-not-parked' },
      { name: 'parked: limit too large', path: () => '/v1/outbox/parked?limit=5000', status: 400, type: 'validation-failed', paths: ['query.limit'] },
    ];

    it.each(cases)('$name → $status', async (c) => {
      const before = await database.sql`select id, parked_at, skipped_at, attempts, skip_reason from outbox order by id`;
      const res = await call(c.path(), c.body, c.token === undefined ? TOKEN : c.token);
      const problem = await res.json() as { type: string; detail: string; errors?: { path: string }[] };
      expect(res.status, problem.detail).toBe(c.status);
      expect(problem.type).toBe(`urn:relevo:problem:${c.type}`);
      if (c.paths) expect(problem.errors?.map((e) => e.path)).toEqual(c.paths);
      if (c.status === 409) expect(problem.detail).toMatch(/is pending, not parked/);
      expect(await database.sql`select id, parked_at, skipped_at, attempts, skip_reason from outbox order by id`).toEqual(before);
    });
  });
});
