// A consumer's dead-letter topic. Its topic gets the `relevo-dlq` subscription first, from the
// earliest message: without a subscription the broker keeps a topic's messages only until its
// ledger rolls over, and may delete an inactive topic with them. `relevo dlq` lists, replays
// and purges what that subscription holds.
import { DEAD_LETTER_SUBSCRIPTION } from '@relevo/events';
import { formatMessageId, type Message, type Producer, type PulsarClient } from '@relevo/pulsar';
import { schemaVersionOf } from './writer-schemas.ts';

/** What a dead letter carries besides the message's own properties. */
export const DLQ_PROPERTIES = {
  error: 'relevo_dlq_error',
  topic: 'relevo_dlq_original_topic',
  messageId: 'relevo_dlq_original_message_id',
  subscription: 'relevo_dlq_subscription',
  redeliveries: 'relevo_dlq_redelivery_count',
  schemaVersion: 'relevo_dlq_schema_version',
  at: 'relevo_dlq_at',
} as const;

const MAX_ERROR_LENGTH = 2_000;

/** An error as a dead letter states it: its code and message, cut to a readable length. */
export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const text = `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`;
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

export async function openDeadLetterProducer(client: PulsarClient, topic: string): Promise<Producer> {
  const holder = await client.subscribe({
    topic, subscription: DEAD_LETTER_SUBSCRIPTION, type: 'Shared', initialPosition: 'earliest', receiverQueueSize: 1,
  });
  await holder.close();
  return client.createProducer({ topic, batching: false, sendTimeoutMs: 30_000 });
}

/** Publishes a consumer's failed messages to its dead-letter topic, the producer opened on first use. */
export class DeadLetterPublisher {
  private producer: Promise<Producer> | undefined;
  private readonly client: PulsarClient;
  private readonly topic: string;
  private readonly subscription: string;

  constructor(client: PulsarClient, topic: string, subscription: string) {
    this.client = client;
    this.topic = topic;
    this.subscription = subscription;
  }

  /** The message as it came (payload, key, event time, properties) with why it failed and where from. */
  async publish(message: Message, err: Error, redeliveries: number): Promise<void> {
    const opening = (this.producer ??= openDeadLetterProducer(this.client, this.topic));
    opening.catch(() => {
      if (this.producer === opening) this.producer = undefined;
    });
    const producer = await opening;
    const version = schemaVersionOf(message);
    await producer.send({
      payload: message.payload,
      ...(message.partitionKey !== undefined ? { partitionKey: message.partitionKey } : {}),
      ...(message.eventTime !== undefined ? { eventTime: message.eventTime } : {}),
      properties: {
        ...message.properties,
        [DLQ_PROPERTIES.error]: errorText(err),
        [DLQ_PROPERTIES.topic]: message.topic,
        [DLQ_PROPERTIES.messageId]: formatMessageId(message.messageId),
        [DLQ_PROPERTIES.subscription]: this.subscription,
        [DLQ_PROPERTIES.redeliveries]: String(redeliveries),
        ...(version ? { [DLQ_PROPERTIES.schemaVersion]: version } : {}),
        [DLQ_PROPERTIES.at]: new Date().toISOString(),
      },
    });
  }

  async close(): Promise<void> {
    const producer = await this.producer?.catch(() => undefined);
    await producer?.close().catch(() => undefined);
  }
}
