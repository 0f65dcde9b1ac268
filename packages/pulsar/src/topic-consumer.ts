// The Consumer handed to applications: one ConsumerImpl per partition (or just one), all feeding a
// shared receive queue. Acks are routed back to the partition a message came from.
import type { ClientContext } from './context.ts';
import { ConsumerImpl, type ConsumerConfig, type Delivery } from './consumer.ts';
import { PulsarError } from './errors.ts';
import { MessageQueue } from './message-queue.ts';
import { toMessageId } from './message-id.ts';
import { partitionTopic } from './topic.ts';
import type { Consumer, Message, MessageId } from './types.ts';

export class TopicConsumer implements Consumer {
  private readonly queue: MessageQueue<Delivery>;
  private readonly parts: ConsumerImpl[];
  private closing: Promise<void> | undefined;

  private constructor(queue: MessageQueue<Delivery>, parts: ConsumerImpl[]) {
    this.queue = queue;
    this.parts = parts;
  }

  static async create(ctx: ClientContext, cfg: ConsumerConfig, partitions: number): Promise<TopicConsumer> {
    const queue = new MessageQueue<Delivery>();
    if (partitions === 0) return new TopicConsumer(queue, [await ConsumerImpl.create(ctx, cfg, queue)]);
    const results = await Promise.allSettled(Array.from({ length: partitions }, (_, i) =>
      ConsumerImpl.create(ctx, { ...cfg, topic: partitionTopic(cfg.topic, i), partition: i }, queue)));
    const parts = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(parts.map((p) => p.close()));
      throw failed.reason;
    }
    return new TopicConsumer(queue, parts);
  }

  get connected(): boolean {
    return this.parts.every((p) => p.connected);
  }

  private owner(id: MessageId): ConsumerImpl {
    if (this.parts.length === 1) return this.parts[0]!;
    const part = this.parts[id.partition];
    if (!part) throw new PulsarError('InvalidArgument', `message id names partition ${id.partition}, which this consumer does not have`);
    return part;
  }

  async receive(timeoutMs?: number): Promise<Message> {
    const d = await this.queue.receive(timeoutMs);
    d.owner.consumed(1);
    return d.msg;
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return {
      next: async (): Promise<IteratorResult<Message>> => {
        try {
          return { value: await this.receive(), done: false };
        } catch (e) {
          if (e instanceof PulsarError && e.code === 'AlreadyClosed') return { value: undefined, done: true };
          throw e;
        }
      },
      return: async (): Promise<IteratorResult<Message>> => ({ value: undefined, done: true }),
    };
  }

  async ack(m: Message | MessageId): Promise<void> {
    const id = toMessageId(m);
    await this.owner(id).ack(id);
  }

  async ackCumulative(m: Message | MessageId): Promise<void> {
    const id = toMessageId(m);
    await this.owner(id).ackCumulative(id);
  }

  nack(m: Message | MessageId): void {
    const id = toMessageId(m);
    this.owner(id).nack(id);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.queue.close(new PulsarError('AlreadyClosed', 'consumer closed'));
      await Promise.all(this.parts.map((p) => p.close()));
    })();
    return this.closing;
  }
}
