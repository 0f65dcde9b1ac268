// What becomes of one delivered message. Its handler runs; success is acknowledged. A handler
// that throws runs again after nackDelayMs, in place, so its key's later messages keep waiting
// behind it; once it has failed maxRedeliveries times (the broker's redeliveries of it counted
// too) it goes to the dead-letter topic and is acknowledged — unless it failed on the database
// connection (transient.ts): that is retried for as long as it takes. A message the client
// could not read at all (Message.malformed) is dead-lettered at once: no retry can change it.
// Once a dead-letter copy is sent the message is acknowledged, even when recording that in the
// database fails, so it never produces a second copy (test/consumers/hostile-protocol.test.ts,
// hostile-avro.test.ts, order.test.ts).
import { formatMessageId, type Message } from '@relevo/pulsar';
import type { Logger } from '@relevo/runtime';
import type { DeadLetterPublisher } from './dead-letters.ts';
import type { ConsumerMetrics } from './metrics.ts';
import type { ConsumerSpec, HandleResult } from './runner.ts';
import { isTransientDatabaseError } from './transient.ts';

/** What became of one delivery: the handler's outcome, or why it was handed back. */
export interface Delivery {
  outcome: string;
  error?: unknown;
}

/** A message the Pulsar client could not read (its checksum, batch counts or compression). */
export class MalformedMessageError extends Error {
  readonly code = 'MALFORMED_MESSAGE';
  constructor(reason: string) {
    super(`the message cannot be read: ${reason}`);
    this.name = 'MalformedMessageError';
  }
}

/** A topic URL's last part, as metrics label it. */
export function shortTopic(topicUrl: string): string {
  return topicUrl.slice(topicUrl.lastIndexOf('/') + 1);
}

export interface DeliveryDeps {
  spec: ConsumerSpec;
  log: Logger;
  metrics: ConsumerMetrics;
  deadLetters: DeadLetterPublisher;
  maxRedeliveries: number;
  nackDelayMs: number;
  /** Acknowledges (or, in tests, hands back) a settled message. */
  settle(message: Message): Promise<void>;
  /** Hands a message back to the broker for later. */
  handBack(message: Message): void;
  pause(ms: number): Promise<void>;
  stopping(): boolean;
}

export class Deliveries {
  private readonly d: DeliveryDeps;
  private readonly topic: string;

  constructor(deps: DeliveryDeps) {
    this.d = deps;
    this.topic = shortTopic(deps.spec.topic);
  }

  /** A metric's `type` label: one of the consumer's event types, else 'other' (no producer makes series at will). */
  private typeLabel(type: string | undefined): string {
    return type !== undefined && this.d.spec.eventTypes.has(type) ? type : 'other';
  }

  /** Handles one message until it is acknowledged, dead-lettered or handed back. Never throws. */
  async deliver(message: Message): Promise<Delivery> {
    const { spec, log, metrics } = this.d;
    const receivedAt = new Date();
    metrics.inFlight(spec.name, 1);
    try {
      if (message.malformed !== undefined) return await this.deadLettered(message, new MalformedMessageError(message.malformed), 'other', message.redeliveryCount);
      // The broker's redeliveries of this message, then this process's retries of it.
      let redeliveries = message.redeliveryCount;
      for (;;) {
        let result: HandleResult;
        try {
          result = await spec.handle(message, receivedAt);
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          const type = this.typeLabel(message.properties.ce_type);
          const transient = isTransientDatabaseError(error);
          if (!transient && redeliveries >= this.d.maxRedeliveries) return await this.deadLettered(message, error, type, redeliveries);
          metrics.handled(spec.name, this.topic, type, 'retry');
          log.warn({ err: error, consumer: spec.name, messageId: formatMessageId(message.messageId), redeliveryCount: redeliveries },
            transient ? 'database unavailable; the message will be retried (not counted towards dead-lettering)' : 'message failed; it will be retried');
          if (!transient) redeliveries++;
          if (!this.d.stopping()) await this.d.pause(this.d.nackDelayMs);
          // Stopping: left unacknowledged, it is delivered again once the subscription is
          // closed, before its key's later messages (held unacknowledged behind it).
          if (this.d.stopping()) return { outcome: 'retry', error };
          continue;
        }
        const type = this.typeLabel(result.type);
        metrics.handled(spec.name, this.topic, type, result.outcome);
        if (result.eventTime !== undefined) metrics.latency(spec.name, this.topic, type, (receivedAt.getTime() - result.eventTime) / 1000);
        await this.d.settle(message);
        return { outcome: result.outcome };
      }
    } catch (err) {
      // Dead-lettering itself failed (broker down?): leave it for a later redelivery.
      log.error({ err, consumer: spec.name, messageId: formatMessageId(message.messageId) }, 'could not settle the message; it will be redelivered');
      this.d.handBack(message);
      return { outcome: 'unsettled', error: err };
    } finally {
      metrics.inFlight(spec.name, -1);
    }
  }

  /**
   * Sends the message to the dead-letter topic, records that, and acknowledges it. Once the copy
   * is sent, a failure to record it is logged, not retried: a redelivery would send another copy.
   */
  private async deadLettered(message: Message, error: Error, type: string, redeliveries: number): Promise<Delivery> {
    const { spec, log, metrics } = this.d;
    if (await spec.wasDeadLettered?.(message)) {
      metrics.handled(spec.name, this.topic, type, 'duplicate');
      await this.d.settle(message);
      return { outcome: 'duplicate' };
    }
    await this.d.deadLetters.publish(message, error, redeliveries);
    await spec.onDeadLettered?.(message, error).catch((err: unknown) =>
      log.error({ err, consumer: spec.name, messageId: formatMessageId(message.messageId) },
        'the message is on the dead-letter topic, but recording that failed; it is acknowledged all the same'));
    metrics.deadLettered(spec.name, this.topic);
    metrics.handled(spec.name, this.topic, type, 'dead_lettered');
    log.error({ err: error, consumer: spec.name, messageId: formatMessageId(message.messageId), redeliveryCount: redeliveries,
      deadLetterTopic: spec.deadLetterTopic }, message.malformed === undefined
      ? 'message failed after its redeliveries: sent to the dead-letter topic'
      : 'message cannot be read: sent to the dead-letter topic');
    await this.d.settle(message);
    return { outcome: 'dead_lettered', error };
  }
}
