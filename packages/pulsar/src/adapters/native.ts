// PulsarClient over the official `pulsar-client` package (C++ binding), for machines where its
// prebuilt binary installs. Its types are declared structurally here so this file typechecks whether
// or not the optional dependency is present.
import { DEFAULT_MAX_MESSAGE_SIZE, PulsarError, TimeoutError, toPulsarError } from '../errors.ts';
import { formatMessageId } from '../message-id.ts';
import type {
  ClientOptions, Consumer, Message, MessageId, OutgoingMessage, Producer, ProducerOptions, PulsarClient,
  SchemaInfo, SendReceipt, SubscribeOptions,
} from '../types.ts';

interface NativeMessageId { toString(): string }
interface NativeMessage {
  getTopicName(): string;
  getProperties(): Record<string, string>;
  getData(): Buffer;
  getMessageId(): NativeMessageId;
  getPublishTimestamp(): number;
  getEventTimestamp(): number;
  getRedeliveryCount(): number;
  getPartitionKey(): string;
  getProducerName(): string;
}
interface NativeProducer {
  send(m: Record<string, unknown>): Promise<NativeMessageId>;
  flush(): Promise<unknown>;
  close(): Promise<unknown>;
  getProducerName(): string;
  getTopic(): string;
}
interface NativeConsumer {
  receive(timeout?: number): Promise<NativeMessage>;
  acknowledge(m: NativeMessage): Promise<unknown>;
  acknowledgeId(id: NativeMessageId): Promise<unknown>;
  acknowledgeCumulativeId(id: NativeMessageId): Promise<unknown>;
  negativeAcknowledgeId(id: NativeMessageId): void;
  isConnected(): boolean;
  close(): Promise<unknown>;
}
interface NativeClient {
  createProducer(c: Record<string, unknown>): Promise<NativeProducer>;
  subscribe(c: Record<string, unknown>): Promise<NativeConsumer>;
  close(): Promise<unknown>;
}
interface NativeModule {
  Client: new (c: Record<string, unknown>) => NativeClient;
  AuthenticationToken: new (p: { token: string | (() => Promise<string>) }) => unknown;
}

/** The C++ client prints ids as "(ledger,entry,partition,batchIndex)". */
function fromNativeId(id: NativeMessageId): MessageId {
  const m = /^\(?(-?\d+),(-?\d+),(-?\d+),(-?\d+)\)?$/.exec(id.toString());
  if (!m) throw new PulsarError('ProtocolError', `unrecognised native message id ${id.toString()}`);
  return { ledgerId: BigInt(m[1]!), entryId: BigInt(m[2]!), partition: Number(m[3]), batchIndex: Number(m[4]) };
}

const SCHEMA_TYPES: Record<SchemaInfo['type'], string> = { AVRO: 'Avro', JSON: 'Json', STRING: 'String', BYTES: 'Bytes', NONE: 'None' };

function nativeSchema(s: SchemaInfo | undefined): Record<string, unknown> | undefined {
  if (!s) return undefined;
  return { schemaType: SCHEMA_TYPES[s.type], schema: s.schema, name: s.name, properties: s.properties };
}

function wrapError(e: unknown): PulsarError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/timeout/i.test(msg)) return new TimeoutError(msg);
  if (/ProducerBusy/i.test(msg)) return new PulsarError('ProducerBusy', msg);
  if (/IncompatibleSchema/i.test(msg)) return new PulsarError('IncompatibleSchema', msg);
  return toPulsarError(e, 'UnknownError');
}

function nativeProducer(p: NativeProducer): Producer {
  return {
    topic: p.getTopic(),
    producerName: p.getProducerName(),
    // The native binding does not expose the broker's last sequence id nor the schema version,
    // nor which partition a key goes to (its router's hashing is its own configuration).
    lastSequenceId: -1n,
    partitionFor: () => -1,
    // Nor what the broker holds per producer name: the relay keeps such rows in hand.
    lastSequenceIdOf: () => undefined,
    schemaVersion: undefined,
    // Nor the broker's limit: its default.
    maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
    async send(msg: OutgoingMessage): Promise<SendReceipt> {
      try {
        const id = await p.send({
          data: Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength),
          ...(msg.properties ? { properties: msg.properties } : {}),
          ...(msg.eventTime ? { eventTimestamp: msg.eventTime } : {}),
          ...(msg.sequenceId !== undefined ? { sequenceId: Number(msg.sequenceId) } : {}),
          ...(msg.partitionKey !== undefined ? { partitionKey: msg.partitionKey } : {}),
          ...(msg.orderingKey ? { orderingKey: Buffer.from(msg.orderingKey).toString('utf8') } : {}),
        });
        return { messageId: fromNativeId(id), sequenceId: msg.sequenceId ?? -1n };
      } catch (e) {
        throw wrapError(e);
      }
    },
    async flush() {
      await p.flush().catch((e: unknown) => { throw wrapError(e); });
    },
    async close() {
      await p.close().catch((e: unknown) => { throw wrapError(e); });
    },
  };
}

