// The two ceilings the relay sits under, for the same rows and message size as e2e:
//  (a) Postgres: the relay's own statements in a loop, without publishing: one shard over
//      the whole key space, and N shards in parallel (one connection each, prepared
//      statements). The claim design: claimBatch, then markSent on a shared pool overlapping
//      the next claim, as drain.ts does. The write-once design: readWindow, each read
//      carrying the receipts of the batch before, as snapshot-drain.ts does.
//  (b) the broker: `pulsar-perf produce` (Java client) with messages of the encoded size,
//      one producer per shard, the relay's batching (1,000 msgs / 1 ms) and window.
import { randomBytes } from 'node:crypto';
import type postgres from 'postgres';
import {
  claimBatch, connectSql, ensureCursors, ensureShards, keyOf, markSent, readWindow, requestLayout, runQuery, shardRange, type ClaimedRow, type WindowKey,
} from '@relevo/db';
import { toOutgoingMessage } from '@relevo/relay';
import { adminUrl, startBroker } from '../scripts/pulsar.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { javaRun } from './producer.ts';
import { deleteTopic, designSchema, dropNamespace, loadBacklog, log, median, type OutboxDesign } from './support.ts';

export interface LimitsResult {
  design: OutboxDesign;
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
        marking = runQuery(pool, markSent({ rows: rows.map((r) => ({ id: r.id, sequence: r.publish_sequence, messageId: `${r.id}:0:-1:-1` })) }))
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

/** The write-once design's loop: reads a window batch until `maxRows` rows or `seconds` have gone by, each read acknowledging the last. */
export async function readAckRound(url: string, shards: number[], of: number, batch: number, maxRows: number, seconds: number): Promise<Round> {
  const conns = shards.map(() => connectSql(url, { max: 1, applicationName: 'relevo-bench-limits' }));
  const claimMs: number[] = [];
  let done = 0;
  try {
    const pids = await Promise.all(conns.map(async (c) => (await c.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid'))[0]!.pid));
    await conns[0]!.unsafe('delete from relay_cursors');
    await runQuery(conns[0]!, ensureCursors({ shards: of }));
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(shards.map(async (shard, i) => {
      const range = shardRange(shard, of);
      let ack: { key: WindowKey; next: bigint } | undefined;
      while (done < maxRows && performance.now() < end) {
        const t0 = performance.now();
        const rows = await runQuery(conns[i]!, readWindow({
          shard, range, limit: batch, lockPid: pids[i]!, generation: 1, ...(ack ? { ack: ack.key, ackSequence: ack.next } : {}),
        }));
        claimMs.push(performance.now() - t0);
        const last = rows.at(-1);
        if (!last) break;
        ack = { key: keyOf(last), next: last.publish_sequence + 1n };
        done += rows.length;
      }
    }));
    return { rows: done, seconds: (performance.now() - start) / 1000, claimMs, markMs: [] };
  } finally {
    await Promise.all(conns.map((c) => c.end({ timeout: 5 })));
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function runLimits(opts: {
  rows: number; shards?: number; batchSize?: number; brokerSeconds: number; rounds?: number; design?: OutboxDesign; broker?: boolean;
}): Promise<LimitsResult> {
  const design = opts.design ?? 'claim';
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
    for (const stmt of designSchema(design)) await pool.unsafe(stmt);
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
      const round = (on: number[], of: number) => (design === 'claim'
        ? claimMarkRound(db.url, pool, on, of, batch, share, 20)
        : readAckRound(db.url, on, of, batch, share, 20));
      const a = await round([0], 1);
      one.push(a.rows / a.seconds);
      const b = await round(Array.from({ length: shards }, (_, s) => s), shards);
      many.push(b.rows / b.seconds);
      claimMs.push(mean(b.claimMs));
      markMs.push(mean(b.markMs));
      log(`limits pg ${design} round ${r + 1}: 1 shard ${Math.round(one.at(-1)!)} rows/s, ${shards} shards ${Math.round(many.at(-1)!)} rows/s`);
    }
  } finally {
    await pool.end({ timeout: 5 });
    await db.drop();
  }

  // The broker's ceiling does not depend on the outbox design: measured once per bench run.
  const broker = opts.broker === false ? [] : await brokerRounds(rounds, shards, messageBytes, opts.brokerSeconds);

  const pg = Math.max(median(one), median(many));
  const br = broker.length > 0 ? median(broker) : Infinity;
  return {
    design, rows: opts.rows, batch_size: batch, shards,
    pg_one_shard_rows_per_s: one.map(Math.round), pg_n_shards_rows_per_s: many.map(Math.round),
    pg_claim_mark_rows_per_s: Math.round(pg),
    pg_claim_ms: +median(claimMs).toFixed(2), pg_mark_ms: +median(markMs).toFixed(2),
    message_bytes: messageBytes,
    broker_msgs_per_s: broker.map(Math.round), broker_ingest_msgs_per_s: Math.round(br),
    lower_limit: pg <= br ? 'postgres' : 'broker', lower_limit_events_per_s: Math.round(Math.min(pg, br)),
  };
}

/** `pulsar-perf produce` rounds with messages of the encoded size, one producer per shard; msg/s per round. */
async function brokerRounds(rounds: number, shards: number, messageBytes: number, seconds: number): Promise<number[]> {
  await startBroker({ quiet: true });
  const ns = `public/bench-limits-${randomBytes(3).toString('hex')}`;
  await fetch(`${adminUrl}/admin/v2/namespaces/${ns}`, { method: 'PUT' });
  const broker: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const topic = `persistent://${ns}/perf-${r}`;
    broker.push(await javaRun(topic, seconds, messageBytes, { producers: shards, outstanding: 5000 }));
    await deleteTopic(topic);
    log(`limits broker round ${r + 1}: ${Math.round(broker.at(-1)!)} msg/s of ${messageBytes} B`);
  }
  await dropNamespace(ns).catch(() => undefined);
  return broker;
}
