// One producer per (topic, shard) with a stable name: the broker deduplicates per producer
// name, and refuses a second live producer of the same name (ProducerBusy), which fences a
// stale relay that still holds a shard.
import { topicSchema } from '@relevo/events';
import type { Producer, PulsarClient } from '@relevo/pulsar';

export interface ProducerPoolOptions {
  client: PulsarClient;
  namespace: string;
  /** Closes a shard's producers after this long without a drain, so another relay may take it. */
  idleMs: number;
}

export function topicUrl(namespace: string, topic: string): string {
  return `persistent://${namespace}/${topic}`;
}

export function producerName(topic: string, shard: number): string {
  return `relevo-${topic}-shard-${shard}`;
}

export class ProducerPool {
  private readonly open = new Map<string, Promise<Producer>>();
  private readonly idleTimers = new Map<number, NodeJS.Timeout>();
  private readonly opts: ProducerPoolOptions;

  constructor(opts: ProducerPoolOptions) {
    this.opts = opts;
  }

  /**
   * The shard's producer of the topic. Asking for it stops the shard's idle timer: the producers
   * of a shard in use are not closed under its run, whose unconfirmed sends would fail (a broker
   * slow to confirm, a topic being moved). The run's end starts the timer again (touch).
   */
  producer(topic: string, shard: number): Promise<Producer> {
    clearTimeout(this.idleTimers.get(shard));
    this.idleTimers.delete(shard);
    const key = `${shard}/${topic}`;
    const existing = this.open.get(key);
    if (existing) return existing;
    const p = this.opts.client.createProducer({
      topic: topicUrl(this.opts.namespace, topic),
      producerName: producerName(topic, shard),
      schema: { type: 'AVRO', schema: topicSchema(topic).json, name: topic },
      batching: { maxMessages: 1000, maxDelayMs: 1, maxBytes: 1 << 20 },
      maxPendingMessages: 5000,
      sendTimeoutMs: 0,
    });
    this.open.set(key, p);
    p.catch(() => this.open.delete(key));
    return p;
  }

  /** Called when a drain of the shard ends: keep its producers warm for a while. */
  touch(shard: number): void {
    clearTimeout(this.idleTimers.get(shard));
    this.idleTimers.set(shard, setTimeout(() => void this.closeShard(shard), this.opts.idleMs).unref());
  }

  async closeShard(shard: number): Promise<void> {
    clearTimeout(this.idleTimers.get(shard));
    this.idleTimers.delete(shard);
    const closing: Promise<void>[] = [];
    for (const [key, p] of this.open) {
      if (!key.startsWith(`${shard}/`)) continue;
      this.open.delete(key);
      closing.push(p.then((producer) => producer.close(), () => undefined));
    }
    await Promise.all(closing);
  }

  async closeAll(): Promise<void> {
    const shards = new Set([...this.open.keys()].map((k) => Number(k.split('/')[0])));
    await Promise.all([...shards].map((s) => this.closeShard(s)));
  }
}
