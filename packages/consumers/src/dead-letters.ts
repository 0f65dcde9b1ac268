// A consumer's dead-letter producer. Its topic gets the `relevo-dlq` subscription first, from
// the earliest message: without a subscription the broker keeps a topic's messages only until
// its ledger rolls over, and may delete an inactive topic with them. `relevo dlq` lists,
// replays and purges what that subscription holds.
import { DEAD_LETTER_SUBSCRIPTION } from '@relevo/events';
import type { Producer, PulsarClient } from '@relevo/pulsar';

export async function openDeadLetterProducer(client: PulsarClient, topic: string): Promise<Producer> {
  const holder = await client.subscribe({
    topic, subscription: DEAD_LETTER_SUBSCRIPTION, type: 'Shared', initialPosition: 'earliest', receiverQueueSize: 1,
  });
  await holder.close();
  return client.createProducer({ topic, batching: false, sendTimeoutMs: 30_000 });
}
