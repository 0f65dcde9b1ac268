// The producers of one drain run: one per topic, all opened when the run starts, never in
// the middle of it. Each one's answer to "what do you hold for this name?" is the floor the
// run's rows in hand are judged by; a producer opened later could reveal a floor above
// sequences the run has already handed out.
import { PulsarError, isRetriable, type OutgoingMessage, type Producer, type SendReceipt } from '@relevo/pulsar';
import type { Logger } from '@relevo/runtime';
import { BrokerUnavailableError, FenceLostError, ShardBusyError } from './errors.ts';
import type { ProducerPool } from './producers.ts';

type TopicProducer = { producer: Producer } | { refused: unknown };

export class RunProducers {
  private readonly byTopic: Map<string, TopicProducer>;
  private readonly shard: number;
  private readonly current: () => boolean;

  private constructor(shard: number, byTopic: Map<string, TopicProducer>, current: () => boolean) {
    this.shard = shard;
    this.byTopic = byTopic;
    this.current = current;
  }

  /**
   * Opens (or reuses) the shard's producer of every topic. A topic the broker refuses (schema,
   * authorization) is recorded as refused: its rows fail for this run. An unreachable broker or
   * a name another relay holds ends the run before anything is taken.
   */
  static async open(pool: ProducerPool, shard: number, topics: readonly string[], log: Logger, current: () => boolean): Promise<RunProducers> {
    const byTopic = new Map<string, TopicProducer>();
    for (const topic of topics) {
      try {
        byTopic.set(topic, { producer: await pool.producer(topic, shard) });
      } catch (err) {
        if (err instanceof PulsarError && err.code === 'ProducerBusy') {
          throw new ShardBusyError(`shard ${shard}: producer for ${topic} is held by another relay`);
        }
        if (isRetriable(err)) throw new BrokerUnavailableError(`shard ${shard}: no producer for ${topic}: ${describeError(err)}`, { cause: err });
        log.error({ err, shard, topic }, 'cannot create producer; rows for this topic fail and back off, rows in hand wait');
        byTopic.set(topic, { refused: err });
      }
    }
    return new RunProducers(shard, byTopic, current);
  }

  /** The topic's producer, or throws why there is none (an unknown topic, a refused producer). */
  producerFor(topic: string): Producer {
    const p = this.byTopic.get(topic);
    if (!p) throw new PulsarError('TopicNotFound', `shard ${this.shard} has no producer for topic ${topic}`);
    if ('refused' in p) throw p.refused;
    return p.producer;
  }

  /**
   * The highest sequence id the broker holds where this row goes (its topic, and its
   * partition on a partitioned topic); undefined when that cannot be known.
   */
  floorOf(row: { topic: string; aggregate_id: string }): bigint | undefined {
    const p = this.byTopic.get(row.topic);
    if (!p || !('producer' in p)) return undefined;
    return p.producer.lastSequenceIdOf(p.producer.partitionFor(row.aggregate_id));
  }

  /** The highest sequence id the broker holds for any of the run's producers, -1n if none. */
  highestFloor(): bigint {
    let max = -1n;
    for (const p of this.byTopic.values()) if ('producer' in p && p.producer.lastSequenceId > max) max = p.producer.lastSequenceId;
    return max;
  }

  /** A run fenced off (as stalled) sends nothing more, whatever it was doing when it was. */
  send(producer: Producer, message: OutgoingMessage): Promise<SendReceipt> {
    if (!this.current()) return Promise.reject(new FenceLostError(`shard ${this.shard}: this run was fenced off as stalled`));
    return producer.send(message);
  }

  /** Sends what the producers batched now instead of after their batching delay. */
  flush(producers: Iterable<Producer>): void {
    for (const p of new Set(producers)) void p.flush();
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return 'code' in err && err.code ? `${String(err.code)}: ${err.message}` : err.message;
  return String(err);
}
