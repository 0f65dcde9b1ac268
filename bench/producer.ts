// Producer throughput for 1 KiB messages: relevo's client vs the Java client's
// `pulsar-perf produce`, against the same broker, alternating runs in one invocation.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from '@relevo/pulsar';
import { adminUrl, pulsarHome, serviceUrl, startBroker } from '../scripts/pulsar.ts';

export interface ProducerBenchResult {
  messages: number;
  size_bytes: number;
  relevo_msgs_per_s: number[];
  java_msgs_per_s: number[];
  relevo_median: number;
  java_median: number;
  ratio: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function relevoRun(topic: string, messages: number, size: number): Promise<number> {
  const client = createClient({ serviceUrl });
  try {
    const producer = await client.createProducer({
      topic, batching: { maxMessages: 1000, maxDelayMs: 1, maxBytes: 1 << 20 }, maxPendingMessages: 10_000,
    });
    const payload = randomBytes(size);
    const start = performance.now();
    const receipts: Promise<unknown>[] = [];
    for (let i = 0; i < messages; i++) receipts.push(producer.send({ payload }));
    await Promise.all(receipts);
    const secs = (performance.now() - start) / 1000;
    await producer.close();
    return messages / secs;
  } finally {
    await client.close();
  }
}

function javaRun(topic: string, messages: number, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(pulsarHome(), 'bin', 'pulsar-perf'), [
      'produce', '-u', serviceUrl, '-r', '100000000', '-s', String(size), '-m', String(messages),
      '-o', '10000', '-bm', '1000', '-b', '1', topic,
    ], { env: { ...process.env, PULSAR_MEM: '-Xms256m -Xmx1g' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      const m = /Aggregated throughput stats --- (\d+) records sent --- ([\d.]+) msg\/s/.exec(out);
      if (code === 0 && m) resolve(Number(m[2]));
      else reject(new Error(`pulsar-perf exited ${code}; output tail:\n${out.slice(-2000)}`));
    });
  });
}

export async function runProducerBench(opts: { messages: number; rounds: number; size?: number }): Promise<ProducerBenchResult> {
  await startBroker({ quiet: true });
  const size = opts.size ?? 1024;
  const ns = `public/bench-${randomBytes(3).toString('hex')}`;
  await fetch(`${adminUrl}/admin/v2/namespaces/${ns}`, { method: 'PUT' });
  const relevo: number[] = [];
  const java: number[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    relevo.push(await relevoRun(`persistent://${ns}/relevo-${round}`, opts.messages, size));
    java.push(await javaRun(`persistent://${ns}/java-${round}`, opts.messages, size));
    console.error(`producer round ${round + 1}/${opts.rounds}: relevo ${Math.round(relevo.at(-1)!)} msg/s, java ${Math.round(java.at(-1)!)} msg/s`);
  }
  const r = median(relevo);
  const j = median(java);
  return {
    messages: opts.messages, size_bytes: size,
    relevo_msgs_per_s: relevo.map(Math.round), java_msgs_per_s: java.map(Math.round),
    relevo_median: Math.round(r), java_median: Math.round(j), ratio: +(r / j).toFixed(2),
  };
}
