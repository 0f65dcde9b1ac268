// `relevo api` as a real process: configuration errors, serving, waking the relay, SIGTERM.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_COMMIT_CHANNEL, shardKeyOf } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { baseEnv, listening, runRelevo, waitFor } from './support/process.ts';

const SECRET = 'process-test-principal-secret-0123456789';
const TOKEN = 'process-test-token-0123456789abcdef0123';
const run = (env: NodeJS.ProcessEnv) => runRelevo(['api'], env);

let testDb: TestDatabase;
beforeAll(async () => { testDb = await createTestDatabase('relevo_api_proc'); });
afterAll(async () => { await testDb?.drop(); });

describe('relevo api', () => {
  it('without API_TOKENS exits non-zero with one config line and no stack trace', async () => {
    const p = run(baseEnv({ DATABASE_URL: testDb.url, API_PRINCIPAL_SECRET: SECRET }));
    const code = await p.exit;
    expect(code).not.toBe(0);
    const lines = p.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^config: API_TOKENS /);
    expect(p.stderr()).not.toMatch(/\n\s+at /);
  });

  it('with an empty API_TOKENS it also refuses to start', async () => {
    const p = run(baseEnv({ DATABASE_URL: testDb.url, API_TOKENS: ' , ', API_PRINCIPAL_SECRET: SECRET }));
    expect(await p.exit).not.toBe(0);
    expect(p.stderr().trim().split('\n')).toEqual([
      'config: API_TOKENS=(3 characters, not shown) is invalid: give at least one token as name:scope+scope:secret (scopes: read, write, operator)',
    ]);
  });

  it('serves, announces each commit on the commit channel after it, exports its metrics, and exits 0 on SIGTERM', async () => {
    const p = run(baseEnv({
      DATABASE_URL: testDb.url, API_TOKENS: `proc:read+write:${TOKEN}`, API_PRINCIPAL_SECRET: SECRET, PORT: '0', API_METRICS_PORT: '0',
      LOG_LEVEL: 'info', RELAY_SHARDS: '2', API_DB_POOL_MAX: '12',
    }));
    try {
      const { port, metrics } = await listening(p);
      const base = `http://127.0.0.1:${port}`;
      const ready = await fetch(`${base}/health/ready`);
      expect(ready.status).toBe(200);
      expect((await fetch(`${base}/v1/partners`)).status).toBe(401);

      // The relay hears of the commit on the commit channel and drains the partner's shard.
      const listener = postgres(testDb.url, { max: 1, onnotice: () => {} });
      const announced: string[] = [];
      await listener.listen(OUTBOX_COMMIT_CHANNEL, (payload) => announced.push(payload));
      const created = await fetch(`${base}/v1/partners`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ nombre: 'Proc', email: 'proc@example.com' }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      try {
        await waitFor('the commit announcement', async () => (announced.length > 0 ? true : undefined));
        expect(announced).toEqual([String(shardKeyOf(id))]);
      } finally {
        await listener.end();
      }

      // That announcement is the whole wake-up: the API sends no pg-boss job (the relay does).
      const sql = postgres(testDb.url, { max: 1, onnotice: () => {} });
      try {
        const [boss] = await sql`select to_regclass('pgboss.job') as job`;
        expect(boss!.job).toBeNull();
      } finally {
        await sql.end();
      }

      // One JSON log line per request.
      const requests = p.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).filter((j) => j.msg === 'request');
      expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', path: '/v1/partners', status: 201, ms: expect.any(Number) }));

      // /metrics on its own port: the requests by route and status, the outbox row the
      // create committed, its commit → wake time, and the pools' connections.
      expect(new URL(metrics).port).not.toBe(String(port));
      const scraped = await (await fetch(metrics)).text();
      expect(scraped).toContain('relevo_api_requests_total{method="POST",route="/v1/partners",status="201"} 1');
      expect(scraped).toContain('relevo_api_requests_total{method="GET",route="/v1/partners",status="401"} 1');
      expect(scraped).toContain('relevo_api_outbox_rows_total{type="PartnerCreado",topic="eventos-partners"} 1');
      expect(scraped).toContain('relevo_api_commit_to_wake_seconds_count 1');
      expect(scraped).toMatch(/relevo_api_db_connections\{state="(idle|active)"\} [1-9]/);
      expect(scraped).toContain('relevo_api_db_pool_max 12');
      expect((await fetch(new URL('/health/ready', metrics))).status).toBe(200);

      p.child.kill('SIGTERM');
      expect(await p.exit).toBe(0);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  it('announces a commit at once while every connection of its pool is taken and more writes wait for one', async () => {
    const p = run(baseEnv({
      DATABASE_URL: testDb.url, API_TOKENS: `proc:read+write:${TOKEN}`, API_PRINCIPAL_SECRET: SECRET, PORT: '0', API_METRICS_PORT: '0',
      LOG_LEVEL: 'info', RELAY_SHARDS: '2', API_DB_POOL_MAX: '10',
    }));
    const sql = postgres(testDb.url, { max: 2, onnotice: () => {} });
    const holder = postgres(testDb.url, { max: 1, onnotice: () => {} });
    const listener = postgres(testDb.url, { max: 1, onnotice: () => {} });
    let release = () => {};
    let holding: Promise<unknown> | undefined;
    let patches: Promise<Response>[] = [];
    try {
      const { port, metrics } = await listening(p);
      const send = (method: string, path: string, body: unknown) => fetch(`http://127.0.0.1:${port}${path}`, {
        method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const created = await send('POST', '/v1/partners', { nombre: 'Cola', email: 'cola@example.com' });
      const { id } = (await created.json()) as { id: string };

      // The partner's row is locked: 10 PATCHes hold the API's 10 connections, waiting on it,
      // and the other 110 wait in the API for a connection.
      const released = new Promise<void>((resolve) => { release = resolve; });
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => { locked = resolve; });
      holding = holder.begin(async (tx) => {
        await tx`select 1 from partners where id = ${id} for update`;
        locked();
        await released;
      });
      await isLocked;
      let answered = 0;
      patches = Array.from({ length: 120 }, (_, n) => send('PATCH', `/v1/partners/${id}`, { nombre: `Cola ${n}` }).finally(() => { answered++; }));
      await waitFor('10 connections waiting on the lock and 120 requests in the API', async () => {
        const [row] = await sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
           where datname = current_database() and application_name = 'relevo-api' and wait_event_type = 'Lock'`;
        // The scrape answers while the pool is saturated (its query has a connection of its own).
        const scraped = await (await fetch(metrics, { signal: AbortSignal.timeout(5_000) })).text();
        const inFlight = /^relevo_api_requests_in_flight (\d+)$/m.exec(scraped)?.[1];
        return row!.n === 10 && Number(inFlight) === 120 ? true : undefined;
      });

      // Released, the PATCHes commit one after another. The first commit's announcement
      // must reach a listener before most of them are answered, not after the 110 queued
      // writes got a connection and committed.
      let answeredWhenHeard: number | undefined;
      await listener.listen(OUTBOX_COMMIT_CHANNEL, () => { answeredWhenHeard ??= answered; });
      release();
      await holding;
      expect((await Promise.all(patches)).map((r) => r.status)).toEqual(Array(120).fill(200));
      const heard = await waitFor('an announcement', async () => answeredWhenHeard);
      expect(heard).toBeLessThan(40);
    } finally {
      release();
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await Promise.allSettled(patches);
      await holding?.catch(() => undefined);
      await Promise.all([sql.end(), holder.end({ timeout: 1 }), listener.end()]);
    }
  });
});
