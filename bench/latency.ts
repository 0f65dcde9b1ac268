// Commit → broker latency under steady load through the real API: `relevo api` and
// `relevo relay` as child processes on a fresh database and namespace; the bench offers
// PATCH /v1/partners/{id} open-loop at fixed rates (bounded in-flight requests; a request
// that would exceed the bound is counted as shed, not queued) over pre-created partners.
//
// Two per-event measures, both on this machine's one clock:
//   receipt_ms  = outbox.sent_at − occurred_at: from the write's clock reading (taken inside
//                 the transaction, just before commit) to the relay's mark-sent statement,
//                 which runs right after the broker's receipt: an upper bound of commit → receipt.
//   publish_ms  = message publishTime (stamped by the relay's client when it sends the
//                 batch) − the envelope's `time`, read by a Pulsar consumer: a lower bound.
import { decodeEvent } from '@relevo/events';
import { createClient } from '@relevo/pulsar';
import { connectSql } from '@relevo/db';
import { serviceUrl } from '../scripts/pulsar.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { createTestNamespace } from '../test/support/pulsar.ts';
import { BENCH_API_ENV, BENCH_TOKEN, type Child, closedLoop, dropNamespace, freePort, loadPartners, log, partnerPatcher, pct, round1, sleep, spawnRelevo, waitFor } from './support.ts';

export interface Percentiles { n: number; p50: number; p95: number; p99: number; max: number }

export interface LatencyStep {
  offered_per_s: number;
  seconds: number;
  achieved_per_s: number;
  shed: number;
  errors: number;
  http_ms: Percentiles;
  receipt_ms: Percentiles;
  publish_ms: Percentiles;
}

export interface LatencyResult {
  partners: number;
  max_in_flight: number;
  steps: LatencyStep[];
  relay_peak_rss_mib: number;
  api_peak_rss_mib: number;
}


function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: round1(pct(s, 50)), p95: round1(pct(s, 95)), p99: round1(pct(s, 99)), max: round1(s.at(-1) ?? NaN) };
}

