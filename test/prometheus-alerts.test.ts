// Debian's real Prometheus, on a loopback port of its own with a scratch data directory,
// loads deploy/prometheus/rules.yml as shipped and scrapes a real `relevo relay` (a child
// process on a test database and the shared broker). A row that cannot be encoded is parked
// (RELAY_MAX_ATTEMPTS=1), and RelevoOutboxRowsParked fires, as Prometheus's own
// /api/v1/alerts says; skipping the row resolves it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, createCommitAnnouncer, skipParked, type Database } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createTestNamespace } from './support/pulsar.ts';
import { spawnRelay, type RelayProcess } from './support/relay-process.ts';
import { createPartners } from './support/writes.ts';

const RULES = fileURLToPath(new URL('../deploy/prometheus/rules.yml', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Alert { labels: Record<string, string>; annotations: Record<string, string>; state: string; value: string }

describe('Prometheus with relevo\'s rules, scraping a relay', () => {
  let tdb: TestDatabase;
  let database: Database;
  let relay: RelayProcess;
  let prometheus: ChildProcess;
  let prometheusOutput = '';
  let dataDir: string;
  let api: string;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_prometheus');
    database = connectDatabase(tdb.url);
    const namespace = await createTestNamespace();
    const [relayPort, prometheusPort] = [await freePort(), await freePort()];
    relay = spawnRelay({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, METRICS_PORT: String(relayPort), RELAY_MAX_ATTEMPTS: '1' });

    dataDir = mkdtempSync(join(tmpdir(), 'relevo-prometheus-'));
    // The shipped job name (the rules select up{job="relevo-relay"}), a loopback target, and
    // intervals of a second so the test takes seconds, not minutes.
    writeFileSync(join(dataDir, 'prometheus.yml'), [
      'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
      'rule_files:', `  - ${JSON.stringify(RULES)}`,
      'scrape_configs:', '  - job_name: relevo-relay', '    static_configs:', `      - targets: ["127.0.0.1:${relayPort}"]`, '',
    ].join('\n'));
    api = `http://127.0.0.1:${prometheusPort}/api/v1`;
    prometheus = spawn('prometheus', [
      `--config.file=${join(dataDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dataDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`, '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (d: Buffer) => { prometheusOutput += d.toString(); });
    prometheus.stderr!.on('data', (d: Buffer) => { prometheusOutput += d.toString(); });
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    relay?.child.kill('SIGTERM');
    await relay?.exited;
    await new Promise((resolve) => (prometheus?.exitCode !== null ? resolve(undefined) : prometheus.once('exit', resolve)));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await database?.close();
    await tdb?.drop();
  });

  const get = async <T>(path: string): Promise<T | undefined> => {
    const res = await fetch(`${api}${path}`).catch(() => undefined);
    if (!res?.ok) return undefined;
    return ((await res.json()) as { data: T }).data;
  };
  const alerts = async (name: string) => ((await get<{ alerts: Alert[] }>('/alerts'))?.alerts ?? []).filter((a) => a.labels.alertname === name);
  const context = () => `prometheus:\n${prometheusOutput}\nrelay:\n${relay.output()}`;

  it('fires RelevoOutboxRowsParked once a row is parked, and resolves it when the row is skipped', async () => {
    // Prometheus is up, has loaded the rules and scrapes the relay; nothing is parked yet.
    await expect.poll(async () => (await get<{ groups: { rules: { name: string }[] }[] }>('/rules'))?.groups.flatMap((g) => g.rules.map((r) => r.name)),
      { timeout: 20_000, interval: 250, message: context() }).toContain('RelevoOutboxRowsParked');
    await expect.poll(async () => (await get<{ result: { value: [number, string] }[] }>('/query?query=' + encodeURIComponent('up{job="relevo-relay"}')))?.result[0]?.value[1],
      { timeout: 20_000, interval: 250, message: context() }).toBe('1');
    await expect.poll(async () => (await get<{ result: unknown[] }>('/query?query=relevo_outbox_parked'))?.result.length,
      { timeout: 10_000, interval: 250 }).toBe(4);
    expect(await alerts('RelevoOutboxRowsParked')).toEqual([]);

    // An event whose payload no longer fits its Avro schema: one attempt, then parked.
    const [partner] = await createPartners(database, 1);
    const [bad] = await database.sql<{ id: string }[]>`
      update outbox set payload = jsonb_set(payload, '{data,version}', '"two"') where aggregate_id = ${partner!} returning id::text as id`;
    await createCommitAnnouncer(database.sql)([partner!]);

    await expect.poll(async () => (await alerts('RelevoOutboxRowsParked')).map((a) => ({ state: a.state, value: Number(a.value), severity: a.labels.severity })),
      { timeout: 30_000, interval: 250, message: context() }).toEqual([{ state: 'firing', value: 1, severity: 'warning' }]);
    const [row] = await database.sql`select parked_at, last_error from outbox where id = ${bad!.id}`;
    expect(row).toMatchObject({ parked_at: expect.any(Date), last_error: expect.stringMatching(/EVENT_SCHEMA_MISMATCH/) });
    expect(await alerts('RelevoRelayDown')).toEqual([]);

    expect(await skipParked(database.sql, bad!.id, 'prometheus alert test', 'cli:prometheus-alert-test')).toBe(1);
    await expect.poll(async () => (await alerts('RelevoOutboxRowsParked')).length, { timeout: 15_000, interval: 250 }).toBe(0);
  }, 60_000);
});
