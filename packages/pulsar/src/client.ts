import { retrying } from './backoff.ts';
import { ConnectionPool } from './connection-pool.ts';
import type { ClientContext } from './context.ts';
import { PulsarError, isRetriable, toPulsarError } from './errors.ts';
import { LookupService } from './lookup.ts';
import { PartitionedProducer } from './partitioned-producer.ts';
import { SubType } from './protocol/commands.ts';
import { ProducerImpl, type ProducerConfig } from './producer.ts';
import { fromSchemaData, toSchemaData } from './schema.ts';
import { TopicConsumer } from './topic-consumer.ts';
import { fullTopicName, parseServiceUrl } from './topic.ts';
import type {
  ClientOptions, Consumer, Logger, Producer, ProducerOptions, PulsarClient, SchemaInfo, SubscribeOptions,
} from './types.ts';

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} };

const DEFAULT_BATCHING = { maxMessages: 1000, maxDelayMs: 10, maxBytes: 128 * 1024 };

class Client implements PulsarClient {
  private readonly ctx: ClientContext;
  private readonly producers = new Set<Producer>();
  private readonly consumers = new Set<Consumer>();
  private closed = false;

  constructor(o: ClientOptions) {
    const service = parseServiceUrl(o.serviceUrl);
    const logger = o.logger ?? silent;
    const operationTimeoutMs = o.operationTimeoutMs ?? 30_000;
    const pool = new ConnectionPool({
      token: o.token, allowInsecureToken: o.allowInsecureToken ?? false, tls: o.tls, logger, operationTimeoutMs,
      connectionTimeoutMs: o.connectionTimeoutMs ?? 10_000,
      keepAliveMs: 30_000,
    });
    let producerIds = 0;
    let consumerIds = 0;
    this.ctx = {
      pool, logger, operationTimeoutMs,
      lookup: new LookupService(pool, service),
      nextProducerId: () => producerIds++,
      nextConsumerId: () => consumerIds++,
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new PulsarError('AlreadyClosed', 'client is closed');
  }

  private partitions(topic: string): Promise<number> {
    return retrying(this.ctx.operationTimeoutMs, isRetriable, () => this.ctx.lookup.partitions(topic)).catch((e: unknown) => {
      throw toPulsarError(e);
    });
  }

  async createProducer(o: ProducerOptions): Promise<Producer> {
    this.assertOpen();
    const topic = fullTopicName(o.topic);
    const batching = o.batching === false ? false : { ...DEFAULT_BATCHING, ...o.batching };
    const cfg: ProducerConfig = {
      topic, batching, partition: -1,
      maxPendingMessages: o.maxPendingMessages ?? 1000,
      sendTimeoutMs: o.sendTimeoutMs ?? 30_000,
      ...(o.producerName ? { producerName: o.producerName } : {}),
      ...(toSchemaData(o.schema) ? { schema: toSchemaData(o.schema)! } : {}),
    };
    const partitions = await this.partitions(topic);
    const producer = partitions > 0
      ? await PartitionedProducer.create(this.ctx, cfg, partitions)
      : await ProducerImpl.create(this.ctx, cfg);
    this.producers.add(producer);
    const close = producer.close.bind(producer);
    producer.close = async () => {
      this.producers.delete(producer);
      await close();
    };
    return producer;
  }

  async subscribe(o: SubscribeOptions): Promise<Consumer> {
    this.assertOpen();
    const topic = fullTopicName(o.topic);
    const schema = toSchemaData(o.schema);
    const partitions = await this.partitions(topic);
    const consumer = await TopicConsumer.create(this.ctx, {
      topic, subscription: o.subscription, subType: SubType[o.type ?? 'Exclusive'],
      initialPosition: o.initialPosition ?? 'latest',
      receiverQueueSize: Math.max(1, o.receiverQueueSize ?? 1000),
      nackDelayMs: o.nackRedeliveryDelayMs ?? 60_000,
      partition: -1,
      ...(o.consumerName ? { consumerName: o.consumerName } : {}),
      ...(schema ? { schema } : {}),
    }, partitions);
    this.consumers.add(consumer);
    const close = consumer.close.bind(consumer);
    consumer.close = async () => {
      this.consumers.delete(consumer);
      await close();
    };
    return consumer;
  }

  async getSchema(topic: string, version?: Uint8Array): Promise<SchemaInfo | undefined> {
    this.assertOpen();
    const s = await this.ctx.lookup.getSchema(fullTopicName(topic), version);
    return s ? fromSchemaData(s) : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.producers].map((p) => p.close()));
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    this.ctx.pool.closeAll();
  }
}

export function createClient(o: ClientOptions): PulsarClient {
  return new Client(o);
}
