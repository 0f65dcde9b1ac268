import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminUrl, serviceUrl } from '../../../scripts/pulsar.ts';
import { createAdmin, createClient, type ClientOptions, type Consumer, type Message, type PulsarClient } from '../src/index.ts';

export { adminUrl, serviceUrl };
export const admin = createAdmin(adminUrl);

export function uniqueTopic(prefix = 't'): string {
  return `persistent://public/default/${prefix}-${randomBytes(6).toString('hex')}`;
}

export function newClient(o: Partial<ClientOptions> = {}): PulsarClient {
  return createClient({ serviceUrl, operationTimeoutMs: 30_000, ...o });
}

export function text(m: Message): string {
  return Buffer.from(m.payload).toString('utf8');
}

/** Receives exactly n messages (acking each unless told not to). */
export async function receiveN(consumer: Consumer, n: number, opts: { ack?: boolean; timeoutMs?: number } = {}): Promise<Message[]> {
  const out: Message[] = [];
  while (out.length < n) {
    const m = await consumer.receive(opts.timeoutMs ?? 20_000);
    out.push(m);
    if (opts.ack ?? true) await consumer.ack(m);
  }
  return out;
}

/** Resolves with the error code when nothing more arrives within ms ("Timeout" is what callers expect). */
export async function nothingMore(consumer: Consumer, ms = 1_000): Promise<string> {
  try {
    const m = await consumer.receive(ms);
    return `unexpected message ${text(m)}`;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

// broker-restart.test.ts stops the shared broker, which the other files of this package (running in
// parallel workers) would see as random failures. They hold this lock shared; the restart test
// holds it exclusively. Each side announces itself with a file before checking for the other side,
// so the two can never both proceed.
const lockDir = join(tmpdir(), 'relevo-pulsar-broker-lock');
const EXCLUSIVE = 'exclusive';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function holders(): { shared: string[]; exclusive: boolean } {
  const shared: string[] = [];
  let exclusive = false;
  for (const f of readdirSync(lockDir)) {
    const pid = Number(f.split('-')[1]);
    if (!alive(pid)) {
      rmSync(join(lockDir, f), { force: true });
      continue;
    }
    if (f.startsWith(EXCLUSIVE)) exclusive = true;
    else shared.push(f);
  }
  return { shared, exclusive };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function acquireBroker(mode: 'shared' | 'exclusive'): Promise<() => void> {
  mkdirSync(lockDir, { recursive: true });
  const mine = join(lockDir, `${mode === 'exclusive' ? EXCLUSIVE : 'shared'}-${process.pid}-${randomBytes(4).toString('hex')}`);
  for (;;) {
    writeFileSync(mine, '');
    const h = holders();
    if (mode === 'shared' && !h.exclusive) break;
    if (mode === 'exclusive' && h.shared.length === 0) break;
    if (mode === 'shared') rmSync(mine, { force: true });
    await pause(200);
  }
  return () => rmSync(mine, { force: true });
}
