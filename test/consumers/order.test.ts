// Per-partner order in the consumers: a partner's messages (the relay keys them by partner id)
// are handled one after another, in the order they were published, with several messages
// handled at once, handlers that fail and are retried, and two consumer processes on one
// subscription — each partner's messages go to one of them (Key_Shared).
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsumerMetrics, startRunner, type ConsumerSpec, type Runner } from '@relevo/consumers';
import { createClient, type Message, type PulsarClient } from '@relevo/pulsar';
import { createLogger } from '@relevo/runtime';
import { createTestNamespace } from '../support/pulsar.ts';
import { serviceUrl, topicUrl } from './support.ts';

const log = createLogger('consumer-order-test', process.env.TEST_LOG_LEVEL ?? 'silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Handled {
  runner: string;
  key: string;
  seq: number;
}

describe('consumer order per partner', () => {
  let client: PulsarClient;
  let namespace: string;

  beforeAll(async () => {
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
  });

  afterAll(async () => {
    await client?.close();
  });

  /** `perKey` messages for each of `keys` partners, interleaved, each its own entry (so Key_Shared can route it by key). */
  async function publish(topic: string, keys: string[], perKey: number): Promise<void> {
    const producer = await client.createProducer({ topic, batching: false });
    const sends: Promise<unknown>[] = [];
    for (let seq = 0; seq < perKey; seq++) {
      for (const key of keys) sends.push(producer.send({ payload: Buffer.from(String(seq)), partitionKey: key }));
    }
    await Promise.all(sends);
    await producer.close();
  }

  /**
   * A consumer whose handler takes a random moment and fails the first try of the messages
   * `failsOnce` names (spread over time, so other partners' messages flow past a retry).
   */
  function recordingSpec(topic: string, runner: string, handled: Handled[], failsOnce: (key: string, seq: number) => boolean, failedOnce: Set<string>): ConsumerSpec {
    return {
      name: runner,
      topic,
      subscription: 'order',
      deadLetterTopic: `${topic}-dlq`,
      eventTypes: new Set(['test']),
      async handle(message: Message) {
        const seq = Number(Buffer.from(message.payload).toString());
        const key = message.partitionKey!;
        await sleep(Math.random() * 4);
        if (failsOnce(key, seq) && !failedOnce.has(`${key}/${seq}`)) {
          failedOnce.add(`${key}/${seq}`);
          throw new Error(`${key}/${seq} fails once`);
        }
        handled.push({ runner, key, seq });
        return { type: 'test', outcome: 'stored' };
      },
    };
  }

  const start = (spec: ConsumerSpec): Promise<Runner> => startRunner({
    client, spec, log, metrics: createConsumerMetrics(), maxRedeliveries: 3, nackDelayMs: 50, concurrency: 4,
  });

  function byKey(handled: Handled[]): Map<string, Handled[]> {
    const out = new Map<string, Handled[]>();
    for (const h of handled) out.set(h.key, [...(out.get(h.key) ?? []), h]);
    return out;
  }

  it('handles each partner\'s messages in order, with failures retried in place, across two consumers', async () => {
    const topic = topicUrl(namespace, `order-${randomBytes(4).toString('hex')}`);
    const keys: string[] = Array.from({ length: 24 }, () => randomUUID());
    const perKey = 15;
    const handled: Handled[] = [];
    const failsOnce = (key: string, seq: number) => (seq + keys.indexOf(key)) % 7 === 3;
    const failedOnce = new Set<string>();
    const a = await start(recordingSpec(topic, 'a', handled, failsOnce, failedOnce));
    const b = await start(recordingSpec(topic, 'b', handled, failsOnce, failedOnce));
    try {
      await publish(topic, keys, perKey);
      await expect.poll(() => handled.length, { timeout: 60_000, interval: 100 }).toBe(keys.length * perKey);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    const expected = Array.from({ length: perKey }, (_, i) => i);
    for (const [key, got] of byKey(handled)) {
      expect(got.map((h) => h.seq), `partner ${key}`).toEqual(expected);
      expect(new Set(got.map((h) => h.runner)).size, `partner ${key} handled by one consumer`).toBe(1);
    }
    expect(new Set(handled.map((h) => h.runner))).toEqual(new Set(['a', 'b']));
    expect(failedOnce.size).toBe(keys.flatMap((key) => expected.filter((seq) => failsOnce(key, seq))).length);
  }, 90_000);
});
