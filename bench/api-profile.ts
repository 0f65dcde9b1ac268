// Prototype for the lead (not part of `pnpm bench`): why PATCH tops out at a few hundred
// requests/s. (1) `relevo api` child under a closed loop, CPU-profiled; (2) the same app
// in this process (createApp from @relevo/api, no code changed) with and without the
// post-commit commit announcement (the relay's wake-up), side by side. `node bench/api-profile.ts [seconds]`.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createApp, parseApiTokens } from '@relevo/api';
import { connectDatabase, createCommitAnnouncer } from '@relevo/db';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase } from '../test/support/database.ts';
import { summarizeProfile } from './profile.ts';
import { BENCH_API_ENV, BENCH_TOKEN, PROFILE_DIR, freePort, loadPartners, log, median, spawnRelevo, waitFor } from './support.ts';

// @hono/node-server is the api package's dependency, not the root's: load it from there.
type Serve = (o: { fetch: unknown; port: number; hostname: string }) => { close(cb: () => void): void };
const { serve } = (await import(new URL('../packages/api/node_modules/@hono/node-server/dist/index.mjs', import.meta.url).href)) as { serve: Serve };

const seconds = Number(process.argv[2] ?? 6);
const CONC = 16;

async function load(base: string, ids: string[], secs: number): Promise<number> {
  let n = 0;
  let done = 0;
  const end = performance.now() + secs * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (performance.now() < end) {
      const k = n++;
      const res = await fetch(`${base}/v1/partners/${ids[(k * 7919) % ids.length]}`, {
        method: 'PATCH', headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ nombre: `x${k}` }),
      });
      await res.arrayBuffer();
      if (res.status === 200) done++;
    }
  }));
  return done / ((performance.now() - t0) / 1000);
}

const db = await createTestDatabase('relevo_bench');
const database = connectDatabase(db.url);
try {
  const ids = await loadPartners(database.sql, 10_000);
  // (1) the real process, profiled.
  const dir = join(PROFILE_DIR, `api-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const api = spawnRelevo('api', { DATABASE_URL: db.url, PORT: String(port), ...BENCH_API_ENV }, ['--cpu-prof', '--cpu-prof-dir', dir]);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null))?.ok === true, 30_000, 'api');
  const child = await load(`http://127.0.0.1:${port}`, ids, seconds);
  await api.stop();
  const prof = summarizeProfile(join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!), 30);
  log(`api child (profiled): ${Math.round(child)} req/s`);
  // (2) in-process, with and without the wake-up, alternating.
  const announce = createCommitAnnouncer(database.sql);
  const results: Record<string, number[]> = { wake: [], no_wake: [] };
  const quiet = createLogger('api', 'warn');
  for (let r = 0; r < 2; r++) {
    for (const wake of [true, false]) {
      const app = createApp({ database, tokens: parseApiTokens(BENCH_API_ENV.API_TOKENS), principalSecret: BENCH_API_ENV.API_PRINCIPAL_SECRET, log: quiet, ...(wake ? { onCommitted: announce } : {}) });
      const p = await freePort();
      const server = serve({ fetch: app.fetch, port: p, hostname: '127.0.0.1' });
      await new Promise((res) => setTimeout(res, 200));
      results[wake ? 'wake' : 'no_wake']!.push(Math.round(await load(`http://127.0.0.1:${p}`, ids, seconds)));
      await new Promise((res) => server.close(() => res(undefined)));
    }
  }
  console.log(JSON.stringify({ child_req_per_s: Math.round(child), in_process: results, wake_median: median(results.wake!), no_wake_median: median(results.no_wake!), profile: prof }, null, 1));
} finally {
  await database.close();
  await db.drop();
}
