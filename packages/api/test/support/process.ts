// `relevo api` (or another relevo command) as a real child process: its stdout log lines,
// its stderr, its exit, and the port it says it listens on.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = 'packages/cli/src/main.ts';

/** Only what the process is given: no variable of the test's own environment leaks in. */
export function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // The API's metrics port on a free one: tests run side by side.
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', API_METRICS_PORT: '0', ...extra };
}

export interface Running {
  child: ChildProcess;
  /** Complete stdout lines so far (JSON log lines for the long-running processes). */
  stdout: string[];
  stderr(): string;
  exit: Promise<number | null>;
}

export function runRelevo(args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  let err = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    stdout.push(...lines);
  });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stdout, stderr: () => err, exit };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The port and metrics URL from the `listening` log line; fails early with the stderr of a process that exited. */
export function listening(p: Running): Promise<{ port: number; metrics: string }> {
  return waitFor('the listening line', () => {
    for (const line of p.stdout) {
      const j = JSON.parse(line) as { msg?: string; port?: number; metrics?: string };
      if (j.msg === 'listening') return { port: j.port!, metrics: j.metrics! };
    }
    if (p.child.exitCode !== null) throw new Error(`exited early: ${p.stderr()}`);
    return undefined;
  });
}

/** The port from the `listening` log line. */
export async function listeningPort(p: Running): Promise<number> {
  return (await listening(p)).port;
}
