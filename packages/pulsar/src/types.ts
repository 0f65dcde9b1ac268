// The public contract of @relevo/pulsar; the relay and the native adapter implement/consume exactly this.
export interface MessageId {
  ledgerId: bigint;
  entryId: bigint;
  partition: number;
  batchIndex: number;
  batchSize?: number;
}

export interface SchemaInfo {
  type: 'AVRO' | 'JSON' | 'BYTES' | 'STRING' | 'NONE';
  /** Avro JSON text for AVRO (and JSON, whose Pulsar definition is also Avro). */
  schema: string;
  name?: string;
  properties?: Record<string, string>;
}

export interface OutgoingMessage {
  payload: Uint8Array;
  sequenceId?: bigint;
  partitionKey?: string;
  /** Milliseconds since the epoch. */
  eventTime?: number;
  properties?: Record<string, string>;
  orderingKey?: Uint8Array;
}

export interface SendReceipt {
  messageId: MessageId;
  sequenceId: bigint;
}

export interface Producer {
  readonly topic: string;
  readonly producerName: string;
  /**
   * The highest sequence id the broker is known to have from this producer name (-1n if
   * none): from the latest PRODUCER_SUCCESS, raised by each receipt since. On a partitioned
   * topic, the highest of its partitions' (lastSequenceIdOf says each one's).
   */
  readonly lastSequenceId: bigint;
  /**
   * The partition a message with this partitionKey is sent to: Java's String.hashCode of the
   * key, sign bit cleared, modulo the partition count, as the Java client's default router
   * (`HashingScheme.JavaStringHash`) does, so producers of either client agree. -1 when the
   * topic is not partitioned.
   */
  partitionFor(key: string): number;
  /**
   * lastSequenceId of one partition (what the broker holds from this producer name there), or
   * of the topic itself with -1 when it is not partitioned. Deduplication is per partition:
   * a sequence id at or below this is dropped on that partition, whatever the others hold.
   * Undefined when the client cannot tell (the native adapter).
   */
  lastSequenceIdOf(partition: number): bigint | undefined;
  readonly schemaVersion: Uint8Array | undefined;
  /** The largest payload the broker takes (messageTooBig tells before a send is tried). */
  readonly maxMessageSize: number;
  /** Resolves on SEND_RECEIPT. When maxPendingMessages are in flight the message waits, in order, for room. */
  send(msg: OutgoingMessage): Promise<SendReceipt>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface Message {
  topic: string;
  messageId: MessageId;
  payload: Uint8Array;
  properties: Record<string, string>;
  partitionKey?: string;
  eventTime?: number;
  publishTime: number;
  sequenceId: bigint;
  producerName: string;
  schemaVersion?: Uint8Array;
  redeliveryCount: number;
  /**
   * Set when the broker delivered an entry this client cannot read (a checksum that does not
   * match, a batch whose counts or sizes do not fit its bytes, an unsupported compression): why.
   * The payload is then the entry's raw bytes and the id names the whole entry (batchIndex -1).
   * The broker delivers it again on every reconnect until it is acknowledged, so a consumer
   * dead-letters (or drops) it and acks it.
   */
  malformed?: string;
}

export interface Consumer {
  /** True while every partition's subscription is established (false while reconnecting or after a fatal refusal). */
  readonly connected: boolean;
  /** Rejects with TimeoutError (code 'Timeout') when nothing arrives in time. */
  receive(timeoutMs?: number): Promise<Message>;
  [Symbol.asyncIterator](): AsyncIterator<Message>;
  ack(m: Message | MessageId): Promise<void>;
  ackCumulative(m: Message | MessageId): Promise<void>;
  nack(m: Message | MessageId): void;
  close(): Promise<void>;
}

export type SubscriptionType = 'Exclusive' | 'Shared' | 'Failover' | 'Key_Shared';

export interface ProducerOptions {
  topic: string;
  producerName?: string;
  schema?: SchemaInfo;
  batching?: { maxMessages: number; maxDelayMs: number; maxBytes?: number } | false;
  maxPendingMessages?: number;
  /** 0 disables the timeout: pending messages then wait for the broker indefinitely. */
  sendTimeoutMs?: number;
}

export interface SubscribeOptions {
  topic: string;
  subscription: string;
  type?: SubscriptionType;
  initialPosition?: 'latest' | 'earliest';
  receiverQueueSize?: number;
  schema?: SchemaInfo;
  nackRedeliveryDelayMs?: number;
  consumerName?: string;
}

export interface PulsarClient {
  createProducer(o: ProducerOptions): Promise<Producer>;
  subscribe(o: SubscribeOptions): Promise<Consumer>;
  getSchema(topic: string, version?: Uint8Array): Promise<SchemaInfo | undefined>;
  close(): Promise<void>;
}

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ClientOptions {
  /** pulsar://host:port or pulsar+ssl://host:port (a comma-separated host list is accepted). */
  serviceUrl: string;
  token?: string | (() => Promise<string>);
  /**
   * Send the token over pulsar:// (clear text) too. Off by default: without it a token is only
   * sent over TLS, and a connection that would carry it in clear text fails with InsecureToken.
   */
  allowInsecureToken?: boolean;
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  operationTimeoutMs?: number;
  connectionTimeoutMs?: number;
  logger?: Logger;
}
