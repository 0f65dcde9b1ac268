// `relevo api` as a real process: configuration errors, serving, waking the relay, SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_COMMIT_CHANNEL, shardKeyOf } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = 'packages/cli/src/main.ts';

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra };
}

function run(env: NodeJS.ProcessEnv): { child: ChildProcess; stdout: string[]; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'api'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  let err = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    stdout.push(...lines);
  });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stdout, stderr: () => err, exit };
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let testDb: TestDatabase;
beforeAll(async () => { testDb = await createTestDatabase('relevo_api_proc'); });
afterAll(async () => { await testDb?.drop(); });

describe('relevo api', () => {
  it('without API_TOKENS exits non-zero with one config line and no stack trace', async () => {
    const p = run(baseEnv({ DATABASE_URL: testDb.url }));
    const code = await p.exit;
    expect(code).not.toBe(0);
    const lines = p.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^config: API_TOKENS /);
    expect(p.stderr()).not.toMatch(/\n\s+at /);
  });

  it('with an empty API_TOKENS it also refuses to start', async () => {
    const p = run(baseEnv({ DATABASE_URL: testDb.url, API_TOKENS: ' , ' }));
    expect(await p.exit).not.toBe(0);
    expect(p.stderr().trim().split('\n')).toEqual([expect.stringMatching(/^config: API_TOKENS=.* is invalid: give at least one non-empty token$/)]);
  });

  it('serves, announces each commit on the commit channel after it, exports its metrics, and exits 0 on SIGTERM', async () => {
    const p = run(baseEnv({ DATABASE_URL: testDb.url, API_TOKENS: 'proc-token', PORT: '0', API_METRICS_PORT: '0', LOG_LEVEL: 'info', RELAY_SHARDS: '2' }));
    try {
      const { port, metrics } = await waitFor('the listening line', () => {
        for (const line of p.stdout) {
          const j = JSON.parse(line) as { msg?: string; port?: number; metrics?: string };
          if (j.msg === 'listening') return { port: j.port, metrics: j.metrics! };
        }
        if (p.child.exitCode !== null) throw new Error(`exited early: ${p.stderr()}`);
        return undefined;
      });
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
        headers: { authorization: 'Bearer proc-token', 'content-type': 'application/json' },
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
      expect(scraped).toContain('relevo_api_db_pool_max 20');
      expect((await fetch(new URL('/health/ready', metrics))).status).toBe(200);

      p.child.kill('SIGTERM');
      expect(await p.exit).toBe(0);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
});
