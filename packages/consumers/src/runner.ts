// One subscription's receive loop. Up to `concurrency` messages are handled at once (KeyChains),
// those with the same key (the partner id the relay sets as partition key) one after another,
// in the order the broker delivered them; what becomes of each is Deliveries' to decide. The
// subscription is Key_Shared, so across consumer processes too a key's messages go to one of
// them, in order. stop() lets the messages in hand finish and be acknowledged before the
// subscription closes; prefetched ones, and those waiting behind one of their key, stay
// unacknowledged and the broker delivers them again.
import { formatMessageId, PulsarError, type Consumer, type Message, type PulsarClient } from '@relevo/pulsar';
import { SpanKind, context, contextFromHeaders, endSpanWithError, startSpan, trace, type Logger } from '@relevo/runtime';
import { DeadLetterPublisher } from './dead-letters.ts';
import { Deliveries, shortTopic } from './delivery.ts';
import { KeyChains, Pauses } from './key-chains.ts';
import type { ConsumerMetrics } from './metrics.ts';

export { DLQ_PROPERTIES } from './dead-letters.ts';
export { MalformedMessageError, shortTopic } from './delivery.ts';

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

const RECEIVE_POLL_MS = 250;

export async function startRunner(o: RunnerOptions): Promise<Runner> {
  const { spec, log } = o;
  const consumer: Consumer = await o.client.subscribe({
    topic: spec.topic,
    subscription: spec.subscription,
    // Key_Shared: each partner's messages go to one consumer, in order, and a nack redelivers
    // that one message (the broker counts its redeliveries). Shared would hand a partner's next
    // message to another process while the one before it is still being handled; Failover keeps
    // order but has the broker count no redeliveries (the dead-letter rule needs them) and
    // rewinds on every nack.
    type: 'Key_Shared',
    initialPosition: 'earliest',
    receiverQueueSize: Math.max(100, o.concurrency * 50),
    nackRedeliveryDelayMs: o.nackDelayMs,
    consumerName: `relevo-${spec.name}-${process.pid}`,
  });
  const deadLetters = new DeadLetterPublisher(o.client, spec.deadLetterTopic, spec.subscription);
  const chains = new KeyChains(o.concurrency);
  const pauses = new Pauses();
  let stopping = false;
  let open = true;

  const deliveries = new Deliveries({
    spec, log, metrics: o.metrics, deadLetters, maxRedeliveries: o.maxRedeliveries, nackDelayMs: o.nackDelayMs,
    pause: (ms) => pauses.sleep(ms),
    stopping: () => stopping,
    handBack: (message) => consumer.nack(message),
    async settle(message) {
      if (o.beforeAck && !(await o.beforeAck({ consumer: spec.name, message }))) {
        consumer.nack(message);
        return;
      }
      // A lost ack is harmless: the message comes back and its handler sees a duplicate.
      await consumer.ack(message).catch((err: unknown) =>
        log.warn({ err, consumer: spec.name, messageId: formatMessageId(message.messageId) }, 'ack failed; the message will be redelivered'));
    },
  });

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
    const delivery = await context.with(trace.setSpan(parent, span), () => deliveries.deliver(message));
    span.setAttribute('relevo.outcome', delivery.outcome);
    if (delivery.error === undefined) span.end();
    else endSpanWithError(span, delivery.error);
  };

  const dispatch = async (): Promise<void> => {
    while (await chains.slot(() => stopping)) {
      let message: Message;
      try {
        message = await consumer.receive(RECEIVE_POLL_MS);
      } catch (err) {
        if (err instanceof PulsarError && err.code === 'Timeout') continue;
        if (err instanceof PulsarError && err.code === 'AlreadyClosed') return;
        log.error({ err, consumer: spec.name }, 'receive failed');
        await pauses.sleep(500);
        continue;
      }
      // A message that was waiting behind its key when stop() came is left unacknowledged: the broker delivers it again.
      chains.run(message.partitionKey, async () => {
        if (!stopping) await traced(message);
      });
    }
  };

  const dispatching = dispatch();
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
        pauses.wakeAll();
        chains.wake();
        await dispatching;
        await chains.settled();
        await consumer.close();
        open = false;
        await deadLetters.close();
        log.info({ consumer: spec.name }, 'consumer stopped');
      })();
      return stopped;
    },
  };
}