export async function runLatency(opts: { rates: number[]; seconds: number; warmupSeconds?: number; partners?: number; maxInFlight?: number }): Promise<LatencyResult> {
  const partners = opts.partners ?? 10_000;
  const maxInFlight = opts.maxInFlight ?? 256;
  const db = await createTestDatabase('relevo_bench');
  const sql = connectSql(db.url, { max: 2, applicationName: 'relevo-bench-latency' });
  const children: Child[] = [];
  const client = createClient({ serviceUrl });
  let consuming = true;
  let namespace: string | undefined;
  try {
    namespace = await createTestNamespace();
    const ids = await loadPartners(sql, partners);
    const port = await freePort();
    const api = spawnRelevo('api', { DATABASE_URL: db.url, PORT: String(port), ...BENCH_API_ENV, RELAY_SHARDS: '4' });
    const relay = spawnRelevo('relay', {
      DATABASE_URL: db.url, PULSAR_NAMESPACE: namespace, RELAY_SHARDS: '4', RELAY_BATCH_SIZE: '500', RELAY_RUN_BUDGET_MS: '10000',
      RELAY_PRODUCER_IDLE_MS: '30000',
    });
    children.push(api, relay);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.ok === true, 30_000, 'api ready');

    // publishTime − time per event id, from a consumer reading the topic from the start.
    const publishLag = new Map<string, number>();
    const consumer = await client.subscribe({
      topic: `persistent://${namespace}/eventos-partners`, subscription: 'bench-latency', type: 'Exclusive',
      initialPosition: 'earliest', receiverQueueSize: 1000,
    });
    const consumed = (async () => {
      while (consuming) {
        const m = await consumer.receive(500).catch(() => null);
        if (!m) continue;
        const e = decodeEvent('eventos-partners', m.payload);
        publishLag.set(e.id, m.publishTime - Number(e.time));
        consumer.ack(m).catch(() => undefined);
      }
    })();

    let counter = 0;
    const send = partnerPatcher(base, BENCH_TOKEN, maxInFlight);
    const patch = async (): Promise<{ ok: boolean; ms: number }> => {
      const n = counter++;
      const id = ids[n % ids.length]!;
      const t0 = performance.now();
      try {
        const status = await send(id, `Partner ${n % ids.length} v${n}`);
        return { ok: status === 200, ms: performance.now() - t0 };
      } catch {
        return { ok: false, ms: performance.now() - t0 };
      }
    };

    const allUnsent = async () => (await sql`select 1 from outbox where sent_at is null limit 1`).length === 0;
    // Warm-up: producers created, wake path exercised, JIT warm. A closed loop of 16 for
    // seconds, not a few hundred sequential requests: a fresh `relevo api` takes seconds of
    // load to reach its speed (write_overhead's HTTP rounds of 2 s: 413, 602, 785, 878 PATCH/s).
    await closedLoop(opts.warmupSeconds ?? 10, 16, patch);
    await waitFor(allUnsent, 60_000, 'warm-up drained');
    // The warm-up's rows are the outbox's first: statistics as autovacuum would have them
    // within a minute of service. Without them, plans cached while the table was empty
    // (the relay's mark-sent: a sequential scan of the whole outbox per batch) run on.
    await sql`analyze outbox`;

    const steps: LatencyStep[] = [];
    for (const rate of opts.rates) {
      const http: number[] = [];
      let inFlight = 0;
      let issued = 0;
      let shed = 0;
      let errors = 0;
      let okCount = 0;
      const dbStart = (await sql<{ t: Date }[]>`select clock_timestamp() as t`)[0]!.t;
      const start = performance.now();
      const end = start + opts.seconds * 1000;
      const pending = new Set<Promise<void>>();
      while (performance.now() < end) {
        const due = Math.floor(((performance.now() - start) / 1000) * rate);
        while (issued < due) {
          issued++;
          if (inFlight >= maxInFlight) {
            shed++;
            continue;
          }
          inFlight++;
          const p = patch().then((r) => {
            inFlight--;
            if (r.ok) {
              okCount++;
              http.push(r.ms);
            } else errors++;
          });
          pending.add(p);
          void p.finally(() => pending.delete(p));
        }
        await sleep(2);
      }
      await Promise.all(pending);
      const secs = (performance.now() - start) / 1000;
      await waitFor(allUnsent, 60_000, `rate ${rate} drained`, 50);
      await sleep(300);
      const rows = await sql<{ event_id: string; ms: number }[]>`
        select event_id::text, extract(epoch from (sent_at - occurred_at)) * 1000 as ms from outbox
         where occurred_at >= ${dbStart} and event_type = 'PartnerActualizado'`;
      const receipt = rows.map((r) => Number(r.ms));
      const publish = rows.map((r) => publishLag.get(r.event_id)).filter((x): x is number => x !== undefined);
      const step: LatencyStep = {
        offered_per_s: rate, seconds: round1(secs), achieved_per_s: Math.round(okCount / secs), shed, errors,
        http_ms: percentiles(http), receipt_ms: percentiles(receipt), publish_ms: percentiles(publish),
      };
      steps.push(step);
      log(`latency ${rate}/s: achieved ${step.achieved_per_s}/s, receipt p50/p95/p99 ${step.receipt_ms.p50}/${step.receipt_ms.p95}/${step.receipt_ms.p99} ms, publish p99 ${step.publish_ms.p99} ms, http p99 ${step.http_ms.p99} ms, shed ${shed}`);
      publishLag.clear();
    }
    consuming = false;
    await consumed;
    await consumer.close().catch(() => undefined);
    return {
      partners, max_in_flight: maxInFlight, steps,
      relay_peak_rss_mib: Math.round(relay.peakRssMib()), api_peak_rss_mib: Math.round(api.peakRssMib()),
    };
  } finally {
    consuming = false;
    await Promise.all(children.map((c) => c.stop()));
    await client.close().catch(() => undefined);
    await sql.end({ timeout: 5 });
    await db.drop();
    if (namespace) await dropNamespace(namespace);
  }
}
