// Starts and stops relevo's development broker: Apache Pulsar standalone, resolved from
// Maven Central as the official server distribution, bound to loopback, dedup on.
// Used by `pnpm pulsar:start|stop`, .ci/run, the fault tests and the benchmarks.
// A second profile, 'secure', runs another standalone broker from the same distribution with
// TLS and JWT token authentication on its own ports and data (see pulsar/secure.conf).
// A third, 'cluster', runs a real multi-broker cluster from the same distribution: ZooKeeper,
// one bookie and two brokers, each its own process on its own ports (see pulsar/cluster/).
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeCluster, startCluster, stopCluster } from './pulsar-cluster.ts';
import { BrokerError, PULSAR_VERSION, alive, logTail, pulsarDir as home, pulsarHome, repoRoot as root } from './pulsar-home.ts';

export { BrokerError, PULSAR_VERSION, mavenRepository, pulsarHome } from './pulsar-home.ts';

const logFile = join(home, 'broker.log');
export const adminUrl = 'http://127.0.0.1:8080';
export const serviceUrl = 'pulsar://127.0.0.1:6650';

async function healthy(): Promise<boolean> {
  try {
    const res = await fetch(`${adminUrl}/admin/v2/brokers/health`, { signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

// ---- the secure profile ----------------------------------------------------------------------

export type BrokerProfile = 'dev' | 'secure';

const secureHome = join(home, 'secure');
export const secureServiceUrl = 'pulsar+ssl://127.0.0.1:6661';
/** The secure broker's plain port: it still requires a token. */
export const securePlainServiceUrl = 'pulsar://127.0.0.1:6660';
export const secureAdminUrl = 'https://127.0.0.1:8453';
export const securePlainAdminUrl = 'http://127.0.0.1:8090';
/** The role of the broker's super user (superUserRoles in pulsar/secure.conf). */
export const SECURE_SUPER_USER = 'admin';

export interface SecureBrokerMaterial {
  dir: string;
  serviceUrl: string;
  plainServiceUrl: string;
  adminUrl: string;
  plainAdminUrl: string;
  /** PEM of the CA that signed the broker's certificate, and its path. */
  ca: string;
  caFile: string;
  /** HS256 tokens signed with the broker's secret key. */
  tokens: {
    /** sub=admin, a super user; no expiry. */
    admin: string;
    /** sub=relevo-client, an ordinary role: authenticates, but needs permissions granted. */
    client: string;
    /** sub=admin, expired an hour ago. */
    expired: string;
    /** sub=admin, signed with another key. */
    forged: string;
  };
}

/** An HS256 JWT: base64url(header).base64url(payload).base64url(HMAC-SHA256 of the two). */
export function signHs256(claims: Record<string, unknown>, key: Buffer): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

function writeAtomically(path: string, data: string | Buffer, mode = 0o600): void {
  writeFileSync(`${path}.tmp`, data, { mode });
  renameSync(`${path}.tmp`, path);
}

function opensslIn(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new BrokerError(`openssl ${args.join(' ')} exited with ${r.status ?? r.signal}: ${r.stderr}`);
}

/**
 * Creates the CA, the server certificate and the secret key in .pulsar/secure/ when they are missing
 * (or the certificate expires within a day); the tokens are derived from the key, so they stay valid
 * as long as the key does. Only called while no secure broker runs: a running one keeps its key.
 */
function ensureSecureMaterial(): void {
  mkdirSync(secureHome, { recursive: true });
  const file = (name: string) => join(secureHome, name);
  const certValid = existsSync(file('server.crt')) && existsSync(file('server.key')) && existsSync(file('ca.crt'))
    && spawnSync('openssl', ['x509', '-checkend', '86400', '-noout', '-in', file('server.crt')], { stdio: 'ignore' }).status === 0;
  if (!certValid) {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    opensslIn(secureHome, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=relevo secure broker CA']);
    opensslIn(secureHome, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    opensslIn(secureHome, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'server.crt', '-days', '365', '-extfile', 'server.ext']);
  }
  // Pulsar reads tokenSecretKey=file://… as the raw HMAC key; HS256 needs at least 256 bits.
  if (!existsSync(file('secret.key'))) writeAtomically(file('secret.key'), randomBytes(32));
  const admin = signHs256({ sub: SECURE_SUPER_USER }, readFileSync(file('secret.key')));
  writeAtomically(file('admin.token'), admin);
}

/** Paths and tokens for the secure broker; the material must exist (startBroker({ profile: 'secure' }) makes it). */
export function secureBrokerMaterial(): SecureBrokerMaterial {
  const caFile = join(secureHome, 'ca.crt');
  const keyFile = join(secureHome, 'secret.key');
  if (!existsSync(caFile) || !existsSync(keyFile)) {
    throw new BrokerError(`no secure broker material in ${secureHome}: start the secure profile first`);
  }
  const key = readFileSync(keyFile);
  const now = Math.floor(Date.now() / 1000);
  return {
    dir: secureHome,
    serviceUrl: secureServiceUrl,
    plainServiceUrl: securePlainServiceUrl,
    adminUrl: secureAdminUrl,
    plainAdminUrl: securePlainAdminUrl,
    ca: readFileSync(caFile, 'utf8'),
    caFile,
    tokens: {
      admin: signHs256({ sub: SECURE_SUPER_USER }, key),
      client: signHs256({ sub: 'relevo-client' }, key),
      expired: signHs256({ sub: SECURE_SUPER_USER, iat: now - 7200, exp: now - 3600 }, key),
      forged: signHs256({ sub: SECURE_SUPER_USER }, randomBytes(32)),
    },
  };
}

/**
 * An HTTPS request to the secure broker's admin API, trusting its CA and sending the token
 * (Node's fetch cannot be given a CA per request). Resolves with the status and body.
 */
export function secureAdminRequest(method: string, path: string, opts: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  const m = secureBrokerMaterial();
  const token = opts.token ?? m.tokens.admin;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request(`${m.adminUrl}${path}`, {
      method,
      ca: m.ca,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
      },
      timeout: opts.timeoutMs ?? 5000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The secure broker's health check goes through TLS (our CA) and authenticates as the super user. */
async function secureHealthy(): Promise<boolean> {
  try {
    return (await secureAdminRequest('GET', '/admin/v2/brokers/health')).status === 200;
  } catch {
    return false;
  }
}

interface ProfileSpec {
  /** The broker's working files: generated config, log, (secure only) data and TLS/JWT material. */
  dir: string;
  conf: string;
  logFile: string;
  serviceUrl: string;
  healthy(): Promise<boolean>;
  /** Writes the config (and whatever it refers to); returns the extra `pulsar standalone` arguments. */
  prepare(dist: string): string[];
  mem: string;
}

function profileSpec(profile: BrokerProfile): ProfileSpec {
  if (profile === 'dev') {
    return {
      dir: home,
      conf: join(home, 'standalone.conf'),
      logFile,
      serviceUrl,
      healthy,
      prepare(dist) {
        writeFileSync(this.conf, readFileSync(join(dist, 'conf', 'standalone.conf'), 'utf8') + '\n'
          + readFileSync(join(root, 'pulsar', 'standalone.conf'), 'utf8'));
        return [];
      },
      mem: process.env.PULSAR_MEM ?? '-Xms512m -Xmx1536m -XX:MaxDirectMemorySize=1g',
    };
  }
  return {
    dir: secureHome,
    conf: join(secureHome, 'broker.conf'),
    logFile: join(secureHome, 'broker.log'),
    serviceUrl: secureServiceUrl,
    healthy: secureHealthy,
    prepare(dist) {
      ensureSecureMaterial();
      writeFileSync(this.conf, readFileSync(join(dist, 'conf', 'standalone.conf'), 'utf8') + '\n'
        + readFileSync(join(root, 'pulsar', 'secure.conf'), 'utf8').replaceAll('@SECURE_DIR@', secureHome));
      // bin/pulsar runs from the distribution directory, where the dev broker keeps its data
      // (data/metadata, data/standalone): the secure broker gets absolute directories of its own.
      return ['--metadata-dir', join(secureHome, 'data', 'metadata'), '--bookkeeper-dir', join(secureHome, 'data', 'bookkeeper'),
        '--bookkeeper-port', '3191'];
    },
    mem: process.env.PULSAR_SECURE_MEM ?? '-Xms256m -Xmx1g -XX:MaxDirectMemorySize=512m',
  };
}

/**
 * Brokers of a profile started from this checkout, found by their command line (it names the
 * profile's config as the -c argument): a pid file alone goes stale when two starts race.
 */
export function brokerPids(profile: BrokerProfile = 'dev'): number[] {
  const conf = profileSpec(profile).conf;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('org.apache.pulsar.PulsarStandaloneStarter') && args.includes(conf)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Starts the profile's broker (default: the dev broker) unless one answers already; resolves when
 * the admin health check passes.
 */
export async function startBroker(opts: { timeoutMs?: number; quiet?: boolean; profile?: BrokerProfile } = {}): Promise<void> {
  const say = opts.quiet ? () => {} : (m: string) => console.log(m);
  const profile = opts.profile ?? 'dev';
  const spec = profileSpec(profile);
  const label = profile === 'dev' ? 'pulsar' : `pulsar (${profile})`;
  if (await spec.healthy()) {
    say(`${label}: already running at ${spec.serviceUrl}`);
    return;
  }
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 180_000);
  if (brokerPids(profile).length > 0) {
    // Another start is under way (a parallel test run): wait for it rather than race it.
    while (Date.now() < deadline && brokerPids(profile).length > 0) {
      if (await spec.healthy()) {
        say(`${label}: already running at ${spec.serviceUrl}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const dist = pulsarHome();
  mkdirSync(spec.dir, { recursive: true });
  const extraArgs = spec.prepare(dist);
  const out = openSync(spec.logFile, 'a');
  const child = spawn(join(dist, 'bin', 'pulsar'), ['standalone', '-nfw', '-nss', '-c', spec.conf, ...extraArgs], {
    cwd: spec.dir,
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      PULSAR_LOG_CONF: join(root, 'pulsar', 'log4j2.yaml'),
      PULSAR_LOG_DIR: spec.dir,
      PULSAR_MEM: spec.mem,
      PULSAR_GC_LOG: ' ',
    },
  });
  child.unref();
  while (Date.now() < deadline) {
    if (!alive(child.pid!)) throw new BrokerError(`${label} exited during start-up; log tail:\n${logTail(spec.logFile)}`);
    if (await spec.healthy()) {
      say(`${label}: ${PULSAR_VERSION} up at ${spec.serviceUrl} in ${((Date.now() - started) / 1000).toFixed(1)} s (log: ${spec.logFile})`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new BrokerError(`${label} did not become healthy in ${(opts.timeoutMs ?? 180_000) / 1000} s; log tail:\n${logTail(spec.logFile)}`);
}

/**
 * Stops the profile's brokers of this checkout (default: the dev broker; SIGTERM, then SIGKILL after
 * the grace period). Resolves whether one was running.
 */
export async function stopBroker(opts: { graceMs?: number; quiet?: boolean; profile?: BrokerProfile } = {}): Promise<boolean> {
  const say = opts.quiet ? () => {} : (m: string) => console.log(m);
  const profile = opts.profile ?? 'dev';
  const label = profile === 'dev' ? 'pulsar' : `pulsar (${profile})`;
  const pids = brokerPids(profile);
  if (pids.length === 0) {
    say(`${label}: not running`);
    return false;
  }
  const signal = (sig: NodeJS.Signals) => pids.filter(alive).forEach((pid) => process.kill(pid, sig));
  signal('SIGTERM');
  const deadline = Date.now() + (opts.graceMs ?? 30_000);
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  signal('SIGKILL');
  while (pids.some(alive)) await new Promise((r) => setTimeout(r, 100));
  say(`${label}: stopped`);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cmd = process.argv[2];
  const profileArg = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length) ?? 'dev';
  const json = process.argv.includes('--json');
  try {
    if (profileArg === 'cluster') {
      if (cmd === 'start') {
        const s = await startCluster();
        console.log(json ? JSON.stringify(s) : describeCluster(s));
      } else if (cmd === 'stop') {
        console.log((await stopCluster()) ? 'pulsar (cluster): stopped' : 'pulsar (cluster): not running');
      } else {
        console.error('usage: node scripts/pulsar.ts start|stop --profile=cluster [--json]');
        process.exit(2);
      }
    } else {
      if (profileArg !== 'dev' && profileArg !== 'secure') throw new BrokerError(`unknown profile ${profileArg}`);
      const profile: BrokerProfile = profileArg;
      if (cmd === 'start') await startBroker({ profile });
      else if (cmd === 'stop') await stopBroker({ profile });
      else if (cmd === 'home') console.log(pulsarHome());
      else {
        console.error('usage: node scripts/pulsar.ts start|stop|home [--profile=dev|secure|cluster] [--json]');
        process.exit(2);
      }
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
