// /docs in headless Chromium against a real API server and Postgres: Swagger UI renders the
// API's own OpenAPI document from assets the API serves (nothing else is fetched, no CSP
// violation), and "try it out" with a bearer token entered in its Authorize dialog calls the
// API for real.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { createLogger } from '@relevo/runtime';
import { createApp, parseApiTokens } from '../src/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { createPartners } from '../../../test/support/writes.ts';
import { closeInOrder, servePages, type ServedPages } from './support/browser.ts';

const TOKEN = 'docs-page-token-0123456789abcdef01234567';

describe('API reference /docs', () => {
  let tdb: TestDatabase;
  let database: Database;
  let pages: ServedPages;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_docs_page');
    database = connectDatabase(tdb.url);
    await createPartners(database, 2);
    const app = createApp({
      database, tokens: parseApiTokens(`docs:read+write+operator:${TOKEN}`), principalSecret: 'docs-page-principal-secret-0123456789abcdef',
      log: createLogger('docs-page-test', 'silent'), shards: 4,
    });
    pages = await servePages(app);
    ({ base, browser } = pages);
  });

  // Whatever beforeAll got to open: the browser and server, the pool, the database.
  afterAll(() => closeInOrder(pages, database, tdb));

  /** Opens /docs, recording every request the page makes and every console error (a CSP violation is one). */
  const open = async (): Promise<{ page: Page; requests: string[]; errors: string[] }> => {
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/docs`);
    await page.locator('.opblock-summary-path[data-path="/v1/outbox/status"]').waitFor();
    return { page, requests, errors };
  };

  const execute = async (page: Page, path: string): Promise<{ status: string; body: string }> => {
    const op = page.locator('.opblock', { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
    if (!(await op.locator('.try-out').isVisible())) await op.locator('.opblock-summary').first().click();
    if (await op.getByRole('button', { name: 'Try it out' }).isVisible()) await op.getByRole('button', { name: 'Try it out' }).click();
    const live = op.locator('.live-responses-table .response');
    // A response from an earlier execution is cleared first, so the one read is this one's.
    if (await op.locator('.btn-clear').isVisible()) {
      await op.locator('.btn-clear').click();
      await live.first().waitFor({ state: 'detached' });
    }
    await op.getByRole('button', { name: 'Execute' }).click();
    await live.first().waitFor();
    return {
      status: (await live.first().locator('.response-col_status').innerText()).trim(),
      body: await live.first().locator('.response-col_description pre').first().innerText(),
    };
  };

  it('renders every operation of /openapi.json from the API\'s own assets, with no CSP violation and nothing fetched elsewhere', async () => {
    const { page, requests, errors } = await open();
    const doc = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    const shown = await page.locator('.opblock-summary-path').evaluateAll((els) => els.map((e) => e.getAttribute('data-path')));
    expect(new Set(shown)).toEqual(new Set(Object.keys(doc.paths)));
    expect(await page.locator('.info .title').innerText()).toMatch(/^relevo API/);
    expect(requests.filter((url) => !url.startsWith(`${base}/`))).toEqual([]);
    expect(requests).toEqual(expect.arrayContaining([`${base}/docs/assets/swagger-ui-bundle.js`, `${base}/openapi.json`]));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('"try it out" is refused without a token, and answers with the token given in Authorize', async () => {
    const { page, errors } = await open();
    const refused = await execute(page, '/v1/outbox/status');
    expect(refused.status).toBe('401');
    expect(refused.body).toContain('urn:relevo:problem:unauthorized');

    await page.locator('.auth-wrapper .authorize').click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Apply credentials' }).click();
    await dialog.locator('.btn-done').click();

    const answered = await execute(page, '/v1/outbox/status');
    expect(answered.status).toBe('200');
    expect(JSON.parse(answered.body)).toMatchObject({ totals: { pending: 2 } });
    expect(errors.filter((e) => !/401/.test(e))).toEqual([]);
    await page.close();
  });
});
