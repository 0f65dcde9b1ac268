// Broker deduplication keyed by producer name + sequence id, and exclusive producer names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PulsarError, type PulsarClient } from '../src/index.ts';
import { admin, newClient, nothingMore, receiveN, text, uniqueTopic } from './helpers.ts';

let client: PulsarClient;

beforeAll(() => {
  client = newClient();
});

afterAll(async () => {
  await client.close();
});

describe('deduplication', () => {
  it.each([
    { name: 'unbatched', batching: false as const },
    { name: 'batched', batching: { maxMessages: 16, maxDelayMs: 5 } },
  ])('drops a resend of the same sequence ids under the same producer name ($name)', async ({ batching }) => {
    const topic = uniqueTopic('dedup');
    const producerName = `relay-${topic.slice(-8)}`;
    const send = (p: { send: (m: { payload: Uint8Array; sequenceId: bigint }) => Promise<unknown> }, from: number, to: number) =>
      Promise.all(Array.from({ length: to - from }, (_, k) => p.send({ payload: Buffer.from(`m${from + k}`), sequenceId: BigInt(from + k) })));

    const first = await client.createProducer({ topic, producerName, batching });
    expect(first.lastSequenceId).toBe(-1n);
    await send(first, 0, 50);
    // Raised by the receipts, as the broker's own count will be at the next PRODUCER_SUCCESS.
    expect(first.lastSequenceId).toBe(49n);
    await first.close();

    const second = await client.createProducer({ topic, producerName, batching });
    expect(second.lastSequenceId).toBe(49n);
    const dup = await send(second, 0, 50);
    // The broker acknowledges duplicates without storing them: their receipts carry no position.
    expect(dup.every((r) => (r as { messageId: { ledgerId: bigint } }).messageId.ledgerId === -1n)).toBe(true);
    await send(second, 50, 60);
    await second.close();

    const consumer = await client.subscribe({ topic, subscription: 's', initialPosition: 'earliest' });
    const got = await receiveN(consumer, 60);
    expect(got.map(text)).toEqual(Array.from({ length: 60 }, (_, i) => `m${i}`));
    expect(await nothingMore(consumer)).toBe('Timeout');
    await consumer.close();
  });

  it('continues auto-assigned sequence ids after the broker\'s last one', async () => {
    const topic = uniqueTopic('seq');
    const producerName = `auto-${topic.slice(-8)}`;
    const first = await client.createProducer({ topic, producerName, batching: false });
    await first.send({ payload: Buffer.from('a') });
    await first.send({ payload: Buffer.from('b') });
    await first.close();
    const second = await client.createProducer({ topic, producerName, batching: false });
    expect(second.lastSequenceId).toBe(1n);
    expect((await second.send({ payload: Buffer.from('c') })).sequenceId).toBe(2n);
    await second.close();
  });

  it('keeps each partition\'s sequence floor apart on a partitioned topic, and routes keys where partitionFor says', async () => {
    const topic = uniqueTopic('pdedup');
    await admin.createPartitionedTopic(topic, 4);
    const producerName = `relay-${topic.slice(-8)}`;
    // One sequence across the partitions, as the relay's shard sequence is: each partition sees a part of it.
    const keys = Array.from({ length: 12 }, (_, i) => `partner-${i}`);
    const first = await client.createProducer({ topic, producerName, batching: { maxMessages: 8, maxDelayMs: 5 } });
    expect([0, 1, 2, 3].map((p) => first.lastSequenceIdOf(p))).toEqual([-1n, -1n, -1n, -1n]);
    const sent = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      first.send({ payload: Buffer.from(`m${i}`), partitionKey: keys[i % keys.length]!, sequenceId: BigInt(i) })));
    const highest = [-1n, -1n, -1n, -1n];
    sent.forEach((r, i) => {
      const p = first.partitionFor(keys[i % keys.length]!);
      expect(r.messageId.partition).toBe(p);
      if (r.sequenceId > highest[p]!) highest[p] = r.sequenceId;
    });
    expect(new Set(highest).size).toBeGreaterThan(1);
    await first.close();

    const second = await client.createProducer({ topic, producerName, batching: false });
    expect([0, 1, 2, 3].map((p) => second.lastSequenceIdOf(p))).toEqual(highest);
    expect(second.lastSequenceId).toBe(59n);
    expect(() => second.lastSequenceIdOf(4)).toThrow(PulsarError);
    // On the partition with the lowest floor, a sequence id above its floor (but below another
    // partition's) is stored; one at its floor is dropped.
    const low = highest.indexOf(highest.reduce((a, b) => (b < a ? b : a)));
    const key = keys.find((k) => second.partitionFor(k) === low)!;
    const again = await second.send({ payload: Buffer.from('again'), partitionKey: key, sequenceId: highest[low]! });
    expect(again.messageId.ledgerId).toBe(-1n);
    const above = await second.send({ payload: Buffer.from('above'), partitionKey: key, sequenceId: highest[low]! + 1n });
    expect(above.messageId.ledgerId).not.toBe(-1n);
    await second.close();

    const consumer = await client.subscribe({ topic, subscription: 's', initialPosition: 'earliest' });
    const got = (await receiveN(consumer, 61)).map(text);
    expect(got.filter((t) => t === 'again' || t === 'above')).toEqual(['above']);
    expect(await nothingMore(consumer)).toBe('Timeout');
    await consumer.close();
  });
});

describe('producer names', () => {
  it('refuses a second live producer with the same name as ProducerBusy', async () => {
    const topic = uniqueTopic('busy');
    const producerName = `busy-${topic.slice(-8)}`;
    const holder = await client.createProducer({ topic, producerName });
    const err = await client.createProducer({ topic, producerName }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PulsarError);
    expect((err as PulsarError).code).toBe('ProducerBusy');
    await holder.close();
    const next = await client.createProducer({ topic, producerName });
    expect(next.producerName).toBe(producerName);
    await next.close();
  });
});
