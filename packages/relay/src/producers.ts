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

/**
 * The relay's producers, kept warm between a shard's drain runs. A shard's producers never
 * close on their own while a run holds the shard (acquire … release, counted: a run fenced off
 * as stalled may release after the next run acquired): closed under a run, its sends in
 * flight would fail with their fate unknown (test/relay-guarantees.test.ts: "keeps a shard's
 * producers open while a run holds it").
 */
export class ProducerPool {
  private readonly open = new Map<string, Promise<Producer>>();
  private readonly idleTimers = new Map<number, NodeJS.Timeout>();
  private readonly holds = new Map<number, number>();
  private readonly opts: ProducerPoolOptions;

  constructor(opts: ProducerPoolOptions) {
    this.opts = opts;
  }

  producer(topic: string, shard: number): Promise<Producer> {
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
    p.catch(() => {
      if (this.open.get(key) === p) this.open.delete(key);
    });
    return p;
  }

  /** A drain run of the shard starts: its producers stay open until release. */
  acquire(shard: number): void {
    clearTimeout(this.idleTimers.get(shard));
    this.idleTimers.delete(shard);
    this.holds.set(shard, (this.holds.get(shard) ?? 0) + 1);
  }

  /** The run ended: keep the shard's producers warm for a while, then close them. */
  release(shard: number): void {
    const holds = (this.holds.get(shard) ?? 1) - 1;
    if (holds > 0) {
      this.holds.set(shard, holds);
      return;
    }
    this.holds.delete(shard);
    clearTimeout(this.idleTimers.get(shard));
    this.idleTimers.set(shard, setTimeout(() => {
      if (!this.holds.has(shard)) void this.closeShard(shard);
    }, this.opts.idleMs).unref());
  }

  /** Closes the shard's producers now (after a failed or fenced run, or at shutdown). */
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
