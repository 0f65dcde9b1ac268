// Producer throughput for 1 KiB messages: relevo's client vs the Java client's
// `pulsar-perf produce`, against the same broker, one run of each per round, which of the two
// goes first alternating. Both run for the same duration with the same batching and the same
// window of outstanding messages (pulsar-perf's own rate over a fixed message count is
// rounded to its 10 s stats tick, so a duration is the fair measure). Topics are deleted
// after each round. The ratio is the median of the rounds' ratios: a round's two runs are
// back to back and share most of this machine's drift.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createClient } from '@relevo/pulsar';
import { adminUrl, pulsarHome, serviceUrl, startBroker } from '../scripts/pulsar.ts';
import { deleteTopic, log, median } from './support.ts';

export interface ProducerBenchResult {
  seconds: number;
  size_bytes: number;
  relevo_msgs_per_s: number[];
  java_msgs_per_s: number[];
  relevo_median: number;
  java_median: number;
  /** relevo ÷ java of each round. */
  round_ratios: number[];
  /** The median of round_ratios. */
  ratio: number;
}

const OUTSTANDING = 10_000;

async function relevoRun(topic: string, seconds: number, size: number): Promise<number> {
  const client = createClient({ serviceUrl });
  try {
    const producer = await client.createProducer({
      topic, batching: { maxMessages: 1000, maxDelayMs: 1, maxBytes: 1 << 20 }, maxPendingMessages: OUTSTANDING,
    });
    const payload = randomBytes(size);
    const start = performance.now();
    const end = start + seconds * 1000;
    let acked = 0;
    const window: Promise<unknown>[] = [];
    while (performance.now() < end) {
      for (let i = 0; i < 1000; i++) window.push(producer.send({ payload }).then(() => acked++));
      if (window.length >= OUTSTANDING) await Promise.all(window.splice(0, window.length - OUTSTANDING + 1000));
    }
    const counted = acked;
    const secs = (performance.now() - start) / 1000;
    await Promise.all(window);
    await producer.close();
    return counted / secs;
  } finally {
    await client.close();
  }
}

export function javaRun(topic: string, seconds: number, size: number, opts: { producers?: number; outstanding?: number } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(pulsarHome(), 'bin', 'pulsar-perf'), [
      'produce', '-u', serviceUrl, '-r', '100000000', '-s', String(size), '-m', '0', '-time', String(seconds),
      '-o', String(opts.outstanding ?? OUTSTANDING), '-n', String(opts.producers ?? 1), '-bm', '1000', '-b', '1', topic,
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

export async function runProducerBench(opts: { seconds: number; rounds: number; size?: number }): Promise<ProducerBenchResult> {
  await startBroker({ quiet: true });
  const size = opts.size ?? 1024;
  const ns = `public/bench-${randomBytes(3).toString('hex')}`;
  await fetch(`${adminUrl}/admin/v2/namespaces/${ns}`, { method: 'PUT' });
  const relevo: number[] = [];
  const java: number[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const relevoTopic = `persistent://${ns}/relevo-${round}`;
    const javaTopic = `persistent://${ns}/java-${round}`;
    if (round % 2 === 0) {
      relevo.push(await relevoRun(relevoTopic, opts.seconds, size));
      java.push(await javaRun(javaTopic, opts.seconds, size));
    } else {
      java.push(await javaRun(javaTopic, opts.seconds, size));
      relevo.push(await relevoRun(relevoTopic, opts.seconds, size));
    }
    await Promise.all([deleteTopic(relevoTopic), deleteTopic(javaTopic)]);
    log(`producer round ${round + 1}/${opts.rounds}: relevo ${Math.round(relevo.at(-1)!)} msg/s, java ${Math.round(java.at(-1)!)} msg/s`);
  }
  const roundRatios = relevo.map((r, i) => r / java[i]!);
  return {
    seconds: opts.seconds, size_bytes: size,
    relevo_msgs_per_s: relevo.map(Math.round), java_msgs_per_s: java.map(Math.round),
    relevo_median: Math.round(median(relevo)), java_median: Math.round(median(java)),
    round_ratios: roundRatios.map((x) => +x.toFixed(3)), ratio: +median(roundRatios).toFixed(2),
  };
}
