// Shared pieces of the benchmark parts: statistics, the set-based backlog loader, relay/api
// child processes and their peak RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';
import { TOPIC_SCHEMAS } from '@relevo/events';
import { adminUrl, serviceUrl } from '../scripts/pulsar.ts';

export const cli = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));
export const PROFILE_DIR = fileURLToPath(new URL('./results/profiles/', import.meta.url));

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Nearest-rank percentile of an already sorted array. */
export const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const ratio = (a: number, b: number, digits = 2) => +(a / b).toFixed(digits);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Partner id number `i` as a uuid, the same on the SQL side: '00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'). */
export const partnerUuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

/**
 * Loads `rows` unsent PartnerActualizado rows over `partners` partners in one statement.
 * Payloads are valid integration events (the relay encodes them), `nombre` padded so the
 * row's payload is about 1 KiB. Shard keys use hashtext (any even spread will do).
 */
export async function loadBacklog(sql: postgres.Sql, rows: number, partners = 10_000, nombreLen = 800): Promise<void> {
  await sql.unsafe(`
    with src as (
      select g, gen_random_uuid() as eid,
             ('00000000-0000-4000-8000-' || lpad(to_hex(g % $4::int), 12, '0'))::uuid as pid
        from generate_series(0, $1::int - 1) g)
    insert into outbox (event_id, aggregate_type, aggregate_id, shard_key, aggregate_version, event_type, topic,
                        payload, schema_version, schema_fingerprint, occurred_at)
    select eid, 'partner', pid, hashtext(pid::text) & 2147483647, g / $4::int + 1, 'PartnerActualizado', 'eventos-partners',
           jsonb_build_object('id', eid, 'time', (extract(epoch from now()) * 1000)::bigint, 'specversion', 'v1',
             'type', 'PartnerActualizado', 'datacontenttype', 'AVRO', 'service_name', 'gestion-de-integraciones',
             'data', jsonb_build_object('partner_id', pid, 'version', g / $4::int + 1, 'nombre', repeat('n', $3::int),
               'email', 'bench@example.test', 'estado', 'ACTIVO', 'estado_kyc', 'PENDIENTE',
               'campos_actualizados', jsonb_build_array('nombre'))),
           'v1', $2, now()
      from src order by g`, [rows, TOPIC_SCHEMAS['eventos-partners'].fingerprint, nombreLen, partners]);
  await sql.unsafe('vacuum analyze outbox');
  // The load's dirty pages written out now, not by a checkpoint that lands at a different
  // moment of each measured drain (same-code drains of a million varied 9,376–15,208 events/s).
  await sql.unsafe('checkpoint');
}

/** Creates `count` live partners with ids partnerUuid(0..count-1), version 1. */
export async function loadPartners(sql: postgres.Sql, count: number): Promise<string[]> {
  await sql.unsafe(`
    insert into partners (id, nombre, email, estado, estado_kyc, version, created_at, updated_at)
    select ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'Partner ' || g, 'p' || g || '@example.test',
           'ACTIVO', 'PENDIENTE', 1, now(), now()
      from generate_series(0, $1::int - 1) g`, [count]);
  await sql.unsafe('vacuum analyze partners');
  return Array.from({ length: count }, (_, i) => partnerUuid(i));
}

export interface Child {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Peak resident set (VmHWM) so far, MiB; 0 once the process is gone. */
  peakRssMib(): number;
  stop(): Promise<void>;
}

function procStatus(pid: number, field: string): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The memory settings the Dockerfile and compose file run relevo with; the bench measures relevo as shipped. */
/** The bearer token the benchmarks call the API with, and the variables that configure it. */
export const BENCH_TOKEN = 'bench-token-0123456789abcdef0123456789';
export const BENCH_API_ENV = { API_TOKENS: `bench:read+write:${BENCH_TOKEN}`, API_PRINCIPAL_SECRET: 'bench-principal-secret-0123456789abcdef' };