function nativeConsumer(c: NativeConsumer): Consumer {
  // Acks take the native id object, so received ids are remembered until acknowledged.
  const ids = new Map<string, NativeMessageId>();
  const native = (m: Message | MessageId): NativeMessageId => {
    const id = 'messageId' in m ? m.messageId : m;
    const n = ids.get(formatMessageId(id));
    if (!n) throw new PulsarError('InvalidArgument', `message ${formatMessageId(id)} was not received by this consumer`);
    return n;
  };
  const receive = async (timeoutMs?: number): Promise<Message> => {
    let m: NativeMessage;
    try {
      m = await (timeoutMs === undefined ? c.receive() : c.receive(timeoutMs));
    } catch (e) {
      throw wrapError(e);
    }
    const messageId = fromNativeId(m.getMessageId());
    ids.set(formatMessageId(messageId), m.getMessageId());
    const msg: Message = {
      topic: m.getTopicName(), messageId, payload: m.getData(), properties: m.getProperties(),
      publishTime: m.getPublishTimestamp(), sequenceId: -1n, producerName: m.getProducerName(),
      redeliveryCount: m.getRedeliveryCount(),
    };
    if (m.getPartitionKey()) msg.partitionKey = m.getPartitionKey();
    if (m.getEventTimestamp()) msg.eventTime = m.getEventTimestamp();
    return msg;
  };
  return {
    get connected() {
      return c.isConnected();
    },
    receive,
    [Symbol.asyncIterator]: () => ({ next: async () => ({ value: await receive(), done: false }) }),
    async ack(m) {
      const id = native(m);
      await c.acknowledgeId(id).catch((e: unknown) => { throw wrapError(e); });
      ids.delete(formatMessageId('messageId' in m ? m.messageId : m));
    },
    async ackCumulative(m) {
      await c.acknowledgeCumulativeId(native(m)).catch((e: unknown) => { throw wrapError(e); });
    },
    nack(m) {
      c.negativeAcknowledgeId(native(m));
    },
    async close() {
      ids.clear();
      await c.close().catch((e: unknown) => { throw wrapError(e); });
    },
  };
}

function nativeClient(mod: NativeModule, o: ClientOptions): PulsarClient {
  const client = new mod.Client({
    serviceUrl: o.serviceUrl,
    ...(o.token ? { authentication: new mod.AuthenticationToken({ token: o.token }) } : {}),
    ...(o.operationTimeoutMs ? { operationTimeoutSeconds: Math.ceil(o.operationTimeoutMs / 1000) } : {}),
    ...(o.connectionTimeoutMs ? { connectionTimeoutMs: o.connectionTimeoutMs } : {}),
    ...(o.tls?.rejectUnauthorized === false ? { tlsAllowInsecureConnection: true } : {}),
  });
  return {
    async createProducer(p: ProducerOptions) {
      const b = p.batching;
      try {
        return nativeProducer(await client.createProducer({
          topic: p.topic, blockIfQueueFull: true,
          ...(p.producerName ? { producerName: p.producerName } : {}),
          ...(p.schema ? { schema: nativeSchema(p.schema) } : {}),
          ...(p.maxPendingMessages ? { maxPendingMessages: p.maxPendingMessages } : {}),
          ...(p.sendTimeoutMs !== undefined ? { sendTimeoutMs: p.sendTimeoutMs } : {}),
          ...(b === false
            ? { batchingEnabled: false }
            : b ? { batchingEnabled: true, batchingMaxMessages: b.maxMessages, batchingMaxPublishDelayMs: b.maxDelayMs } : {}),
        }));
      } catch (e) {
        throw wrapError(e);
      }
    },
    async subscribe(s: SubscribeOptions) {
      try {
        return nativeConsumer(await client.subscribe({
          topic: s.topic, subscription: s.subscription, subscriptionType: s.type ?? 'Exclusive',
          subscriptionInitialPosition: s.initialPosition === 'earliest' ? 'Earliest' : 'Latest',
          ...(s.receiverQueueSize ? { receiverQueueSize: s.receiverQueueSize } : {}),
          ...(s.schema ? { schema: nativeSchema(s.schema) } : {}),
          ...(s.nackRedeliveryDelayMs ? { nAckRedeliverTimeoutMs: s.nackRedeliveryDelayMs } : {}),
          ...(s.consumerName ? { consumerName: s.consumerName } : {}),
        }));
      } catch (e) {
        throw wrapError(e);
      }
    },
    async getSchema() {
      throw new PulsarError('NotSupported', 'the pulsar-client binding cannot fetch schemas; use the relevo client');
    },
    async close() {
      await client.close();
    },
  };
}

/** The official client if its native binding loads here, else why it does not. */
export async function loadNativeClient(
  o: ClientOptions = { serviceUrl: 'pulsar://127.0.0.1:6650' },
): Promise<PulsarClient | { unavailable: string }> {
  const name = 'pulsar-client';
  let mod: NativeModule;
  try {
    const loaded = (await import(name)) as { default?: NativeModule } & NativeModule;
    mod = loaded.default ?? loaded;
  } catch (e) {
    return { unavailable: `pulsar-client does not load: ${(e as Error).message.split('\n')[0]}` };
  }
  return nativeClient(mod, o);
}
