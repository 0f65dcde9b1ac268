// Where relevo's brokers come from: the official Apache Pulsar server distribution, resolved
// from Maven Central and extracted into the checkout's .pulsar/; and the small process helpers
// the standalone profiles (scripts/pulsar.ts) and the cluster (scripts/pulsar-cluster.ts) share.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PULSAR_VERSION = '4.0.8';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const home = join(root, '.pulsar');
/** The checkout's root and its .pulsar/ (distribution, data, logs). */
export { root as repoRoot, home as pulsarDir };
const distDir = join(home, `apache-pulsar-${PULSAR_VERSION}`);

export class BrokerError extends Error {
  readonly code = 'BROKER_START_FAILED';
}

/**
 * Maven's local repository. Maven resolves `~/.m2` from Java's `user.home`, the account's home
 * in the password database, not from `$HOME`: with `HOME` pointing elsewhere (a container, a CI
 * runner) `homedir()` names a repository Maven never wrote to. The download below is told to
 * use this same directory (`-Dmaven.repo.local`), so the tarball is where it is looked for.
 */
export function mavenRepository(): string {
  if (process.env.MAVEN_REPO) return process.env.MAVEN_REPO;
  let accountHome: string;
  try {
    accountHome = userInfo().homedir;
  } catch {
    // No password-database entry for this uid (an arbitrary container user): Java falls back to $HOME too.
    accountHome = homedir();
  }
  return join(accountHome, '.m2', 'repository');
}

function tarball(repo = mavenRepository()): string {
  return join(repo, 'org/apache/pulsar/pulsar-server-distribution', PULSAR_VERSION,
    `pulsar-server-distribution-${PULSAR_VERSION}-bin.tar.gz`);
}

/** Terminal escape sequences: Maven writes colour resets (ESC[0m) even with -B and style.color=never. */
const ESCAPES = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Runs a command; what it prints reaches the output as plain lines, without escape sequences. */
function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const printed = `${r.stdout ?? ''}${r.stderr ?? ''}`.replace(ESCAPES, '').split('\n').filter((line) => line.trim() !== '');
  if (printed.length > 0) console.log(printed.join('\n'));
  if (r.status !== 0) throw new BrokerError(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

export function pulsarHome(): string {
  if (existsSync(join(distDir, 'bin', 'pulsar'))) return distDir;
  mkdirSync(home, { recursive: true });
  const repo = mavenRepository();
  if (!existsSync(tarball(repo))) {
    console.log(`pulsar: resolving org.apache.pulsar:pulsar-server-distribution:${PULSAR_VERSION} from Maven Central into ${repo}`);
    run('mvn', ['-q', '-B', '-Dstyle.color=never', `-Dmaven.repo.local=${repo}`, 'dependency:get', '-Dtransitive=false',
      `-Dartifact=org.apache.pulsar:pulsar-server-distribution:${PULSAR_VERSION}:tar.gz:bin`]);
  }
  run('tar', ['xzf', tarball(repo), '-C', home]);
  return distDir;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function logTail(file: string, lines = 40): string {
  if (!existsSync(file)) return '(no broker log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

