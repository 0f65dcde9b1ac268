// The 'cluster' profile of scripts/pulsar.ts: a real Pulsar cluster on loopback, from the same
// distribution as the dev broker. ZooKeeper is the metadata store, one bookie stores the
// ledgers, two brokers serve the topics; each is its own JVM with its own ports, config (the
// distribution's file, then pulsar/cluster/<file> over it) and log, under .pulsar/cluster/.
// The dev broker (6650/8080) and the secure one are not touched.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { BrokerError, PULSAR_VERSION, alive, logTail, pulsarDir, pulsarHome, repoRoot } from './pulsar-home.ts';

export const CLUSTER_NAME = 'relevo-cluster';
const ZK_PORT = 2191;
const BOOKIE_PORT = 3192;
const clusterHome = join(pulsarDir, 'cluster');
/** Written once the cluster's metadata (cluster, tenants, BookKeeper's ledger root) is in ZooKeeper. */
const initializedMarker = join(clusterHome, 'data', 'initialized');

export interface ClusterBroker {
  name: string;
  serviceUrl: string;
  adminUrl: string;
  servicePort: number;
  webPort: number;
}

export const clusterBrokers: readonly ClusterBroker[] = ([['broker-1', 6652, 8082], ['broker-2', 6653, 8083]] as const)
  .map(([name, servicePort, webPort]) => ({
    name, servicePort, webPort, serviceUrl: `pulsar://127.0.0.1:${servicePort}`, adminUrl: `http://127.0.0.1:${webPort}`,
  }));

/** Both brokers in one service URL, as relevo's (and Pulsar's own) clients take it. */
export const clusterServiceUrl = `pulsar://${clusterBrokers.map((b) => `127.0.0.1:${b.servicePort}`).join(',')}`;
export const clusterAdminUrl = `http://${clusterBrokers.map((b) => `127.0.0.1:${b.webPort}`).join(',')}`;

type Command = 'zookeeper' | 'bookie' | 'broker';

interface Component {
  name: string;
  command: Command;
  /** The bin/pulsar variable that names the component's config file. */
  confVariable: string;
  /** The generated config: the distribution's file, then relevo's overrides. Its path is in the JVM's command line. */
  conf: string;
  distConf: string;
  overrides: string;
  values: Record<string, string>;
  ports: number[];
  mem: string;
  /** PULSAR_GC, when not the distribution's. */
  gc?: string;
  ready(): Promise<boolean>;
}

/** A 4lw command's answer, or '' when ZooKeeper does not answer. */
function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(word));
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (d: Buffer) => { answer += d.toString(); });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(''));
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

