// Produce/consume round trips against the real broker: plain and partitioned topics, batched and
// unbatched, ack/nack/cumulative ack, Shared and Key_Shared subscriptions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionForKey, type Message, type PulsarClient } from '../src/index.ts';
import { admin, newClient, nothingMore, receiveN, text, uniqueTopic } from './helpers.ts';

let client: PulsarClient;

beforeAll(() => {
  client = newClient();
});

afterAll(async () => {
  await client.close();
});

describe.each([
  { name: 'unbatched', batching: false as const },
  { name: 'batched', batching: { maxMessages: 50, maxDelayMs: 5 } },
])('plain topic, $name', ({ batching }) => {
  it('preserves payload, properties, eventTime, partitionKey and order', async () => {
    const topic = uniqueTopic();
    const consumer = await client.subscribe({ topic, subscription: 's', initialPosition: 'earliest' });
    const producer = await client.createProducer({ topic, producerName: `p-${topic.slice(-6)}`, batching });
    const n = 120;
    const receipts = await Promise.all(Array.from({ length: n }, (_, i) => producer.send({
      payload: Buffer.from(`m${i}`),
      properties: { i: String(i), kind: 'test' },
      eventTime: 1_700_000_000_000 + i,
      partitionKey: `key-${i % 3}`,
    })));
    expect(receipts.map((r) => r.sequenceId)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i)));
    if (batching) expect(receipts.some((r) => (r.messageId.batchSize ?? 0) > 1)).toBe(true);
    else expect(receipts.every((r) => r.messageId.batchIndex === -1)).toBe(true);

    const got = await receiveN(consumer, n);
    expect(got.map(text)).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    got.forEach((m, i) => {
      expect(m.properties).toEqual({ i: String(i), kind: 'test' });
      expect(m.eventTime).toBe(1_700_000_000_000 + i);
      expect(m.partitionKey).toBe(`key-${i % 3}`);
      expect(m.sequenceId).toBe(BigInt(i));
      expect(m.producerName).toBe(producer.producerName);
      expect(m.topic).toBe(topic);
      expect(m.redeliveryCount).toBe(0);
      expect(m.messageId).toEqual(receipts[i]!.messageId);
    });
    expect(await nothingMore(consumer, 500)).toBe('Timeout');
    await consumer.close();

    // Everything was acked (batches once all their messages were), so nothing comes back.
    const again = await client.subscribe({ topic, subscription: 's', initialPosition: 'earliest' });
    expect(await nothingMore(again)).toBe('Timeout');
    await again.close();
    await producer.close();
  });
});

describe('producer flow control', () => {
  it('keeps send order when the pending queue is full', async () => {
    const topic = uniqueTopic('backpressure');
    const producer = await client.createProducer({ topic, batching: false, maxPendingMessages: 4 });
    const receipts = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send({ payload: Buffer.from(`m${i}`) })));
    const entries = receipts.map((r) => r.messageId.entryId);
    expect(entries).toEqual([...entries].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(entries).size).toBe(100);
    await producer.close();
  });

  it('flush() sends an open batch without waiting for its delay', async () => {
    const topic = uniqueTopic('flush');
    const producer = await client.createProducer({ topic, batching: { maxMessages: 1000, maxDelayMs: 600_000 } });
    const settled: boolean[] = [false, false, false];
    const sends = [0, 1, 2].map((i) => producer.send({ payload: Buffer.from(`m${i}`) }).then(() => { settled[i] = true; }));
    await producer.flush();
    expect(settled).toEqual([true, true, true]);
    await Promise.all(sends);
    await producer.close();
  });
});

