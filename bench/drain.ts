// End-to-end drain: a backlog of valid 1 KiB events (10,000 partners) loaded with set-based
// SQL, then `relevo relay` as a child process publishes it to a fresh namespace. Reports
// events/s from relay start to an empty outbox and the relay's peak RSS.
import { readFileSync } from 'node:fs';
import { connectDatabase } from '@relevo/db';
import { TOPIC_SCHEMAS } from '@relevo/events';
import { createTestDatabase } from '../test/support/database.ts';
import { createTestNamespace } from '../test/support/pulsar.ts';
import { spawnRelay } from '../test/support/relay-process.ts';

export interface DrainResult {
  rows: number;
  shards: number;
  batch_size: number;
  node_options: string;
  seconds: number;
  events_per_s: number;
  peak_rss_mib: number;
}

function rssKib(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export async function runDrain(opts: { rows: number; shards?: number; batchSize?: number; nodeOptions?: string }): Promise<DrainResult> {
  const shards = opts.shards ?? 4;
  const batchSize = opts.batchSize ?? 500;
  const db = await createTestDatabase('relevo_bench');
  const database = connectDatabase(db.url, { max: 2 });
  try {
    const namespace = await createTestNamespace();
    await database.sql.unsafe(`
      with src as (
        select g, gen_random_uuid() as eid,
               ('00000000-0000-4000-8000-' || lpad(to_hex(g % 10000), 12, '0'))::uuid as pid
          from generate_series(0, $1::int - 1) g)
      insert into outbox (event_id, aggregate_type, aggregate_id, shard_key, aggregate_version, event_type, topic,
                          payload, schema_version, schema_fingerprint, occurred_at)
      select eid, 'partner', pid, hashtext(pid::text) & 2147483647, g / 10000 + 1, 'PartnerActualizado', 'eventos-partners',
             jsonb_build_object('id', eid, 'time', (extract(epoch from now()) * 1000)::bigint, 'specversion', 'v1',
               'type', 'PartnerActualizado', 'datacontenttype', 'AVRO', 'service_name', 'gestion-de-integraciones',
               'data', jsonb_build_object('partner_id', pid, 'version', g / 10000 + 1, 'nombre', repeat('n', 800),
                 'email', 'bench@example.test', 'estado', 'ACTIVO', 'estado_kyc', 'PENDIENTE',
                 'campos_actualizados', jsonb_build_array('nombre'))),
             'v1', $2, now()
        from src order by g`, [opts.rows, TOPIC_SCHEMAS['eventos-partners'].fingerprint]);
    await database.sql`vacuum analyze outbox`;
    const relay = spawnRelay({
      DATABASE_URL: db.url, PULSAR_NAMESPACE: namespace, RELAY_SHARDS: String(shards), RELAY_BATCH_SIZE: String(batchSize),
      RELAY_RUN_BUDGET_MS: '10000', NODE_OPTIONS: opts.nodeOptions ?? '',
    });
    const started = Date.now();
    let peak = 0;
    for (;;) {
      peak = Math.max(peak, rssKib(relay.child.pid!));
      const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from outbox where sent_at is null`;
      if (row!.n === 0) break;
      if (relay.child.exitCode !== null) throw new Error(`relay exited: ${relay.output().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = (Date.now() - started) / 1000;
    relay.child.kill('SIGTERM');
    await relay.exited;
    return {
      rows: opts.rows, shards, batch_size: batchSize, node_options: opts.nodeOptions ?? '',
      seconds: +seconds.toFixed(1), events_per_s: Math.round(opts.rows / seconds), peak_rss_mib: Math.round(peak / 1024),
    };
  } finally {
    await database.close();
    await db.drop();
  }
}
