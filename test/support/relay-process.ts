// `relevo relay` as a real child process, for the tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Database } from '@relevo/db';
import { adminUrl, serviceUrl } from '../../scripts/pulsar.ts';
import { unsentCount } from './writes.ts';

const cli = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

export interface RelayProcess {
  child: ChildProcess;
  /** Everything the process wrote, for a failing test's message. */
  output(): string;
  exited: Promise<number | null>;
}

export function spawnRelay(env: Record<string, string>): RelayProcess {
  let output = '';
  const child = spawn(process.execPath, [cli, 'relay'], {
    env: {
      ...process.env,
      BROKER_URL: serviceUrl,
      PULSAR_ADMIN_URL: adminUrl,
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
      RELAY_SHARDS: '4',
      RELAY_BATCH_SIZE: '200',
      RELAY_RUN_BUDGET_MS: '2000',
      RELAY_PRODUCER_IDLE_MS: '1000',
      RELAY_BACKOFF_BASE_MS: '100',
      RELAY_BACKOFF_MAX_MS: '1000',
      // Above the client's 30 s operation timeout (a run waits that long for a producer while
      // the broker is down), and short enough for a stalled run to be fenced within a test.
      RELAY_STALL_AFTER_MS: '45000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Resolves once no row is unsent; fails with the relay's output if it exits or the time is up. */
export async function waitUntilDrained(database: Database, relay: RelayProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const unsent = await unsentCount(database);
    if (unsent === 0) return;
    if (relay.child.exitCode !== null) throw new Error(`relay exited with ${relay.child.exitCode}; output:\n${relay.output().slice(-4000)}`);
    if (Date.now() > deadline) throw new Error(`${unsent} rows still unsent; relay output:\n${relay.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
