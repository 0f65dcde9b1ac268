// Not part of `pnpm bench`: `relevo api` from two or more checkouts side by side, alternating,
// on one database. Each round: a closed loop of 16 PATCH (with --post: POST /v1/partners with
// an Idempotency-Key) for 8 s of warm-up, then 8 s measured; requests/s and CPU per request
// of the API process and of its Postgres backends (found by application_name), read from
// /proc. `node bench/api-ab.ts [--post] <checkout> <checkout> … <rounds>`; each checkout needs
// its own `pnpm install`.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { connectSql } from '@relevo/db';
import { createTestDatabase } from '../test/support/database.ts';
import { BENCH_API_ENV, BENCH_TOKEN, backendPids, closedLoop, cpuTicks, freePort, loadPartners, log, partnerCreator, partnerPatcher, sleep, spawnRelevo, waitFor } from './support.ts';

const post = process.argv[2] === '--post';
const args = process.argv.slice(post ? 3 : 2);
const checkouts = args.slice(0, -1).map((d) => resolve(d));
const rounds = Number(args.at(-1));
if (checkouts.length < 2 || !(rounds > 0)) throw new Error('usage: node bench/api-ab.ts [--post] <checkout> <checkout> … <rounds>');
const what = post ? 'POST' : 'PATCH';
const CONCURRENCY = 16;
const SECONDS = 8;

const db = await createTestDatabase('relevo_bench');
const sql = connectSql(db.url, { max: 2, applicationName: 'relevo-bench-ab' });
const results = new Map<string, string[]>();
try {
  const ids = await loadPartners(sql, 10_000);
  for (let r = 0; r < rounds; r++) {
    for (const checkout of checkouts) {
      const port = await freePort();
      const api = spawnRelevo('api', { DATABASE_URL: db.url, PORT: String(port), ...BENCH_API_ENV, RELAY_SHARDS: '4' }, [],
        `${checkout}/packages/cli/src/main.ts`);
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitFor(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.ok === true, 30_000, 'api ready');
        let n = 0;
        let request: () => Promise<number>;
        if (post) {
          const create = partnerCreator(base, BENCH_TOKEN, CONCURRENCY);
          request = () => {
            n++;
            return create(randomUUID());
          };
        } else {
          const send = partnerPatcher(base, BENCH_TOKEN, CONCURRENCY);
          request = () => send(ids[(n++ * 7919) % ids.length]!, `ab ${n}`);
        }
        await closedLoop(SECONDS, CONCURRENCY, request);
        const backends = await backendPids(sql, db.name, 'relevo-api');
        const api0 = cpuTicks(api.child.pid!);
        const pg0 = backends.map(cpuTicks);
        const n0 = n;
        const rate = await closedLoop(SECONDS, CONCURRENCY, request);
        const done = n - n0;
        const apiMs = ((cpuTicks(api.child.pid!) - api0) * 10) / done;
        const pgMs = (backends.reduce((sum, pid, i) => sum + cpuTicks(pid) - pg0[i]!, 0) * 10) / done;
        const line = `${Math.round(rate)} ${what}/s, API ${apiMs.toFixed(2)} ms, its backends ${pgMs.toFixed(2)} ms CPU per ${what}`;
        log(`round ${r + 1} ${checkout}: ${line}`);
        results.set(checkout, [...(results.get(checkout) ?? []), line]);
      } finally {
        await api.stop();
        await sleep(500);
      }
    }
  }
  console.log(JSON.stringify(Object.fromEntries(results), null, 1));
} finally {
  await sql.end({ timeout: 5 });
  await db.drop();
}
