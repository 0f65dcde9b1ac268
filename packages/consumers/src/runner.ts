// One subscription's receive loop: a few workers take messages, run the consumer's handler,
// then acknowledge. A handler that throws gets the message back later (nack); once it has
// been redelivered maxRedeliveries times it goes to the consumer's dead-letter topic, with
// the error attached as a property, and is acknowledged — unless it failed on the database
// connection (transient.ts): that is redelivered for as long as it takes. A message the client
// could not read at all (Message.malformed) is dead-lettered at once: no redelivery can change
// it. Once a message's dead-letter copy is sent it is acknowledged, even when recording that in
// the database fails, so a message never produces a second copy every redelivery
// (test/consumers/hostile-protocol.test.ts, hostile-avro.test.ts). stop() lets in-flight
// messages finish and be acknowledged before the subscription closes.
import { formatMessageId, PulsarError, type Consumer, type Message, type Producer, type PulsarClient } from '@relevo/pulsar';
import { SpanKind, context, contextFromHeaders, endSpanWithError, startSpan, trace, type Logger } from '@relevo/runtime';
import { openDeadLetterProducer } from './dead-letters.ts';
import type { ConsumerMetrics } from './metrics.ts';
import { isTransientDatabaseError } from './transient.ts';
import { schemaVersionOf } from './writer-schemas.ts';

export interface HandleResult {
  /** Event type, for metrics (reported as 'other' unless it is one of the spec's eventTypes). */
  type: string;
  outcome: string;
  /** The envelope's time (epoch ms) for the event → receipt latency. */
  eventTime?: number;
}

export interface ConsumerSpec {
  name: string;
  /** Full topic URL (persistent://tenant/ns/topic). */
  topic: string;
  subscription: string;
  /** Full topic URL of the dead-letter topic. */
  deadLetterTopic: string;
  /**
   * The event types the consumer knows: only these name a metric's `type` label, anything else
   * a message says it is counts as 'other', so a producer cannot create series at will.
   */
  eventTypes: ReadonlySet<string>;
  handle(message: Message, receivedAt: Date): Promise<HandleResult>;
  /** Called after a message went to the dead-letter topic, before it is acknowledged. */
  onDeadLettered?(message: Message, error: Error): Promise<void>;
  /**
   * True when this very message (same broker message id) was already dead-lettered and only
   * its acknowledgement was lost: it is acknowledged without a second dead-letter copy.
   */
  wasDeadLettered?(message: Message): Promise<boolean>;
}

/** What became of one delivery: the handler's outcome, or why it was handed back. */
interface Delivery {
  outcome: string;
  error?: unknown;
}

/** For tests: return false to nack a handled message instead of acknowledging it (a lost ack). */
export type BeforeAck = (info: { consumer: string; message: Message }) => boolean | Promise<boolean>;

export interface RunnerOptions {
  client: PulsarClient;
  spec: ConsumerSpec;
  log: Logger;
  metrics: ConsumerMetrics;
  maxRedeliveries: number;
  nackDelayMs: number;
  concurrency: number;
  beforeAck?: BeforeAck;
}

export interface Runner {
  readonly name: string;
  /** True while the subscription is established: not while it reconnects, is refused, or stops. */
  readonly subscribed: boolean;
  stop(): Promise<void>;
}

/** A message the Pulsar client could not read (its checksum, batch counts or compression). */
export class MalformedMessageError extends Error {
  readonly code = 'MALFORMED_MESSAGE';
  constructor(reason: string) {
    super(`the message cannot be read: ${reason}`);
    this.name = 'MalformedMessageError';
  }
}

export const DLQ_PROPERTIES = {
  error: 'relevo_dlq_error',
  topic: 'relevo_dlq_original_topic',
  messageId: 'relevo_dlq_original_message_id',
  subscription: 'relevo_dlq_subscription',
  redeliveries: 'relevo_dlq_redelivery_count',
  schemaVersion: 'relevo_dlq_schema_version',
  at: 'relevo_dlq_at',
} as const;