describe('partitioned topic', () => {
  it('routes keys like the Java client and keeps per-key order across 4 partitions', async () => {
    const topic = uniqueTopic('part');
    await admin.createPartitionedTopic(topic, 4);
    const consumer = await client.subscribe({ topic, subscription: 's', initialPosition: 'earliest' });
    const producer = await client.createProducer({ topic, batching: { maxMessages: 20, maxDelayMs: 5 } });
    const keys = Array.from({ length: 8 }, (_, i) => `customer-${i}`);
    const perKey = 40;
    const sends = [];
    for (let i = 0; i < perKey; i++) {
      for (const key of keys) sends.push(producer.send({ payload: Buffer.from(`${key}/${i}`), partitionKey: key }));
    }
    const receipts = await Promise.all(sends);
    expect(new Set(receipts.map((r) => r.messageId.partition)).size).toBeGreaterThan(1);

    const got = await receiveN(consumer, keys.length * perKey);
    const byKey = new Map<string, number[]>();
    for (const m of got) {
      const [key, seq] = text(m).split('/') as [string, string];
      expect(m.partitionKey).toBe(key);
      expect(m.topic).toBe(`${topic}-partition-${partitionForKey(key, 4)}`);
      expect(m.messageId.partition).toBe(partitionForKey(key, 4));
      byKey.set(key, [...(byKey.get(key) ?? []), Number(seq)]);
    }
    for (const key of keys) expect(byKey.get(key)).toEqual(Array.from({ length: perKey }, (_, i) => i));

    // Without a key, messages rotate over every partition.
    const unkeyed = await Promise.all(Array.from({ length: 8 }, (_, i) => producer.send({ payload: Buffer.from(`u${i}`) })));
    expect(new Set(unkeyed.map((r) => r.messageId.partition))).toEqual(new Set([0, 1, 2, 3]));
    await receiveN(consumer, 8);
    await producer.close();
    await consumer.close();
  });
});

describe('acknowledgements', () => {
  it('redelivers a nacked message after the delay with a redelivery count', async () => {
    const topic = uniqueTopic('nack');
    const consumer = await client.subscribe({ topic, subscription: 's', type: 'Shared', initialPosition: 'earliest', nackRedeliveryDelayMs: 200 });
    const producer = await client.createProducer({ topic, batching: false });
    await producer.send({ payload: Buffer.from('a') });
    await producer.send({ payload: Buffer.from('b') });

    const first = await consumer.receive(10_000);
    expect(text(first)).toBe('a');
    consumer.nack(first);
    const second = await consumer.receive(10_000);
    expect(text(second)).toBe('b');
    await consumer.ack(second);

    const again = await consumer.receive(10_000);
    expect(text(again)).toBe('a');
    expect(again.messageId).toEqual(first.messageId);
    expect(again.redeliveryCount).toBe(1);
    await consumer.ack(again);
    expect(await nothingMore(consumer, 800)).toBe('Timeout');
    await consumer.close();
    await producer.close();
  });

  it('redelivers only the unacked messages of a nacked batch', async () => {
    const topic = uniqueTopic('nackb');
    const consumer = await client.subscribe({ topic, subscription: 's', type: 'Shared', initialPosition: 'earliest', nackRedeliveryDelayMs: 100 });
    const producer = await client.createProducer({ topic, batching: { maxMessages: 4, maxDelayMs: 50 } });
    await Promise.all(['a', 'b', 'c', 'd'].map((s) => producer.send({ payload: Buffer.from(s) })));
    const batch = await receiveN(consumer, 4, { ack: false });
    expect(batch.every((m) => m.messageId.batchSize === 4)).toBe(true);
    await consumer.ack(batch[0]!);
    await consumer.ack(batch[2]!);
    consumer.nack(batch[1]!);
    consumer.nack(batch[3]!);
    const redelivered = await receiveN(consumer, 2);
    expect(redelivered.map(text)).toEqual(['b', 'd']);
    expect(await nothingMore(consumer, 500)).toBe('Timeout');
    await consumer.close();
    await producer.close();
  });

  it('cumulative ack covers everything up to the message, batched or not', async () => {
    for (const batching of [false, { maxMessages: 5, maxDelayMs: 50 }] as const) {
      const topic = uniqueTopic('cumul');
      const producer = await client.createProducer({ topic, batching });
      const consumer = await client.subscribe({ topic, subscription: 's', type: 'Exclusive', initialPosition: 'earliest' });
      await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send({ payload: Buffer.from(`m${i}`) })));
      const got = await receiveN(consumer, 10, { ack: false });
      await consumer.ackCumulative(got[4]!);
      await consumer.close();

      const again = await client.subscribe({ topic, subscription: 's', type: 'Exclusive', initialPosition: 'earliest' });
      const rest = await receiveN(again, 5, { ack: false });
      expect(rest.map(text)).toEqual(['m5', 'm6', 'm7', 'm8', 'm9']);
      await again.ackCumulative(rest[4]!);
      await again.close();
      const last = await client.subscribe({ topic, subscription: 's', type: 'Exclusive', initialPosition: 'earliest' });
      expect(await nothingMore(last, 500)).toBe('Timeout');
      await last.close();
      await producer.close();
    }
  });

  it('refuses cumulative ack on a Shared subscription', async () => {
    const topic = uniqueTopic('cumshared');
    const producer = await client.createProducer({ topic, batching: false });
    const consumer = await client.subscribe({ topic, subscription: 's', type: 'Shared', initialPosition: 'earliest' });
    await producer.send({ payload: Buffer.from('x') });
    const m = await consumer.receive(10_000);
    await expect(consumer.ackCumulative(m)).rejects.toMatchObject({ code: 'NotAllowedError' });
    await consumer.close();
    await producer.close();
  });
});

