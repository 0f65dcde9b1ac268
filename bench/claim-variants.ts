// Prototype for the lead (not part of `pnpm bench`): the Postgres claim+mark ceiling of the
// relay's own plans under schema variants, side by side on fresh databases with the same
// backlog. `node bench/claim-variants.ts [rows] [rounds]`.
import { connectSql, ensureShards, runQuery } from '@relevo/db';
import { createTestDatabase } from '../test/support/database.ts';
import { claimMarkRound } from './limits.ts';
import { loadBacklog, log, median } from './support.ts';

const VARIANTS: Record<string, string[]> = {
  // As migrated: half of each page free (0002), so the claim's UPDATE (publish_sequence,
  // claimed_by…: no indexed column) is HOT: no new entries in the indexes, no new page.
  current: [],
  // Full pages, as before migration 0002: each claim writes its row version on another page.
  full_pages: ['alter table outbox reset (fillfactor)'],
  // The claim filters other shards' rows in the index, not on the heap.
  unsent_idx_with_shard_key: [
    'drop index outbox_unsent_idx',
    'create index outbox_unsent_idx on outbox (id, shard_key) where sent_at is null and skipped_at is null',
  ],
  // The ~1 KiB payload out of line (TOAST, uncompressed): claim and mark then rewrite a
  // ~200-byte tuple that points at the unchanged payload instead of copying the payload.
  payload_external: [
    'alter table outbox alter column payload set storage external',
    'alter table outbox set (toast_tuple_target = 128)',
  ],
};

const rows = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 2);
const out: Record<string, { rows_per_s: number[]; median: number; claim_ms: number; mark_ms: number }> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, ddl] of Object.entries(VARIANTS)) {
    const db = await createTestDatabase('relevo_bench');
    const pool = connectSql(db.url, { max: 6 });
    try {
      for (const s of ddl) await pool.unsafe(s);
      await loadBacklog(pool, rows);
      await runQuery(pool, ensureShards({ shards: 4 }));
      const res = await claimMarkRound(db.url, pool, [0, 1, 2, 3], 4, 500, rows, 30);
      const rate = res.rows / res.seconds;
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const o = (out[name] ??= { rows_per_s: [], median: 0, claim_ms: 0, mark_ms: 0 });
      o.rows_per_s.push(Math.round(rate));
      o.median = Math.round(median(o.rows_per_s));
      o.claim_ms = +mean(res.claimMs).toFixed(1);
      o.mark_ms = +mean(res.markMs).toFixed(1);
      log(`${name}: ${Math.round(rate)} rows/s, claim ${o.claim_ms} ms, mark ${o.mark_ms} ms`);
    } finally {
      await pool.end();
      await db.drop();
    }
  }
}
console.log(JSON.stringify(out, null, 2));
