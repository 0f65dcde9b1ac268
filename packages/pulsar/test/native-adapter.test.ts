// One small contract, run against relevo's client and against the official pulsar-client adapter
// wherever its native binding loads (skipped, with the reason, where it does not).
import { afterAll, describe, expect, it } from 'vitest';
import { loadNativeClient, type PulsarClient } from '../src/index.ts';
import { newClient, serviceUrl, text, uniqueTopic } from './helpers.ts';

const native = await loadNativeClient({ serviceUrl });
const unavailable = 'unavailable' in native ? native.unavailable : undefined;
if (unavailable) console.info(`native adapter contract skipped: ${unavailable}`);

afterAll(async () => {
  if (!unavailable) await (native as PulsarClient).close();
});

async function roundTrip(client: PulsarClient): Promise<void> {
  const topic = uniqueTopic('contract');
  const consumer = await client.subscribe({ topic, subscription: 'contract', initialPosition: 'earliest' });
  const producer = await client.createProducer({ topic, batching: false });
  const receipt = await producer.send({ payload: Buffer.from('hello'), properties: { k: 'v' }, partitionKey: 'key', eventTime: 1_700_000_000_123 });
  const m = await consumer.receive(20_000);
  expect(text(m)).toBe('hello');
  expect(m.properties).toEqual({ k: 'v' });
  expect(m.partitionKey).toBe('key');
  expect(m.eventTime).toBe(1_700_000_000_123);
  expect(m.messageId.ledgerId).toBe(receipt.messageId.ledgerId);
  expect(m.messageId.entryId).toBe(receipt.messageId.entryId);
  await consumer.ack(m);
  await producer.close();
  await consumer.close();
}

describe('PulsarClient contract', () => {
  it('relevo client: round trip', async () => {
    const client = newClient();
    await roundTrip(client);
    await client.close();
  });

  it.skipIf(unavailable !== undefined)(`native pulsar-client adapter: round trip${unavailable ? ` (skipped: ${unavailable})` : ''}`, async () => {
    await roundTrip(native as PulsarClient);
  });
});
