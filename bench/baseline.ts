// The naive relay ("one queue job per event"): every outbox row becomes its own pg-boss job;
// workers fetch jobs in batches and, job by job, read the row, encode it with relevo's
// codec, publish it with relevo's client awaiting the receipt, and mark the row sent.
// Same rows, same broker, same Avro schema as e2e; batching off (each send is awaited
// anyway, a batch window would only add delay). Runs in the bench process.
import { randomBytes } from 'node:crypto';
import { connectSql, createBoss, type ClaimedRow } from '@relevo/db';
import { topicSchema } from '@relevo/events';
import { createClient, formatMessageId, type Producer } from '@relevo/pulsar';
import { toOutgoingMessage } from '@relevo/relay';
import { serviceUrl } from '../scripts/pulsar.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { createTestNamespace } from '../test/support/pulsar.ts';
import { dropNamespace, loadBacklog, log, sleep } from './support.ts';

export interface BaselineResult {
  rows: number;
  workers: number;
  fetch_batch: number;
  enqueue_seconds: number;
  seconds: number;
  events_per_s: number;
}

const QUEUE = 'naive-outbox';
const COLUMNS = `id, event_id, aggregate_id, aggregate_version, event_type, topic, payload, schema_fingerprint, headers,
  occurred_at, attempts, publish_sequence`;

export async function runBaseline(opts: { rows: number; workers?: number; fetchBatch?: number }): Promise<BaselineResult> {
  const workers = opts.workers ?? 4;
  const fetchBatch = opts.fetchBatch ?? 100;
  const db = await createTestDatabase('relevo_bench');
  const sql = connectSql(db.url, { max: workers + 2, applicationName: 'relevo-bench-naive' });
  const boss = createBoss(db.url);
  boss.on('error', () => undefined);
  const client = createClient({ serviceUrl });
  let namespace: string | undefined;
  try {
    namespace = await createTestNamespace();
    await loadBacklog(sql, opts.rows);
    await boss.start();
    await boss.createQueue(QUEUE, { retryLimit: 3 });
    const t0 = performance.now();
    const ids = (await sql.unsafe<{ id: bigint }[]>('select id from outbox order by id')).map((r) => r.id.toString());
    for (let i = 0; i < ids.length; i += 5000) {
      await boss.insert(QUEUE, ids.slice(i, i + 5000).map((id) => ({ data: { id } })));
    }
    const enqueueSeconds = (performance.now() - t0) / 1000;
    const producers: Producer[] = [];
    for (let w = 0; w < workers; w++) {
      producers.push(await client.createProducer({
        topic: `persistent://${namespace}/eventos-partners`, producerName: `naive-${randomBytes(3).toString('hex')}-${w}`,
        schema: { type: 'AVRO', schema: topicSchema('eventos-partners').json, name: 'eventos-partners' }, batching: false,
      }));
    }
    let nextProducer = 0;
    const started = performance.now();
    await boss.work<{ id: string }>(QUEUE, { batchSize: fetchBatch, localConcurrency: workers, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      const producer = producers[nextProducer++ % workers]!;
      for (const job of jobs) {
        const [row] = await sql.unsafe<ClaimedRow[]>(`select ${COLUMNS} from outbox where id = $1 and sent_at is null`, [job.data.id]);
        if (!row) continue;
        const { sequenceId: _ignored, ...message } = toOutgoingMessage(row);
        const receipt = await producer.send(message);
        await sql.unsafe('update outbox set sent_at = now(), broker_message_id = $2 where id = $1', [job.data.id, formatMessageId(receipt.messageId)]);
      }
    });
    let tick = 0;
    for (;;) {
      const left = await sql`select 1 from outbox where sent_at is null limit 1`;
      if (left.length === 0) break;
      if (++tick % 25 === 0) {
        const [n] = await sql<{ n: number }[]>`select count(*)::int as n from outbox where sent_at is null`;
        log(`baseline: ${n!.n} of ${opts.rows} unsent after ${((performance.now() - started) / 1000).toFixed(0)} s`);
      }
      await sleep(200);
    }
    const seconds = (performance.now() - started) / 1000;
    await boss.offWork(QUEUE, { wait: true }).catch(() => undefined);
    await Promise.all(producers.map((p) => p.close()));
    return {
      rows: opts.rows, workers, fetch_batch: fetchBatch, enqueue_seconds: +enqueueSeconds.toFixed(1),
      seconds: +seconds.toFixed(2), events_per_s: Math.round(opts.rows / seconds),
    };
  } finally {
    await boss.stop({ graceful: false }).catch(() => undefined);
    await client.close().catch(() => undefined);
    await sql.end({ timeout: 5 });
    await db.drop();
    if (namespace) await dropNamespace(namespace);
  }
}