const RECEIVE_POLL_MS = 250;
const MAX_ERROR_LENGTH = 2_000;

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const text = `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`;
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

export async function startRunner(o: RunnerOptions): Promise<Runner> {
  const { spec, log, metrics } = o;
  const consumer: Consumer = await o.client.subscribe({
    topic: spec.topic,
    subscription: spec.subscription,
    // Shared: a nack redelivers that one message (and the broker counts its redeliveries),
    // and several consumers processes may split the work.
    type: 'Shared',
    initialPosition: 'earliest',
    receiverQueueSize: Math.max(100, o.concurrency * 50),
    nackRedeliveryDelayMs: o.nackDelayMs,
    consumerName: `relevo-${spec.name}-${process.pid}`,
  });
  let dlq: Promise<Producer> | undefined;
  let stopping = false;
  let open = true;
  const typeLabel = (type: string | undefined) => (type !== undefined && spec.eventTypes.has(type) ? type : 'other');

  const deadLetter = async (message: Message, err: Error): Promise<void> => {
    dlq ??= openDeadLetterProducer(o.client, spec.deadLetterTopic);
    dlq.catch(() => { dlq = undefined; });
    const producer = await dlq;
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
        [DLQ_PROPERTIES.subscription]: spec.subscription,
        [DLQ_PROPERTIES.redeliveries]: String(message.redeliveryCount),
        ...(version ? { [DLQ_PROPERTIES.schemaVersion]: version } : {}),
        [DLQ_PROPERTIES.at]: new Date().toISOString(),
      },
    });
  };

  const settle = async (message: Message): Promise<void> => {
    if (o.beforeAck && !(await o.beforeAck({ consumer: spec.name, message }))) {
      consumer.nack(message);
      return;
    }
    // A lost ack is harmless: the message comes back and its handler sees a duplicate.
    await consumer.ack(message).catch((err: unknown) =>
      log.warn({ err, consumer: spec.name, messageId: formatMessageId(message.messageId) }, 'ack failed; the message will be redelivered'));
  };

  // A consumer span per delivery, child of the relay's send span named by the message's
  // traceparent; the handler runs inside it so spans it starts nest under it.
  const traced = async (message: Message): Promise<void> => {
    const parent = contextFromHeaders(message.properties);
    const span = startSpan(`process ${shortTopic(spec.topic)}`, SpanKind.CONSUMER, parent, {
      'messaging.system': 'pulsar',
      'messaging.operation.type': 'process',
      'messaging.destination.name': spec.topic,
      'messaging.consumer.group.name': spec.subscription,
      'messaging.message.id': formatMessageId(message.messageId),
      'messaging.pulsar.redelivery_count': message.redeliveryCount,
      'relevo.consumer': spec.name,
      ...(message.properties.ce_id ? { 'cloudevents.event_id': message.properties.ce_id } : {}),
      ...(message.properties.ce_type ? { 'cloudevents.event_type': message.properties.ce_type } : {}),
    });
    const delivery = await context.with(trace.setSpan(parent, span), () => one(message));
    span.setAttribute('relevo.outcome', delivery.outcome);
    if (delivery.error === undefined) span.end();
    else endSpanWithError(span, delivery.error);
  };

  /**
   * Sends the message to the dead-letter topic, records that, and acknowledges it. Once the copy
   * is sent, a failure to record it is logged, not retried: a redelivery would send another copy.
   */
  const deadLettered = async (message: Message, error: Error, type: string): Promise<Delivery> => {
    if (await spec.wasDeadLettered?.(message)) {
      metrics.handled(spec.name, shortTopic(spec.topic), type, 'duplicate');
      await settle(message);
      return { outcome: 'duplicate' };
    }
    await deadLetter(message, error);
    await spec.onDeadLettered?.(message, error).catch((err: unknown) =>
      log.error({ err, consumer: spec.name, messageId: formatMessageId(message.messageId) },
        'the message is on the dead-letter topic, but recording that failed; it is acknowledged all the same'));
    metrics.deadLettered(spec.name, shortTopic(spec.topic));
    metrics.handled(spec.name, shortTopic(spec.topic), type, 'dead_lettered');
    log.error({ err: error, consumer: spec.name, messageId: formatMessageId(message.messageId), redeliveryCount: message.redeliveryCount,
      deadLetterTopic: spec.deadLetterTopic }, message.malformed === undefined
      ? 'message failed after its redeliveries: sent to the dead-letter topic'
      : 'message cannot be read: sent to the dead-letter topic');
    await settle(message);
    return { outcome: 'dead_lettered', error };
  };

  /** Handles, acknowledges or hands back one message; never throws. Says what became of it. */
  const one = async (message: Message): Promise<Delivery> => {
    const receivedAt = new Date();
    metrics.inFlight(spec.name, 1);
    try {
      if (message.malformed !== undefined) return await deadLettered(message, new MalformedMessageError(message.malformed), 'other');
      let result: HandleResult;
      try {
        result = await spec.handle(message, receivedAt);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const type = typeLabel(message.properties.ce_type);
        if (isTransientDatabaseError(error)) {
          metrics.handled(spec.name, shortTopic(spec.topic), type, 'retry');
          log.warn({ err: error, consumer: spec.name, messageId: formatMessageId(message.messageId), redeliveryCount: message.redeliveryCount },
            'database unavailable; the message will be redelivered (not counted towards dead-lettering)');
          consumer.nack(message);
          return { outcome: 'retry', error };
        }
        if (message.redeliveryCount < o.maxRedeliveries) {
          metrics.handled(spec.name, shortTopic(spec.topic), type, 'retry');
          log.warn({ err: error, consumer: spec.name, messageId: formatMessageId(message.messageId), redeliveryCount: message.redeliveryCount },
            'message failed; it will be redelivered');
          consumer.nack(message);
          return { outcome: 'retry', error };
        }
        return await deadLettered(message, error, type);
      }
      const type = typeLabel(result.type);
      metrics.handled(spec.name, shortTopic(spec.topic), type, result.outcome);
      if (result.eventTime !== undefined) {
        metrics.latency(spec.name, shortTopic(spec.topic), type, (receivedAt.getTime() - result.eventTime) / 1000);
      }
      await settle(message);
      return { outcome: result.outcome };
    } catch (err) {
      // Dead-lettering itself failed (broker down?): leave it for a later redelivery.
      log.error({ err, consumer: spec.name, messageId: formatMessageId(message.messageId) }, 'could not settle the message; it will be redelivered');
      consumer.nack(message);
      return { outcome: 'unsettled', error: err };
    } finally {
      metrics.inFlight(spec.name, -1);
    }
  };

  const worker = async (): Promise<void> => {
    while (!stopping) {
      let message: Message;
      try {
        message = await consumer.receive(RECEIVE_POLL_MS);
      } catch (err) {
        if (err instanceof PulsarError && err.code === 'Timeout') continue;
        if (err instanceof PulsarError && err.code === 'AlreadyClosed') return;
        log.error({ err, consumer: spec.name }, 'receive failed');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      await traced(message);
    }
  };

  const workers = Array.from({ length: o.concurrency }, () => worker());
  log.info({ consumer: spec.name, topic: spec.topic, subscription: spec.subscription, deadLetterTopic: spec.deadLetterTopic }, 'consumer subscribed');

  let stopped: Promise<void> | undefined;
  return {
    name: spec.name,
    get subscribed() {
      return open && !stopping && consumer.connected;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        // Each worker finishes (and acknowledges) the message in its hands; prefetched
        // messages stay unacknowledged and the broker delivers them again.
        await Promise.all(workers);
        await consumer.close();
        open = false;
        if (dlq) await (await dlq.catch(() => undefined))?.close().catch(() => undefined);
        log.info({ consumer: spec.name }, 'consumer stopped');
      })();
      return stopped;
    },
  };
}

export function shortTopic(topicUrl: string): string {
  return topicUrl.slice(topicUrl.lastIndexOf('/') + 1);
}