export const SHIPPED_ENV = { NODE_OPTIONS: '--max-semi-space-size=8', MALLOC_ARENA_MAX: '2' };
/** The relay's, in the compose file: also a capped old generation. */
export const SHIPPED_RELAY_ENV = { ...SHIPPED_ENV, NODE_OPTIONS: '--max-semi-space-size=8 --max-old-space-size=128' };

/** `relevo <command>` as a child process on this Node, with the broker's URLs and quiet logs. */
export function spawnRelevo(command: 'relay' | 'api', env: Record<string, string>, nodeArgs: string[] = [], cliPath = cli): Child {
  let output = '';
  const child = spawn(process.execPath, [...nodeArgs, cliPath, command], {
    env: { ...process.env, BROKER_URL: serviceUrl, PULSAR_ADMIN_URL: adminUrl, METRICS_PORT: '0', LOG_LEVEL: 'warn',
      ...(command === 'relay' ? SHIPPED_RELAY_ENV : SHIPPED_ENV), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer) => {
    output += d.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let peak = 0;
  return {
    child,
    output: () => output,
    exited,
    peakRssMib() {
      peak = Math.max(peak, procStatus(child.pid!, 'VmHWM'));
      return peak;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** utime + stime of a process, in clock ticks (1/100 s). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The pids of a database's Postgres backends that a client opened under `applicationName`, for cpuTicks. */
export async function backendPids(sql: postgres.Sql, database: string, applicationName: string): Promise<number[]> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = ${database} and application_name = ${applicationName}`;
  return rows.map((r) => r.pid);
}

/** Runs `one` with `concurrency` calls in flight for `seconds`; returns the calls completed per second. */
export async function closedLoop(seconds: number, concurrency: number, one: (n: number) => Promise<unknown>): Promise<number> {
  let n = 0;
  let done = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await one(n++);
      done++;
    }
  }));
  return done / ((performance.now() - start) / 1000);
}

/** Polls until `fn` is true (or throws after timeoutMs). */
export async function waitFor(fn: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * JSON requests over node:http with kept-alive sockets; resolves to the status. The load
 * generator shares the machine with what it measures: it costs 0.27–0.40 ms of CPU per
 * request, fetch 0.74–1.03 ms (`relevo api` served 350–437 PATCH/s to it vs 286–336 to
 * fetch, side by side).
 */
function jsonSender(base: string, token: string, maxSockets: number) {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return (method: string, path: string, payload: unknown, headers: Record<string, string> = {}) => new Promise<number>((resolve, reject) => {
    const body = JSON.stringify(payload);
    const req = http.request({
      agent, host: url.hostname, port: url.port, path, method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
    }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode!));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** PATCH /v1/partners/{id} with a new nombre. */
export function partnerPatcher(base: string, token: string, maxSockets: number): (id: string, nombre: string) => Promise<number> {
  const send = jsonSender(base, token, maxSockets);
  return (id, nombre) => send('PATCH', `/v1/partners/${id}`, { nombre });
}

/** POST /v1/partners of a new partner whose email and Idempotency-Key derive from `key`. */
export function partnerCreator(base: string, token: string, maxSockets: number): (key: string) => Promise<number> {
  const send = jsonSender(base, token, maxSockets);
  return (key) => send('POST', '/v1/partners', { nombre: `Partner ${key}`, email: `${key}@example.test` }, { 'idempotency-key': key });
}

/**
 * Deletes a bench namespace with its topics. A drain of the million leaves ~1 GiB of ledgers
 * on the broker; kept, a day of runs filled the disk and Postgres stopped mid-load.
 */
export async function dropNamespace(namespace: string): Promise<void> {
  const res = await fetch(`${adminUrl}/admin/v2/namespaces/${namespace}/topics`);
  const topics = res.ok ? ((await res.json()) as string[]) : [];
  for (const topic of topics) await deleteTopic(topic);
  await fetch(`${adminUrl}/admin/v2/namespaces/${namespace}`, { method: 'DELETE' });
}

export async function deleteTopic(topic: string): Promise<void> {
  await fetch(`${adminUrl}/admin/v2/${topic.replace('://', '/')}?force=true`, { method: 'DELETE' });
}
