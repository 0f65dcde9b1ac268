// Shared by the hostile-input tests: `relevo consumers` as a real process, its ops port, and
// the dead-letter topics read back copy by copy.
import { expect } from 'vitest';
import type { Consumer, Message, PulsarClient } from '@relevo/pulsar';
import { spawnRelevo, topicUrl, waitForOutput, type Subprocess } from './support.ts';

export interface ConsumersProcess extends Subprocess {
  base: string;
  /** Log lines (JSON) whose msg matches. */
  lines(msg: RegExp): Array<Record<string, unknown>>;
}

export async function startConsumersProcess(env: Record<string, string>): Promise<ConsumersProcess> {
  const p = spawnRelevo(['consumers'], { CONSUMER_NACK_DELAY_MS: '200', CONSUMER_MAX_REDELIVERIES: '2', ...env });
  await waitForOutput(p, /"msg":"consumers ready"/);
  const port = Number(/"metrics":"http:\/\/127\.0\.0\.1:(\d+)\/metrics"/.exec(p.output())![1]);
  return {
    ...p,
    base: `http://127.0.0.1:${port}`,
    lines: (msg) => p.output().trim().split('\n').flatMap((l) => {
      try {
        const o = JSON.parse(l) as Record<string, unknown>;
        return msg.test(String(o.msg)) ? [o] : [];
      } catch {
        return [];
      }
    }),
  };
}

/** The process is up, says it is live and ready, and its consumers never lost their connection. */
export async function expectHealthy(p: ConsumersProcess): Promise<void> {
  expect(p.child.exitCode, p.output()).toBeNull();
  expect((await fetch(`${p.base}/health/live`)).status).toBe(200);
  await expect.poll(async () => (await fetch(`${p.base}/health/ready`)).status, { timeout: 10_000 }).toBe(200);
  expect(p.lines(/consumer disconnected|connection closed/)).toEqual([]);
}

/** A dead-letter topic, read from its beginning: every copy that lands there is counted. */
export async function watchDeadLetters(client: PulsarClient, namespace: string, topic: string): Promise<{ consumer: Consumer; copies: Message[]; next(timeoutMs?: number): Promise<Message> }> {
  const consumer = await client.subscribe({ topic: topicUrl(namespace, topic), subscription: 'hostile-test', initialPosition: 'earliest' });
  const copies: Message[] = [];
  return {
    consumer,
    copies,
    async next(timeoutMs = 20_000) {
      const m = await consumer.receive(timeoutMs);
      await consumer.ack(m);
      copies.push(m);
      return m;
    },
  };
}

/** Resolves with what arrives within ms (nothing, when all is well). */
export async function nothingWithin(watch: { consumer: Consumer }, ms: number): Promise<string[]> {
  const extra: string[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const m = await watch.consumer.receive(Math.max(1, until - Date.now()));
      await watch.consumer.ack(m);
      extra.push(m.properties.relevo_dlq_error ?? '(no error property)');
    } catch {
      break;
    }
  }
  return extra;
}
