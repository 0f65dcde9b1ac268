// Reconnection without restarting the broker: unloading a topic makes the broker send CLOSE_PRODUCER
// and CLOSE_CONSUMER, after which both must come back on their own and lose or duplicate nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, PulsarClient, SendReceipt } from '../src/index.ts';
import { adminUrl, newClient, nothingMore, receiveN, text, uniqueTopic } from './helpers.ts';

let client: PulsarClient;

beforeAll(() => {
  client = newClient();
});

afterAll(async () => {
  await client.close();
});

async function unload(topic: string): Promise<void> {
  const res = await fetch(`${adminUrl}/admin/v2/${topic.replace('://', '/')}/unload`, { method: 'PUT' });
  expect(res.ok).toBe(true);
}

describe('broker-initiated close', () => {
  it('producer and Failover consumer survive a topic unload mid-stream', async () => {
    const topic = uniqueTopic('unload');
    const total = 3_000;
    const live = await client.subscribe({ topic, subscription: 'live', type: 'Failover', initialPosition: 'earliest' });
    const producer = await client.createProducer({ topic, producerName: `unload-${topic.slice(-8)}`, batching: { maxMessages: 50, maxDelayMs: 5 } });

    const seen = new Set<string>();
    const reader = (async () => {
      while (seen.size < total) {
        let m: Message;
        try {
          m = await live.receive(30_000);
        } catch {
          return;
        }
        seen.add(text(m));
        live.ack(m).catch(() => undefined);
      }
    })();

    const receipts: Promise<SendReceipt>[] = [];
    let unloaded: Promise<void> | undefined;
    for (let i = 0; i < total; i++) {
      receipts.push(producer.send({ payload: Buffer.from(`m${i}`) }));
      if (i === 1_000) unloaded = unload(topic);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await unloaded;
    await Promise.all(receipts);
    await producer.close();
    await reader;
    expect(seen.size).toBe(total);
    await live.close();

    const check = await client.subscribe({ topic, subscription: 'check', initialPosition: 'earliest', receiverQueueSize: 500 });
    const got = await receiveN(check, total, { ack: false });
    expect(got.findIndex((m, i) => text(m) !== `m${i}`)).toBe(-1);
    expect(await nothingMore(check, 500)).toBe('Timeout');
    await check.close();
  });
});

describe('negative ack on an exclusive subscription', () => {
  it('rewinds to the first unacked message and drops stale copies', async () => {
    const topic = uniqueTopic('nackx');
    const consumer = await client.subscribe({ topic, subscription: 's', type: 'Exclusive', initialPosition: 'earliest', nackRedeliveryDelayMs: 100 });
    const producer = await client.createProducer({ topic, batching: false });
    await Promise.all(['a', 'b', 'c'].map((s) => producer.send({ payload: Buffer.from(s) })));
    const a = await consumer.receive(10_000);
    await consumer.ack(a);
    const b = await consumer.receive(10_000);
    expect(text(b)).toBe('b');
    consumer.nack(b);
    // c already sits in the receiver queue; once the nack delay has passed, the redelivery rewinds to b and
    // that local copy of c is stale. Exclusive subscriptions cannot redeliver b alone without breaking order.
    await new Promise((r) => setTimeout(r, 400));
    const again = await receiveN(consumer, 2);
    expect(again.map(text)).toEqual(['b', 'c']);
    // (The broker counts redeliveries only for Shared/Key_Shared dispatch, so a rewind leaves redeliveryCount at 0.)
    expect(await nothingMore(consumer, 800)).toBe('Timeout');
    await Promise.all([consumer.close(), producer.close()]);
  });
});