describe('shared subscriptions', () => {
  async function consumeAll(consumers: { receive(t?: number): Promise<Message>; ack(m: Message): Promise<void> }[], total: number) {
    const seen: Message[][] = consumers.map(() => []);
    let count = 0;
    await Promise.all(consumers.map(async (c, idx) => {
      while (count < total) {
        let m: Message;
        try {
          m = await c.receive(1_500);
        } catch {
          if (count >= total) return;
          continue;
        }
        seen[idx]!.push(m);
        count++;
        await c.ack(m);
      }
    }));
    return seen;
  }

  it('Shared spreads messages over two consumers without duplicates', async () => {
    const topic = uniqueTopic('shared');
    const a = await client.subscribe({ topic, subscription: 's', type: 'Shared', initialPosition: 'earliest', receiverQueueSize: 10 });
    const b = await client.subscribe({ topic, subscription: 's', type: 'Shared', initialPosition: 'earliest', receiverQueueSize: 10 });
    const producer = await client.createProducer({ topic, batching: false });
    await Promise.all(Array.from({ length: 200 }, (_, i) => producer.send({ payload: Buffer.from(`m${i}`) })));
    const [fromA, fromB] = await consumeAll([a, b], 200);
    expect(fromA!.length).toBeGreaterThan(0);
    expect(fromB!.length).toBeGreaterThan(0);
    const all = [...fromA!, ...fromB!].map(text).sort();
    expect(all).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`).sort());
    await Promise.all([a.close(), b.close(), producer.close()]);
  });

  it('Key_Shared keeps each key on one consumer, in order', async () => {
    const topic = uniqueTopic('keyshared');
    const a = await client.subscribe({ topic, subscription: 's', type: 'Key_Shared', initialPosition: 'earliest', receiverQueueSize: 20 });
    const b = await client.subscribe({ topic, subscription: 's', type: 'Key_Shared', initialPosition: 'earliest', receiverQueueSize: 20 });
    // Key_Shared routes a whole batch by its entry key, so keyed traffic is sent unbatched here.
    const producer = await client.createProducer({ topic, batching: false });
    const keys = Array.from({ length: 16 }, (_, i) => `k${i}`);
    const sends = [];
    for (let i = 0; i < 20; i++) for (const key of keys) sends.push(producer.send({ payload: Buffer.from(`${key}/${i}`), partitionKey: key }));
    await Promise.all(sends);
    const seen = await consumeAll([a, b], keys.length * 20);
    expect(seen[0]!.length).toBeGreaterThan(0);
    expect(seen[1]!.length).toBeGreaterThan(0);
    const owner = new Map<string, number>();
    seen.forEach((msgs, idx) => {
      const perKey = new Map<string, number[]>();
      for (const m of msgs) {
        const [key, i] = text(m).split('/') as [string, string];
        expect(owner.get(key) ?? idx).toBe(idx);
        owner.set(key, idx);
        perKey.set(key, [...(perKey.get(key) ?? []), Number(i)]);
      }
      for (const list of perKey.values()) expect(list).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });
    expect(owner.size).toBe(keys.length);
    await Promise.all([a.close(), b.close(), producer.close()]);
  });
});
