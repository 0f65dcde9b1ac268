// A partitioned topic is one ProducerImpl per partition (topic-partition-N), all under one producer
// name so broker deduplication tracks each partition's sequence ids for that name.
import type { ClientContext } from './context.ts';
import { PulsarError } from './errors.ts';
import { ProducerImpl, type ProducerConfig } from './producer.ts';
import { PartitionRouter, partitionForKey } from './routing.ts';
import { partitionTopic } from './topic.ts';
import type { OutgoingMessage, Producer, SendReceipt } from './types.ts';

export class PartitionedProducer implements Producer {
  readonly topic: string;
  private readonly parts: ProducerImpl[];
  private readonly router: PartitionRouter;

  private constructor(topic: string, parts: ProducerImpl[]) {
    this.topic = topic;
    this.parts = parts;
    this.router = new PartitionRouter(parts.length);
  }

  static async create(ctx: ClientContext, cfg: ProducerConfig, partitions: number): Promise<PartitionedProducer> {
    const first = await ProducerImpl.create(ctx, { ...cfg, topic: partitionTopic(cfg.topic, 0), partition: 0 });
    // The first partition fixes the name (the broker's if none was given) that the others reuse.
    const rest = await Promise.allSettled(Array.from({ length: partitions - 1 }, (_, i) =>
      ProducerImpl.create(ctx, { ...cfg, producerName: first.producerName, topic: partitionTopic(cfg.topic, i + 1), partition: i + 1 })));
    const ok = rest.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all([first, ...ok].map((p) => p.close()));
      throw failed.reason;
    }
    return new PartitionedProducer(cfg.topic, [first, ...ok]);
  }

  get producerName(): string {
    return this.parts[0]!.producerName;
  }

  /** The highest sequence id any partition's dedup state holds for this producer name. */
  get lastSequenceId(): bigint {
    return this.parts.reduce((max, p) => (p.lastSequenceId > max ? p.lastSequenceId : max), -1n);
  }

  /** Where send() puts a message with this key (the router hashes keys the same way). */
  partitionFor(key: string): number {
    return partitionForKey(key, this.parts.length);
  }

  lastSequenceIdOf(partition: number): bigint {
    const part = this.parts[partition];
    if (!part) throw new PulsarError('InvalidArgument', `${this.topic} has ${this.parts.length} partitions, not a partition ${partition}`);
    return part.lastSequenceId;
  }

  get schemaVersion(): Uint8Array | undefined {
    return this.parts[0]!.schemaVersion;
  }

  get maxMessageSize(): number {
    return Math.min(...this.parts.map((p) => p.maxMessageSize));
  }

  send(msg: OutgoingMessage): Promise<SendReceipt> {
    return this.parts[this.router.choose(msg.partitionKey)]!.send(msg);
  }

  async flush(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.close()));
  }
}
