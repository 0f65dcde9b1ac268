// One subscription's receive loop: up to `concurrency` messages are handled at once, each
// acknowledged after its handler ran. Messages with the same key (the partner id the relay
// sets as partition key) are handled one after another, in the order the broker delivered
// them: the subscription is Key_Shared, so across consumer processes too a key's messages go
// to one of them, in order. A handler that throws gets its message back after nackDelayMs, in
// place, holding its key's later messages behind it; once it has failed maxRedeliveries
// times (the broker's redeliveries of it counted too) it goes to the consumer's dead-letter
// topic, with the error attached as a property, and is acknowledged — unless it failed on the
// database connection (transient.ts): that is retried for as long as it takes. stop() lets
// in-flight messages finish and be acknowledged before the subscription closes; a message
// still waiting for its retry is left for the broker to deliver again.
import { formatMessageId, PulsarError, type Consumer, type Message, type Producer, type PulsarClient } from '@relevo/pulsar';
import { SpanKind, context, contextFromHeaders, endSpanWithError, startSpan, trace, type Logger } from '@relevo/runtime';
import type { ConsumerMetrics } from './metrics.ts';
import { isTransientDatabaseError } from './transient.ts';
import { schemaVersionOf } from './writer-schemas.ts';

export interface HandleResult {
  /** Event type for metrics ('unknown' when the message did not decode). */
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
  readonly open: boolean;
  stop(): Promise<void>;
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
    // Key_Shared: several consumer processes may split the work, and each key (partner) goes
    // to one of them, in order. Shared would hand a partner's next event to another process
    // while the one before it is still being handled; Failover keeps order but has the broker
    // count no redeliveries (the dead-letter rule needs them) and rewinds on every nack.
    type: 'Key_Shared',
    initialPosition: 'earliest',
    receiverQueueSize: Math.max(100, o.concurrency * 50),
    nackRedeliveryDelayMs: o.nackDelayMs,
    consumerName: `relevo-${spec.name}-${process.pid}`,
  });
  let dlq: Promise<Producer> | undefined;
  let stopping = false;
  let open = true;

  const deadLetter = async (message: Message, err: Error, redeliveries: number): Promise<void> => {
    dlq ??= o.client.createProducer({ topic: spec.deadLetterTopic, batching: false, sendTimeoutMs: 30_000 });
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
        [DLQ_PROPERTIES.redeliveries]: String(redeliveries),
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

  /** Resolves after ms, or at once when stop() is called. */
  let wakeSleepers: Array<() => void> = [];
  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      wakeSleepers = wakeSleepers.filter((w) => w !== done);
      resolve();
    }
    wakeSleepers.push(done);
  });

  /**
   * Handles one message until it is acknowledged or dead-lettered, retrying it in place, so
   * its key's later messages (waiting behind it) keep their order. Never throws. Says what
   * became of it.
   */
  const one = async (message: Message): Promise<Delivery> => {
    const receivedAt = new Date();
    const type = () => message.properties.ce_type ?? 'unknown';
    metrics.inFlight(spec.name, 1);
    try {
      // The broker's redeliveries of this message, then this process's retries of it.
      let redeliveries = message.redeliveryCount;
      for (;;) {
        let result: HandleResult;
        try {
          result = await spec.handle(message, receivedAt);
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          const transient = isTransientDatabaseError(error);
          if (transient || redeliveries < o.maxRedeliveries) {
            metrics.handled(spec.name, shortTopic(spec.topic), type(), 'retry');
            log.warn({ err: error, consumer: spec.name, messageId: formatMessageId(message.messageId), redeliveryCount: redeliveries },
              transient ? 'database unavailable; the message will be retried (not counted towards dead-lettering)' : 'message failed; it will be retried');
            if (!transient) redeliveries++;
            if (!stopping) await pause(o.nackDelayMs);
            // Stopping: left unacknowledged, it is delivered again once the subscription is
            // closed, before its key's later messages (held unacknowledged behind it).
            if (stopping) return { outcome: 'retry', error };
            continue;
          }
          if (await spec.wasDeadLettered?.(message)) {
            metrics.handled(spec.name, shortTopic(spec.topic), type(), 'duplicate');
            await settle(message);
            return { outcome: 'duplicate' };
          }
          await deadLetter(message, error, redeliveries);
          await spec.onDeadLettered?.(message, error);
          metrics.deadLettered(spec.name, shortTopic(spec.topic));
          metrics.handled(spec.name, shortTopic(spec.topic), type(), 'dead_lettered');
          log.error({ err: error, consumer: spec.name, messageId: formatMessageId(message.messageId), redeliveryCount: redeliveries,
            deadLetterTopic: spec.deadLetterTopic }, 'message failed after its redeliveries: sent to the dead-letter topic');
          await settle(message);
          return { outcome: 'dead_lettered', error };
        }
        metrics.handled(spec.name, shortTopic(spec.topic), result.type, result.outcome);
        if (result.eventTime !== undefined) {
          metrics.latency(spec.name, shortTopic(spec.topic), result.type, (receivedAt.getTime() - result.eventTime) / 1000);
        }
        await settle(message);
        return { outcome: result.outcome };
      }
    } catch (err) {
      // Dead-lettering itself failed (broker down?): leave it for a later redelivery.
      log.error({ err, consumer: spec.name, messageId: formatMessageId(message.messageId) }, 'could not settle the message; it will be redelivered');
      consumer.nack(message);
      return { outcome: 'unsettled', error: err };
    } finally {
      metrics.inFlight(spec.name, -1);
    }
  };

  // Up to `concurrency` messages taken from the consumer at once. A message whose key has one
  // in hand already waits for it (its slot held), and is handled once that one is settled:
  // the messages of one key form a chain, the chain's tail kept here until it is settled.
  // Unkeyed messages (an external producer that sets no key) are in no chain.
  const tails = new Map<string, Promise<void>>();
  const inHand = new Set<Promise<void>>();
  let free = o.concurrency;
  let slotFreed: (() => void) | undefined;
  const release = () => {
    free++;
    slotFreed?.();
  };

  const dispatch = async (): Promise<void> => {
    while (!stopping) {
      if (free === 0) {
        await new Promise<void>((resolve) => { slotFreed = resolve; });
        slotFreed = undefined;
        continue;
      }
      let message: Message;
      try {
        message = await consumer.receive(RECEIVE_POLL_MS);
      } catch (err) {
        if (err instanceof PulsarError && err.code === 'Timeout') continue;
        if (err instanceof PulsarError && err.code === 'AlreadyClosed') return;
        log.error({ err, consumer: spec.name }, 'receive failed');
        await pause(500);
        continue;
      }
      free--;
      const key = message.partitionKey;
      const before = key === undefined ? undefined : tails.get(key);
      // A message that was waiting when stop() came is left unacknowledged: the broker delivers it again.
      const run: Promise<void> = (before ?? Promise.resolve())
        .then(() => (stopping ? undefined : traced(message)))
        .finally(() => {
          if (key !== undefined && tails.get(key) === run) tails.delete(key);
          inHand.delete(run);
          release();
        });
      if (key !== undefined) tails.set(key, run);
      inHand.add(run);
    }
  };

  const dispatching = dispatch();
  log.info({ consumer: spec.name, topic: spec.topic, subscription: spec.subscription, deadLetterTopic: spec.deadLetterTopic }, 'consumer subscribed');

  let stopped: Promise<void> | undefined;
  return {
    name: spec.name,
    get open() {
      return open && !stopping;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        for (const wake of wakeSleepers) wake();
        slotFreed?.();
        // Each message being handled is finished (and acknowledged); prefetched ones, and those
        // waiting behind one of their key, stay unacknowledged and the broker delivers them again.
        await dispatching;
        while (inHand.size > 0) await Promise.all([...inHand]);
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
