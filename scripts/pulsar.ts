// Starts and stops relevo's development broker: Apache Pulsar standalone, resolved from
// Maven Central as the official server distribution, bound to loopback, dedup on.
// Used by `pnpm pulsar:start|stop`, .ci/run, the fault tests and the benchmarks.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PULSAR_VERSION = '4.0.8';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const home = join(root, '.pulsar');
const distDir = join(home, `apache-pulsar-${PULSAR_VERSION}`);
const logFile = join(home, 'broker.log');
export const adminUrl = 'http://127.0.0.1:8080';
export const serviceUrl = 'pulsar://127.0.0.1:6650';

export class BrokerError extends Error {
  readonly code = 'BROKER_START_FAILED';
}

function tarball(): string {
  const m2 = process.env.MAVEN_REPO ?? join(homedir(), '.m2', 'repository');
  return join(m2, 'org/apache/pulsar/pulsar-server-distribution', PULSAR_VERSION,
    `pulsar-server-distribution-${PULSAR_VERSION}-bin.tar.gz`);
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new BrokerError(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

export function pulsarHome(): string {
  if (existsSync(join(distDir, 'bin', 'pulsar'))) return distDir;
  mkdirSync(home, { recursive: true });
  if (!existsSync(tarball())) {
    console.log(`pulsar: resolving org.apache.pulsar:pulsar-server-distribution:${PULSAR_VERSION} from Maven Central`);
    run('mvn', ['-q', '-B', 'dependency:get', '-Dtransitive=false',
      `-Dartifact=org.apache.pulsar:pulsar-server-distribution:${PULSAR_VERSION}:tar.gz:bin`]);
  }
  run('tar', ['xzf', tarball(), '-C', home]);
  return distDir;
}

async function healthy(): Promise<boolean> {
  try {
    const res = await fetch(`${adminUrl}/admin/v2/brokers/health`, { signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Brokers started from this checkout, found by their command line (it names our config):
 * a pid file alone goes stale when two starts race.
 */
function brokerPids(): number[] {
  const conf = join(home, 'standalone.conf');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('PulsarStandaloneStarter') && cmd.includes(conf)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

function logTail(lines = 40): string {
  if (!existsSync(logFile)) return '(no broker log)';
  return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
}

/** Starts the broker unless one answers already; resolves when the admin health check passes. */
export async function startBroker(opts: { timeoutMs?: number; quiet?: boolean } = {}): Promise<void> {
  const say = opts.quiet ? () => {} : (m: string) => console.log(m);
  if (await healthy()) {
    say('pulsar: already running at ' + serviceUrl);
    return;
  }
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 180_000);
  if (brokerPids().length > 0) {
    // Another start is under way (a parallel test run): wait for it rather than race it.
    while (Date.now() < deadline && brokerPids().length > 0) {
      if (await healthy()) {
        say('pulsar: already running at ' + serviceUrl);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const dist = pulsarHome();
  const conf = join(home, 'standalone.conf');
  writeFileSync(conf, readFileSync(join(dist, 'conf', 'standalone.conf'), 'utf8') + '\n'
    + readFileSync(join(root, 'pulsar', 'standalone.conf'), 'utf8'));
  const out = openSync(logFile, 'a');
  const child = spawn(join(dist, 'bin', 'pulsar'), ['standalone', '-nfw', '-nss', '-c', conf], {
    cwd: home,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      PULSAR_LOG_CONF: join(root, 'pulsar', 'log4j2.yaml'),
      PULSAR_LOG_DIR: home,
      PULSAR_MEM: process.env.PULSAR_MEM ?? '-Xms512m -Xmx1536m -XX:MaxDirectMemorySize=1g',
      PULSAR_GC_LOG: ' ',
    },
  });
  child.unref();
  while (Date.now() < deadline) {
    if (!alive(child.pid!)) throw new BrokerError(`pulsar exited during start-up; log tail:\n${logTail()}`);
    if (await healthy()) {
      say(`pulsar: ${PULSAR_VERSION} up at ${serviceUrl} in ${((Date.now() - started) / 1000).toFixed(1)} s (log: ${logFile})`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new BrokerError(`pulsar did not become healthy in ${(opts.timeoutMs ?? 180_000) / 1000} s; log tail:\n${logTail()}`);
}

/**
 * Stops the brokers of this checkout (SIGTERM, then SIGKILL after the grace period).
 * Resolves whether one was running.
 */
export async function stopBroker(opts: { graceMs?: number; quiet?: boolean } = {}): Promise<boolean> {
  const say = opts.quiet ? () => {} : (m: string) => console.log(m);
  const pids = brokerPids();
  if (pids.length === 0) {
    say('pulsar: not running');
    return false;
  }
  const signal = (sig: NodeJS.Signals) => pids.filter(alive).forEach((pid) => process.kill(pid, sig));
  signal('SIGTERM');
  const deadline = Date.now() + (opts.graceMs ?? 30_000);
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  signal('SIGKILL');
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 100));
  say('pulsar: stopped');
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2];
  try {
    if (cmd === 'start') await startBroker();
    else if (cmd === 'stop') await stopBroker();
    else if (cmd === 'home') console.log(pulsarHome());
    else {
      console.error('usage: node scripts/pulsar.ts start|stop|home');
      process.exit(2);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
