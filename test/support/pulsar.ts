import { randomBytes } from 'node:crypto';
import { decodeEvent, type IntegrationEvent } from '@relevo/events';
import type { Consumer, Message, PulsarClient } from '@relevo/pulsar';
import { adminUrl, serviceUrl } from '../../scripts/pulsar.ts';

export { adminUrl, serviceUrl };

/** A namespace of its own per test file, so topics, schemas and producer names never clash. */
export async function createTestNamespace(): Promise<string> {
  const ns = `public/relevo-${randomBytes(4).toString('hex')}`;
  const res = await fetch(`${adminUrl}/admin/v2/namespaces/${ns}`, { method: 'PUT' });
  if (!res.ok) throw new Error(`cannot create namespace ${ns}: ${res.status} ${await res.text()}`);
  return ns;
}

export interface Received {
  message: Message;
  event: IntegrationEvent;
}

/** Reads until `count` messages arrived or no message came for `idleMs`. */
export async function collect(consumer: Consumer, topic: string, count: number, idleMs = 15_000): Promise<Received[]> {
  const out: Received[] = [];
  while (out.length < count) {
    let message: Message;
    try {
      message = await consumer.receive(idleMs);
    } catch {
      break;
    }
    out.push({ message, event: decodeEvent(topic, message.payload) });
    await consumer.ack(message);
  }
  return out;
}

export async function subscribeEarliest(client: PulsarClient, topicUrl: string, subscription = 'test'): Promise<Consumer> {
  return client.subscribe({ topic: topicUrl, subscription, type: 'Exclusive', initialPosition: 'earliest', receiverQueueSize: 1000 });
}
