// A PostgreSQL primary and a streaming replica of a test's own, made with Debian's cluster
// tools (postgresql-common): two clusters on free ports of their own, with their data under
// a temporary directory, never the machine's 5432 service the rest of the suite uses. The
// test stops the primary, promotes the replica, and drops both when it is done.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';

const run = promisify(execFile);

export class PgClusterError extends Error {
  readonly code = 'PG_CLUSTER_FAILED';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PgClusterError';
  }
}

/** The newest PostgreSQL server the machine has (Debian installs each under /usr/lib/postgresql/<major>). */
function serverVersion(): string {
  const majors = readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(a) - Number(b));
  const newest = majors.at(-1);
  if (!newest) throw new PgClusterError('no PostgreSQL server under /usr/lib/postgresql');
  return newest;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { encoding: 'utf8' })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new PgClusterError(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first `count` free ports from `from` on (the clusters bind them a moment later). */
async function freePorts(from: number, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = from; ports.length < count && port < from + 200; port++) if (await portIsFree(port)) ports.push(port);
  if (ports.length < count) throw new PgClusterError(`no ${count} free ports from ${from}`);
  return ports;
}

/**
 * What the test clusters run with. Small and unsafe on purpose where only a machine crash
 * would tell (fsync, full-page writes): the test stops a server, it never loses the disk.
 * Replication settings are PostgreSQL 15's defaults spelled out: the replica streams WAL
 * (wal_level replica, a WAL sender) and answers reads while it replays (hot_standby).
 */
function settings(synchronous: boolean): string {
  return [
    "listen_addresses = '127.0.0.1'",
    "shared_buffers = '16MB'",
    'max_connections = 200',
    'fsync = off',
    'full_page_writes = off',
    'ssl = off',
    'wal_level = replica',
    'max_wal_senders = 4',
    'hot_standby = on',
    // With synchronous replication a commit returns once the replica has flushed its WAL: a
    // commit the primary acknowledged survives the primary. '*': whichever standby streams.
    // The primary's only: a promoted replica with no standby of its own would wait forever.
    ...(synchronous ? ["synchronous_standby_names = '*'", 'synchronous_commit = on'] : []),
    '',
  ].join('\n');
}

export interface ClusterTimings {
  /** From the first command to the replica streaming. */
  createMs: number;
}

export interface PgPair {
  primaryPort: number;
  replicaPort: number;
  /** A URL to `database` on one server. */
  urlOf(port: number, database?: string): string;
  /** The multi-host URL relevo's processes use: both servers, the primary wanted. */
  failoverUrl(database: string): string;
  timings: ClusterTimings;
  /** Stops the primary at once (no checkpoint, no goodbye to clients): what a crash does. */
  stopPrimary(): Promise<void>;
  /** Promotes the replica and waits until it takes writes. */
  promoteReplica(): Promise<void>;
  /** Whether the replica streams from the primary, and how (async, sync). */
  replicationState(): Promise<{ state: string; syncState: string } | undefined>;
  /** Stops and drops both clusters and their data. */
  drop(): Promise<void>;
}

export interface PgPairOptions {
  /** synchronous_standby_names = '*': commits wait for the replica. */
  synchronous?: boolean;
}

/**
 * Creates a primary (pg_createcluster), a streaming replica of it (pg_basebackup -R, then
 * pg_createcluster on that data directory) and waits until the replica streams. Needs root
 * (the clusters run as the postgres OS user, as Debian's tools arrange).
 */
export async function createPgPair(options: PgPairOptions = {}): Promise<PgPair> {
  const started = Date.now();
  const version = serverVersion();
  const [primaryPort, replicaPort] = (await freePorts(5441, 2)) as [number, number];
  const tag = randomBytes(3).toString('hex');
  const names = { primary: `relevo_failover_${tag}_a`, replica: `relevo_failover_${tag}_b` };
  const dir = mkdtempSync(join(tmpdir(), 'relevo-pg-'));
  const postgresUser = Number((await sh('id', ['-u', 'postgres'])).trim());
  const postgresGroup = Number((await sh('id', ['-g', 'postgres'])).trim());
  chownSync(dir, postgresUser, postgresGroup);
  const confDir = (name: string) => `/etc/postgresql/${version}/${name}`;
  const created: string[] = [];

  const urlOf = (port: number, database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const drop = async () => {
    for (const name of created) {
      await sh('pg_dropcluster', ['--stop', version, name]).catch(() => undefined);
      // pg_dropcluster leaves a configuration directory holding a file it did not write.
      rmSync(confDir(name), { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // --no-sync: initdb's own fsync of the new directory, seconds on a busy disk.
    await sh('pg_createcluster', ['-q', version, names.primary, '-p', String(primaryPort), '-d', join(dir, 'primary'),
      '-l', join(dir, 'primary.log'), '--start-conf=manual', '--', '--auth=trust', '--no-sync']);
    created.push(names.primary);
    writeFileSync(join(confDir(names.primary), 'conf.d', 'relevo-test.conf'), settings(options.synchronous ?? false));
    await sh('pg_ctlcluster', [version, names.primary, 'start']);

    // -R writes standby.signal and primary_conninfo; -X stream copies the WAL written meanwhile.
    await sh('runuser', ['-u', 'postgres', '--', 'pg_basebackup', '-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres',
      '-D', join(dir, 'replica'), '-R', '-X', 'stream', '-c', 'fast']);
    // pg_createcluster adopts an existing data directory that carries its configuration files:
    // the primary's, which it rewrites for the replica's name, port and paths.
    for (const file of ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf']) {
      const target = join(dir, 'replica', file);
      copyFileSync(join(confDir(names.primary), file), target);
      chownSync(target, postgresUser, postgresGroup);
    }
    await sh('pg_createcluster', [version, names.replica, '-p', String(replicaPort), '-d', join(dir, 'replica'),
      '-l', join(dir, 'replica.log'), '--start-conf=manual']);
    created.push(names.replica);
    writeFileSync(join(confDir(names.replica), 'conf.d', 'relevo-test.conf'), settings(false));
    await sh('pg_ctlcluster', [version, names.replica, 'start']);
  } catch (err) {
    await drop();
    throw err;
  }

  const replicationState = async () => {
    const sql = postgres(urlOf(primaryPort), { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ state: string; sync_state: string }[]>`select state, sync_state from pg_stat_replication`;
      return row ? { state: row.state, syncState: row.sync_state } : undefined;
    } finally {
      await sql.end({ timeout: 1 });
    }
  };
  const deadline = Date.now() + 30_000;
  while ((await replicationState())?.state !== 'streaming') {
    if (Date.now() > deadline) {
      await drop();
      throw new PgClusterError(`the replica on ${replicaPort} does not stream from ${primaryPort}; logs in ${dir}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    primaryPort,
    replicaPort,
    urlOf,
    failoverUrl: (database) => `postgres://postgres@127.0.0.1:${primaryPort},127.0.0.1:${replicaPort}/${database}?target_session_attrs=primary`,
    timings: { createMs: Date.now() - started },
    replicationState,
    async stopPrimary() {
      await sh('pg_ctlcluster', [version, names.primary, 'stop', '-m', 'immediate']);
    },
    async promoteReplica() {
      // pg_ctlcluster promote waits (pg_ctl promote -w) until the server has left recovery.
      await sh('pg_ctlcluster', [version, names.replica, 'promote']);
    },
    drop,
  };
}