/** The broker's own health check: it produces and consumes on its heartbeat topic, so the bookie is in it. */
export async function brokerHealthy(broker: ClusterBroker): Promise<boolean> {
  try {
    const res = await fetch(`${broker.adminUrl}/admin/v2/brokers/health`, { signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * For the JVMs that do little work (ZooKeeper, the one-off metadata tool): the client compiler
 * only and the serial collector, so that their start takes less of two shared cores. The bookie
 * and the brokers keep the distribution's JVM settings, as the dev broker does.
 */
const LIGHT_JIT = '-XX:TieredStopAtLevel=1';
const LIGHT_GC = '-XX:+UseSerialGC -XX:+PerfDisableSharedMem';

const components: Component[] = [
  {
    name: 'zookeeper', command: 'zookeeper', confVariable: 'PULSAR_ZK_CONF',
    conf: join(clusterHome, 'zookeeper.conf'), distConf: 'zookeeper.conf', overrides: 'zookeeper.conf', values: {},
    ports: [ZK_PORT], mem: `-Xms64m -Xmx128m ${LIGHT_JIT}`, gc: LIGHT_GC,
    ready: async () => (await fourLetterWord(ZK_PORT, 'srvr')).includes('Mode:'),
  },
  {
    name: 'bookie', command: 'bookie', confVariable: 'PULSAR_BOOKKEEPER_CONF',
    conf: join(clusterHome, 'bookkeeper.conf'), distConf: 'bookkeeper.conf', overrides: 'bookkeeper.conf', values: {},
    ports: [BOOKIE_PORT], mem: '-Xms128m -Xmx256m -XX:MaxDirectMemorySize=256m',
    ready: () => accepts(BOOKIE_PORT),
  },
  ...clusterBrokers.map((b): Component => ({
    name: b.name, command: 'broker', confVariable: 'PULSAR_BROKER_CONF',
    conf: join(clusterHome, `${b.name}.conf`), distConf: 'broker.conf', overrides: 'broker.conf',
    values: { SERVICE_PORT: String(b.servicePort), WEB_PORT: String(b.webPort) },
    ports: [b.servicePort, b.webPort], mem: '-Xms256m -Xmx512m -XX:MaxDirectMemorySize=512m',
    ready: () => brokerHealthy(b),
  })),
];

function component(name: string): Component {
  const c = components.find((x) => x.name === name);
  if (!c) throw new BrokerError(`no cluster component ${name}`);
  return c;
}

/** Processes of a cluster component started from this checkout, found by the config path on their command line. */
export function clusterPids(name: string): number[] {
  const conf = component(name).conf;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(conf)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function logFile(c: Component): string {
  return join(clusterHome, `${c.name}.log`);
}

/**
 * The distribution's config with relevo's values put in place of its own, and keys it lacks
 * appended. In place, not appended after it: the bookie reads its file with Commons
 * Configuration, which keeps a repeated key's first value.
 */
export function mergeConf(base: string, overrides: string): string {
  const wanted = new Map<string, string>();
  for (const line of overrides.split('\n')) {
    const m = /^\s*([\w.-]+)\s*=(.*)$/.exec(line);
    if (m) wanted.set(m[1]!, `${m[1]}=${m[2]!.trim()}`);
  }
  const placed = new Set<string>();
  const lines = base.split('\n').flatMap((line) => {
    const key = /^\s*([\w.-]+)\s*=/.exec(line)?.[1];
    if (key === undefined || !wanted.has(key)) return [line];
    if (placed.has(key)) return [];
    placed.add(key);
    return [wanted.get(key)!];
  });
  const added = [...wanted].filter(([key]) => !placed.has(key)).map(([, line]) => line);
  return [...lines, '', '# relevo (pulsar/cluster/)', ...added, ''].join('\n');
}

function spawnComponent(dist: string, c: Component): number {
  const overrides = readFileSync(join(repoRoot, 'pulsar', 'cluster', c.overrides), 'utf8')
    .replaceAll('@DIR@', clusterHome)
    .replace(/@([A-Z_]+)@/g, (m, key: string) => c.values[key] ?? m);
  writeFileSync(c.conf, mergeConf(readFileSync(join(dist, 'conf', c.distConf), 'utf8'), overrides));
  const out = openSync(logFile(c), 'a');
  const child = spawn(join(dist, 'bin', 'pulsar'), [c.command], {
    cwd: clusterHome,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      [c.confVariable]: c.conf,
      PULSAR_LOG_CONF: join(repoRoot, 'pulsar', 'log4j2.yaml'),
      PULSAR_LOG_DIR: clusterHome,
      PULSAR_MEM: c.mem,
      BOOKIE_MEM: c.mem,
      PULSAR_GC_LOG: ' ',
      BOOKIE_GC_LOG: ' ',
      ...(c.gc ? { PULSAR_GC: c.gc } : {}),
    },
  });
  child.unref();
  return child.pid!;
}

async function waitReady(c: Component, deadline: number, pid?: number): Promise<void> {
  while (Date.now() < deadline) {
    if (await c.ready()) return;
    if (pid !== undefined && !alive(pid)) throw new BrokerError(`cluster ${c.name} exited during start-up; log tail:\n${logTail(logFile(c))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new BrokerError(`cluster ${c.name} did not become ready in time; log tail:\n${logTail(logFile(c))}`);
}

/** Starts the component unless it answers already (or is starting: then waits for it). */
async function ensure(dist: string, c: Component, deadline: number): Promise<'running' | 'started'> {
  if (await c.ready()) return 'running';
  if (clusterPids(c.name).length > 0) {
    await waitReady(c, deadline);
    return 'running';
  }
  for (const port of c.ports) {
    if (!(await portFree(port))) throw new BrokerError(`cluster ${c.name}: port ${port} on 127.0.0.1 is taken by another process`);
  }
  await waitReady(c, deadline, spawnComponent(dist, c));
  return 'started';
}

/** Writes the cluster's metadata (cluster, public/default, BookKeeper's ledger root) into a new ZooKeeper, once. */
function initializeMetadata(dist: string): Promise<void> {
  if (existsSync(initializedMarker)) return Promise.resolve();
  const out = openSync(join(clusterHome, 'initialize.log'), 'a');
  const child = spawn(join(dist, 'bin', 'pulsar'), [
    'initialize-cluster-metadata', '--cluster', CLUSTER_NAME,
    '--metadata-store', `zk:127.0.0.1:${ZK_PORT}`, '--configuration-metadata-store', `zk:127.0.0.1:${ZK_PORT}`,
    '--web-service-url', clusterAdminUrl, '--broker-service-url', clusterServiceUrl,
  ], {
    cwd: clusterHome,
    stdio: ['ignore', out, out],
    env: { ...process.env, PULSAR_LOG_CONF: join(repoRoot, 'pulsar', 'log4j2.yaml'), PULSAR_LOG_DIR: clusterHome, PULSAR_MEM: `-Xmx128m ${LIGHT_JIT}`, PULSAR_GC: LIGHT_GC, PULSAR_GC_LOG: ' ' },
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) {
        writeFileSync(initializedMarker, `${new Date().toISOString()}\n`);
        resolve();
      } else {
        reject(new BrokerError(`initialize-cluster-metadata exited with ${code}; log tail:\n${logTail(join(clusterHome, 'initialize.log'))}`));
      }
    });
  });
}

export interface ClusterStart {
  brokers: { name: string; serviceUrl: string; adminUrl: string }[];
  serviceUrl: string;
  adminUrl: string;
  /** What this call started; empty when the whole cluster was already up. */
  started: string[];
  /** Seconds from the call to each component answering (metadata: written into ZooKeeper). */
  readyAfter: Record<string, number>;
  seconds: number;
}

/**
 * Starts whatever part of the cluster is not running (all of it, or a broker a test killed);
 * resolves when ZooKeeper answers, the bookie listens and each broker's health check passes.
 */
export async function startCluster(opts: { timeoutMs?: number } = {}): Promise<ClusterStart> {
  const t0 = Date.now();
  const deadline = t0 + (opts.timeoutMs ?? 180_000);
  const dist = pulsarHome();
  mkdirSync(join(clusterHome, 'data'), { recursive: true });
  const started: string[] = [];
  const readyAfter: Record<string, number> = {};
  const since = () => Math.round((Date.now() - t0) / 100) / 10;
  const note = (c: Component) => (outcome: 'running' | 'started') => {
    if (outcome === 'started') started.push(c.name);
    readyAfter[c.name] = since();
  };
  const [zk, ...rest] = components;
  await ensure(dist, zk!, deadline).then(note(zk!));
  await initializeMetadata(dist);
  readyAfter.metadata = since();
  // The brokers start beside the bookie: their health checks wait for it.
  await Promise.all(rest.map((c) => ensure(dist, c, deadline).then(note(c))));
  return {
    brokers: clusterBrokers.map(({ name, serviceUrl, adminUrl }) => ({ name, serviceUrl, adminUrl })),
    serviceUrl: clusterServiceUrl,
    adminUrl: clusterAdminUrl,
    started,
    readyAfter,
    seconds: (Date.now() - t0) / 1000,
  };
}

async function stopComponent(c: Component, signal: NodeJS.Signals, graceMs: number): Promise<boolean> {
  const pids = clusterPids(c.name);
  if (pids.length === 0) return false;
  const send = (sig: NodeJS.Signals) => pids.filter(alive).forEach((pid) => process.kill(pid, sig));
  send(signal);
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  send('SIGKILL');
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** SIGKILLs one broker of the cluster (no shutdown: its ZooKeeper session is left to expire). */
export async function killClusterBroker(name: string): Promise<void> {
  if (!(await stopComponent(component(name), 'SIGKILL', 0))) throw new BrokerError(`cluster ${name} is not running`);
}

/** Stops the brokers, then the bookie, then ZooKeeper (SIGTERM, SIGKILL after the grace period). Resolves whether any ran. */
export async function stopCluster(opts: { graceMs?: number } = {}): Promise<boolean> {
  const graceMs = opts.graceMs ?? 30_000;
  const [zk, bookie, ...brokers] = components;
  const any = (await Promise.all(brokers.map((c) => stopComponent(c, 'SIGTERM', graceMs)))).some(Boolean);
  const bk = await stopComponent(bookie!, 'SIGTERM', graceMs);
  const z = await stopComponent(zk!, 'SIGTERM', graceMs);
  return any || bk || z;
}

export function describeCluster(s: ClusterStart): string {
  const lines = s.brokers.map((b) => `  ${b.name}: ${b.serviceUrl}  admin ${b.adminUrl}`);
  const what = s.started.length === 0 ? 'already running'
    : `started ${s.started.join(', ')} (ready after ${Object.entries(s.readyAfter).map(([c, t]) => `${c} ${t} s`).join(', ')})`;
  return [
    `pulsar (cluster): ${PULSAR_VERSION}, cluster ${CLUSTER_NAME}, ${what}; up in ${s.seconds.toFixed(1)} s (logs: ${clusterHome})`,
    `  zookeeper: 127.0.0.1:${ZK_PORT}  bookie: 127.0.0.1:${BOOKIE_PORT}`,
    ...lines,
    `  BROKER_URL=${s.serviceUrl} PULSAR_ADMIN_URL=${s.adminUrl}`,
  ].join('\n');
}
