// The two ceilings the relay sits under, for the same rows and message size as e2e:
//  (a) Postgres: the relay's own claimBatch/markSent plans in a loop, without publishing:
//      one shard over the whole key space, and N shards in parallel (one connection each,
//      marks overlapping the next claim on a shared pool, prepared statements: exactly as
//      drain.ts does).
//  (b) the broker: `pulsar-perf produce` (Java client) with messages of the encoded size,
//      one producer per shard, the relay's batching (1,000 msgs / 1 ms) and window.
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import { claimBatch, connectSql, ensureShards, markSent, requestLayout, runQuery, shardRange, type ClaimedRow } from '@relevo/db';
import { toOutgoingMessage } from '@relevo/relay';
import { adminUrl, startBroker } from '../scripts/pulsar.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { javaRun } from './producer.ts';
import { deleteTopic, dropNamespace, loadBacklog, log, median } from './support.ts';

export interface LimitsResult {
  rows: number;
  batch_size: number;
  shards: number;
  /** Postgres claim+mark, rows/s per round. */
  pg_one_shard_rows_per_s: number[];
  pg_n_shards_rows_per_s: number[];
  pg_claim_mark_rows_per_s: number;
  /** Mean claim / mark statement latency in the N-shard rounds, ms. */
  pg_claim_ms: number;
  pg_mark_ms: number;
  message_bytes: number;
  broker_msgs_per_s: number[];
  broker_ingest_msgs_per_s: number;
  lower_limit: 'postgres' | 'broker';
  lower_limit_events_per_s: number;
}

interface Round { rows: number; seconds: number; claimMs: number[]; markMs: number[] }

/** Claims and marks until `maxRows` rows or `seconds` have gone by, on `shards` of `of` shards. */
export async function claimMarkRound(url: string, pool: postgres.Sql, shards: number[], of: number, batch: number, maxRows: number, seconds: number): Promise<Round> {
  const conns = shards.map(() => connectSql(url, { max: 1, applicationName: 'relevo-bench-limits' }));
  const claimMs: number[] = [];
  const markMs: number[] = [];
  let done = 0;
  try {
    const pids = await Promise.all(conns.map(async (c) => (await c.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid'))[0]!.pid));
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(shards.map(async (shard, i) => {
      const range = shardRange(shard, of);
      let marking: Promise<unknown> = Promise.resolve();
      while (done < maxRows && performance.now() < end) {
        const t0 = performance.now();
        const rows = await runQuery(conns[i]!, claimBatch({ shard, range, limit: batch, relayId: 'bench-limits', lockPid: pids[i]!, held: [], generation: 1 }));
        claimMs.push(performance.now() - t0);
        if (rows.length === 0) break;
        await marking;
        const t1 = performance.now();
        marking = runQuery(pool, markSent({ rows: rows.map((r) => ({ id: r.id, sequence: r.publish_sequence, messageId: `${r.id}:0:-1:-1` })), claimedBy: 'bench-limits' }))
          .then(() => markMs.push(performance.now() - t1));
        done += rows.length;
      }
      await marking;
    }));
    return { rows: done, seconds: (performance.now() - start) / 1000, claimMs, markMs };
  } finally {
    await Promise.all(conns.map((c) => c.end({ timeout: 5 })));
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function runLimits(opts: { rows: number; shards?: number; batchSize?: number; brokerSeconds: number; rounds?: number }): Promise<LimitsResult> {
  const shards = opts.shards ?? 4;
  const batch = opts.batchSize ?? 500;
  const rounds = opts.rounds ?? 2;
  const db = await createTestDatabase('relevo_bench');
  const pool = connectSql(db.url, { max: shards + 2, applicationName: 'relevo-bench-limits' });
  let messageBytes = 0;
  const one: number[] = [];
  const many: number[] = [];
  const claimMs: number[] = [];
  const markMs: number[] = [];
  try {
    await loadBacklog(pool, opts.rows);
    await runQuery(pool, ensureShards({ shards }));
    await requestLayout(pool, shards, 'bench-limits');
    // The encoded size of the messages the relay sends for these rows (Avro body only).
    const sample = await pool.unsafe<ClaimedRow[]>(`select id, event_id, aggregate_id, aggregate_version, event_type, topic, payload,
      schema_fingerprint, headers, occurred_at, attempts, 1::bigint as publish_sequence from outbox limit 100`);
    messageBytes = Math.round(mean(sample.map((r) => toOutgoingMessage(r).payload.length)));
    // Alternate 1-shard and N-shard rounds over the one backlog, each taking at most a
    // share of it, so both see the same table state.
    const share = Math.floor(opts.rows / (2 * rounds));
    for (let r = 0; r < rounds; r++) {
      const a = await claimMarkRound(db.url, pool, [0], 1, batch, share, 20);
      one.push(a.rows / a.seconds);
      const b = await claimMarkRound(db.url, pool, Array.from({ length: shards }, (_, s) => s), shards, batch, share, 20);
      many.push(b.rows / b.seconds);
      claimMs.push(mean(b.claimMs));
      markMs.push(mean(b.markMs));
      log(`limits pg round ${r + 1}: 1 shard ${Math.round(one.at(-1)!)} rows/s, ${shards} shards ${Math.round(many.at(-1)!)} rows/s`);
    }
  } finally {
    await pool.end({ timeout: 5 });
    await db.drop();
  }

  await startBroker({ quiet: true });
  const ns = `public/bench-limits-${randomBytes(3).toString('hex')}`;
  await fetch(`${adminUrl}/admin/v2/namespaces/${ns}`, { method: 'PUT' });
  const broker: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const topic = `persistent://${ns}/perf-${r}`;
    broker.push(await javaRun(topic, opts.brokerSeconds, messageBytes, { producers: shards, outstanding: 5000 }));
    await deleteTopic(topic);
    log(`limits broker round ${r + 1}: ${Math.round(broker.at(-1)!)} msg/s of ${messageBytes} B`);
  }
  await dropNamespace(ns).catch(() => undefined);

  const pg = Math.max(median(one), median(many));
  const br = median(broker);
  return {
    rows: opts.rows, batch_size: batch, shards,
    pg_one_shard_rows_per_s: one.map(Math.round), pg_n_shards_rows_per_s: many.map(Math.round),
    pg_claim_mark_rows_per_s: Math.round(pg),
    pg_claim_ms: +median(claimMs).toFixed(2), pg_mark_ms: +median(markMs).toFixed(2),
    message_bytes: messageBytes,
    broker_msgs_per_s: broker.map(Math.round), broker_ingest_msgs_per_s: Math.round(br),
    lower_limit: pg <= br ? 'postgres' : 'broker', lower_limit_events_per_s: Math.round(Math.min(pg, br)),
  };
}
