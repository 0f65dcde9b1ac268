// A consumer on one (non-partitioned or partition) topic. Flow control: receiverQueueSize permits
// up front, refilled once half of them have been handed to the application.
//
// Batch acknowledgement: acking a message that came in a batch is recorded locally, and the entry
// is acknowledged to the broker once every message of the batch has been acked (no broker-side
// batch-index ack needed). Until then the ack resolves immediately; if the consumer goes away first
// the whole batch is redelivered, and entries already acked locally are filtered out of
// redeliveries this consumer sees.
import { retrying } from './backoff.ts';
import { Reconnection, type Reconnectable } from './reconnection.ts';
import type { Connection, ConsumerHandler } from './connection.ts';
import type { ClientContext } from './context.ts';
import { PulsarError, isRetriable, toPulsarError } from './errors.ts';
import type { MessageQueue } from './message-queue.ts';
import { entryKey } from './message-id.ts';
import {
  AckType, SubType, encodeAck, encodeCloseConsumer, encodeFlow, encodeRedeliver, encodeSubscribe,
  type Incoming, type MessageIdData, type SchemaData,
} from './protocol/commands.ts';
import { simpleFrame, type Frame } from './protocol/frame.ts';
import { readEntry, type EntryMetadata } from './protocol/metadata.ts';
import type { Message, MessageId } from './types.ts';

export interface ConsumerConfig {
  topic: string;
  subscription: string;
  subType: number;
  initialPosition: 'latest' | 'earliest';
  receiverQueueSize: number;
  schema?: SchemaData;
  nackDelayMs: number;
  consumerName?: string;
  partition: number;
}

export interface Delivery {
  msg: Message;
  owner: ConsumerImpl;
}

interface BatchTracker {
  ledgerId: bigint;
  entryId: bigint;
  acked: boolean[];
  remaining: number;
}

interface AckWaiter {
  resolve(): void;
  reject(err: PulsarError): void;
}

type State = 'connecting' | 'ready' | 'closing' | 'closed';

const MAX_PERMITS = 2 ** 31 - 1;

function isBefore(aLedger: bigint, aEntry: bigint, bLedger: bigint, bEntry: bigint): boolean {
  return aLedger < bLedger || (aLedger === bLedger && aEntry <= bEntry);
}

export class ConsumerImpl implements ConsumerHandler, Reconnectable {
  private readonly ctx: ClientContext;
  private readonly cfg: ConsumerConfig;
  private readonly queue: MessageQueue<Delivery>;
  private readonly id: number;
  private readonly reconnection = new Reconnection(this);
  private readonly trackers = new Map<string, BatchTracker>();
  private readonly ackWaiters = new Map<number, { waiters: AckWaiter[]; timer: NodeJS.Timeout }>();
  private readonly nacks = new Map<string, { ledgerId: bigint; entryId: bigint; due: number }>();
  /** Malformed entries whose metadata claimed more messages than they hold (see handleMessage). */
  private readonly lyingBatches = new Set<string>();
  private state: State = 'connecting';
  private cnx: Connection | undefined;
  private epoch = 0;
  private permits = 0;
  private queuedAcks: Array<{ id: MessageIdData } & AckWaiter> = [];
  private ackFlushScheduled = false;
  private nackTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  private constructor(ctx: ClientContext, cfg: ConsumerConfig, queue: MessageQueue<Delivery>) {
    this.ctx = ctx;
    this.cfg = cfg;
    this.queue = queue;
    this.id = ctx.nextConsumerId();
  }

  static async create(ctx: ClientContext, cfg: ConsumerConfig, queue: MessageQueue<Delivery>): Promise<ConsumerImpl> {
    const c = new ConsumerImpl(ctx, cfg, queue);
    try {
      await retrying(ctx.operationTimeoutMs, isRetriable, () => c.establish());
    } catch (e) {
      c.state = 'closed';
      throw toPulsarError(e);
    }
    return c;
  }

  private get shared(): boolean {
    return this.cfg.subType === SubType.Shared || this.cfg.subType === SubType.Key_Shared;
  }

  async establish(): Promise<void> {
    const { logical, physical } = await this.ctx.lookup.lookup(this.cfg.topic);
    const cnx = await this.ctx.pool.get(logical, physical);
    if (this.isClosing()) throw new PulsarError('AlreadyClosed', 'consumer closed');
    cnx.consumers.set(this.id, this);
    try {
      await cnx.request((requestId) => simpleFrame((w) => encodeSubscribe(w, {
        requestId, consumerId: this.id, topic: this.cfg.topic, subscription: this.cfg.subscription,
        subType: this.cfg.subType, initialPosition: this.cfg.initialPosition, epoch: this.epoch,
        ...(this.cfg.consumerName ? { consumerName: this.cfg.consumerName } : {}),
        ...(this.cfg.schema ? { schema: this.cfg.schema } : {}),
      })));
    } catch (e) {
      if (cnx.consumers.get(this.id) === this) cnx.consumers.delete(this.id);
      throw e;
    }
    if (cnx.closed) throw new PulsarError('ConnectionClosed', 'connection closed while subscribing');
    if (this.isClosing()) {
      // close() ran while this (re)subscribe was in flight: release the broker-side consumer it created.
      cnx.consumers.delete(this.id);
      cnx.write(simpleFrame((w) => encodeCloseConsumer(w, cnx.newRequestId(), this.id)));
      return;
    }
    this.cnx = cnx;
    this.state = 'ready';
    this.permits = 0;
    cnx.write(simpleFrame((w) => encodeFlow(w, this.id, this.cfg.receiverQueueSize)));
  }

  get connected(): boolean {
    return this.state === 'ready';
  }

  /** State can change across awaits; a method call keeps TypeScript from narrowing it away. */
  private isClosing(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  handleDisconnect(err: PulsarError): void {
    if (this.state === 'closing') this.failAcks(new PulsarError('ConnectionClosed', `ack not confirmed: ${err.message}`));
    if (this.state !== 'ready') return;
    this.state = 'connecting';
    this.cnx = undefined;
    // The broker redelivers everything unacknowledged on resubscribe, so the local backlog is dropped.
    this.queue.removeWhere((d) => d.owner === this);
    this.failAcks(new PulsarError('ConnectionClosed', `ack not confirmed: ${err.message}; the message will be redelivered`));
    this.ctx.logger.info({ topic: this.cfg.topic, subscription: this.cfg.subscription, reason: err.message }, 'pulsar: consumer disconnected, reconnecting');
    this.reconnection.start();
  }

  awaitingConnection(): boolean {
    return this.state === 'connecting';
  }

  onReconnected(): void {
    this.ctx.logger.info({ topic: this.cfg.topic, subscription: this.cfg.subscription }, 'pulsar: consumer resubscribed');
  }

  onRefused(err: unknown): void {
    this.ctx.logger.error({ topic: this.cfg.topic, err: (err as Error).message }, 'pulsar: consumer cannot resubscribe');
    this.state = 'closed';
  }

  onAttemptFailed(err: unknown): void {
    this.ctx.logger.debug({ topic: this.cfg.topic, err: (err as Error).message }, 'pulsar: consumer resubscribe attempt failed');
  }

  handleMessage(cmd: NonNullable<Incoming['message']>, frame: Frame): void {
    if (this.state !== 'ready') return;
    const { ledgerId, entryId } = cmd.messageId;
    const entry = readEntry(frame);
    // The broker took as many flow permits as the entry's metadata claims messages, whether or
    // not the entry holds them; they are given back as it is consumed, or it stalls this consumer.
    const claimed = Math.min(Math.max(entry.meta?.numMessagesInBatch ?? 1, 0), MAX_PERMITS);
    // Messages from before a redeliver-all (exclusive/failover nack) are stale copies.
    if (cmd.consumerEpoch !== undefined && cmd.consumerEpoch < this.epoch) {
      this.consumed(claimed);
      return;
    }
    if ('invalid' in entry) {
      // A poison message: the broker would deliver it again on every connection, so it is handed to
      // the application whole (batch index -1: one ack settles the entry) to dead-letter or drop.
      // Its receipt returns one permit; the rest of what its metadata claimed go back now.
      if (claimed > 1) {
        this.consumed(claimed - 1);
        if (this.cfg.subType === SubType.Key_Shared) this.lyingBatches.add(`${ledgerId}:${entryId}`);
      }
      this.ctx.logger.warn({ topic: this.cfg.topic, messageId: `${ledgerId}:${entryId}`, reason: entry.invalid },
        'pulsar: a message cannot be read; delivered as malformed');
      const meta = entry.meta ?? { producerName: '', sequenceId: 0n, publishTime: 0, properties: {}, compression: 0, nullValue: false };
      this.deliver(meta, cmd, frame.payload!, { ledgerId, entryId, partition: this.cfg.partition, batchIndex: -1 },
        meta.properties, meta.partitionKey, meta.eventTime, meta.sequenceId, entry.invalid);
      return;
    }
    const { meta, singles } = entry;
    if (!singles) {
      this.deliver(meta, cmd, entry.payload, { ledgerId, entryId, partition: this.cfg.partition, batchIndex: -1 },
        meta.properties, meta.partitionKey, meta.eventTime, meta.sequenceId);
      return;
    }
    const count = singles.length;
    const key = `${ledgerId}:${entryId}`;
    let tracker = this.trackers.get(key);
    if (!tracker) {
      tracker = { ledgerId, entryId, acked: new Array<boolean>(count).fill(false), remaining: count };
      this.trackers.set(key, tracker);
    }
    for (let i = 0; i < count; i++) {
      const { single, body } = singles[i]!;
      if (tracker.acked[i] || single.compactedOut) {
        this.consumed(1);
        continue;
      }
      this.deliver(meta, cmd, body, { ledgerId, entryId, partition: this.cfg.partition, batchIndex: i, batchSize: count },
        single.properties, single.partitionKey, single.eventTime || meta.eventTime, single.sequenceId ?? meta.sequenceId + BigInt(i));
    }
  }

  private deliver(
    meta: EntryMetadata, cmd: NonNullable<Incoming['message']>, payload: Buffer, messageId: MessageId,
    properties: Record<string, string>, partitionKey: string | undefined, eventTime: number | undefined, sequenceId: bigint,
    malformed?: string,
  ): void {
    const msg: Message = {
      topic: this.cfg.topic, messageId, payload, properties, publishTime: meta.publishTime, sequenceId,
      producerName: meta.producerName, redeliveryCount: cmd.redeliveryCount,
    };
    if (malformed !== undefined) msg.malformed = malformed;
    if (partitionKey !== undefined) msg.partitionKey = partitionKey;
    if (eventTime) msg.eventTime = eventTime;
    if (meta.schemaVersion) msg.schemaVersion = meta.schemaVersion;
    this.queue.push({ msg, owner: this });
  }

  /** Called for every message handed to the application (or dropped): returns its flow permit. */
  consumed(n: number): void {
    this.permits += n;
    if (this.permits >= Math.max(1, this.cfg.receiverQueueSize >> 1) && this.state === 'ready' && this.cnx) {
      // The broker adds permits to a signed 32-bit count: more than MAX_PERMITS go in several FLOWs.
      while (this.permits > 0) {
        const n = Math.min(this.permits, MAX_PERMITS);
        this.cnx.write(simpleFrame((w) => encodeFlow(w, this.id, n)));
        this.permits -= n;
      }
    }
  }

  ack(id: MessageId): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return Promise.reject(new PulsarError('AlreadyClosed', 'consumer is closed'));
    if (id.batchIndex >= 0) {
      const t = this.trackers.get(entryKey(id));
      if (t) {
        if (!t.acked[id.batchIndex]) {
          t.acked[id.batchIndex] = true;
          t.remaining--;
        }
        if (t.remaining > 0) return Promise.resolve();
        this.trackers.delete(entryKey(id));
      }
    }
    this.nacks.delete(entryKey(id));
    if (this.lyingBatches.delete(entryKey(id))) {
      // A Key_Shared subscription dispatches nothing more to a consumer that was sent an entry
      // claiming 2³¹ messages, acknowledged or not; a new subscription of this consumer starts
      // it afresh (test/consumers/hostile-protocol.test.ts: "dead-letters a lying batch"). Acks
      // of other messages meanwhile fail: those come again, and their handlers see duplicates.
      const acked = this.queueAck(id);
      return acked.then(() => this.resubscribe('a malformed batch was acknowledged'));
    }
    return this.queueAck(id);
  }

  private queueAck(id: MessageId): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queuedAcks.push({ id: { ledgerId: id.ledgerId, entryId: id.entryId, partition: -1, batchIndex: -1 }, resolve, reject });
      if (!this.ackFlushScheduled) {
        this.ackFlushScheduled = true;
        setImmediate(() => this.flushAcks());
      }
    });
  }

  /**
   * Closes this consumer on the broker and subscribes it again on its connection: its local
   * backlog is dropped (the broker delivers it again), as after a disconnect.
   */
  private async resubscribe(reason: string): Promise<void> {
    const cnx = this.cnx;
    if (!cnx || this.state !== 'ready') return;
    this.state = 'connecting';
    this.cnx = undefined;
    this.queue.removeWhere((d) => d.owner === this);
    await cnx.request((requestId) => simpleFrame((w) => encodeCloseConsumer(w, requestId, this.id))).catch(() => undefined);
    if (cnx.consumers.get(this.id) === this) cnx.consumers.delete(this.id);
    this.ctx.logger.info({ topic: this.cfg.topic, subscription: this.cfg.subscription, reason }, 'pulsar: consumer subscribing again');
    this.reconnection.start();
  }

  /** Acks queued in the same turn of the event loop travel in one ACK command. */
  private flushAcks(): void {
    this.ackFlushScheduled = false;
    const acks = this.queuedAcks;
    this.queuedAcks = [];
    if (acks.length === 0) return;
    this.sendAck(AckType.Individual, acks.map((a) => a.id), acks);
  }

  private sendAck(ackType: number, ids: MessageIdData[], waiters: AckWaiter[]): void {
    const cnx = this.cnx;
    if (!cnx || (this.state !== 'ready' && this.state !== 'closing')) {
      const err = new PulsarError('ConnectionClosed', 'consumer is not connected; the message will be redelivered');
      for (const w of waiters) w.reject(err);
      return;
    }
    const requestId = cnx.newRequestId();
    const timer = setTimeout(() => {
      this.ackWaiters.delete(requestId);
      const err = new PulsarError('Timeout', `no ACK_RESPONSE within ${this.ctx.operationTimeoutMs} ms`);
      for (const w of waiters) w.reject(err);
      this.checkIdle();
    }, this.ctx.operationTimeoutMs);
    this.ackWaiters.set(requestId, { waiters, timer });
    cnx.write(simpleFrame((w) => encodeAck(w, { consumerId: this.id, ackType, ids, requestId })));
  }

  handleAckResponse(requestId: number, err: PulsarError | undefined): void {
    const entry = this.ackWaiters.get(requestId);
    if (!entry) return;
    this.ackWaiters.delete(requestId);
    clearTimeout(entry.timer);
    for (const w of entry.waiters) {
      if (err) w.reject(err);
      else w.resolve();
    }
    this.checkIdle();
  }

  private failAcks(err: PulsarError): void {
    const queued = this.queuedAcks;
    this.queuedAcks = [];
    for (const a of queued) a.reject(err);
    for (const [, entry] of this.ackWaiters) {
      clearTimeout(entry.timer);
      for (const w of entry.waiters) w.reject(err);
    }
    this.ackWaiters.clear();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.ackWaiters.size > 0) return;
    for (const r of this.idleWaiters.splice(0)) r();
  }

  ackCumulative(id: MessageId): Promise<void> {
    if (this.shared) return Promise.reject(new PulsarError('NotAllowedError', 'cumulative ack is not allowed on Shared/Key_Shared subscriptions'));
    if (this.state === 'closed' || this.state === 'closing') return Promise.reject(new PulsarError('AlreadyClosed', 'consumer is closed'));
    let ledgerId = id.ledgerId;
    let entryId = id.entryId;
    if (id.batchIndex >= 0) {
      const t = this.trackers.get(entryKey(id));
      const size = t?.acked.length ?? id.batchSize;
      if (size === undefined || id.batchIndex < size - 1) {
        // Part of a batch: remember the acked prefix and cumulatively ack only the entry before it.
        if (t) {
          for (let i = 0; i <= id.batchIndex; i++) {
            if (!t.acked[i]) {
              t.acked[i] = true;
              t.remaining--;
            }
          }
        }
        if (entryId === 0n) return Promise.resolve();
        entryId -= 1n;
      }
    }
    for (const [key, t] of this.trackers) {
      if (isBefore(t.ledgerId, t.entryId, ledgerId, entryId)) this.trackers.delete(key);
    }
    for (const [key, n] of this.nacks) {
      if (isBefore(n.ledgerId, n.entryId, ledgerId, entryId)) this.nacks.delete(key);
    }
    return new Promise<void>((resolve, reject) => {
      this.sendAck(AckType.Cumulative, [{ ledgerId, entryId, partition: -1, batchIndex: -1 }], [{ resolve, reject }]);
    });
  }

  nack(id: MessageId): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.nacks.set(entryKey(id), { ledgerId: id.ledgerId, entryId: id.entryId, due: Date.now() + this.cfg.nackDelayMs });
    if (!this.nackTimer) this.armNackTimer(this.cfg.nackDelayMs);
  }

  private armNackTimer(ms: number): void {
    this.nackTimer = setTimeout(() => {
      this.nackTimer = undefined;
      this.redeliverDue();
    }, ms);
  }

  private redeliverDue(): void {
    const now = Date.now();
    const due: MessageIdData[] = [];
    let nextDue = Infinity;
    for (const [key, n] of this.nacks) {
      if (n.due <= now) {
        due.push({ ledgerId: n.ledgerId, entryId: n.entryId, partition: -1, batchIndex: -1 });
        this.nacks.delete(key);
      } else if (n.due < nextDue) {
        nextDue = n.due;
      }
    }
    if (nextDue !== Infinity) this.armNackTimer(nextDue - now);
    const cnx = this.cnx;
    // While disconnected there is nothing to do: resubscribing redelivers every unacked message anyway.
    if (due.length === 0 || this.state !== 'ready' || !cnx) return;
    if (this.shared) {
      cnx.write(simpleFrame((w) => encodeRedeliver(w, this.id, due, this.epoch)));
      return;
    }
    // Exclusive/Failover cannot redeliver single messages without breaking order: the broker rewinds
    // to the first unacked message, so the local backlog (now stale) is dropped and its permits returned.
    this.epoch++;
    const dropped = this.queue.removeWhere((d) => d.owner === this);
    cnx.write(simpleFrame((w) => encodeRedeliver(w, this.id, [], this.epoch)));
    if (dropped > 0) this.consumed(dropped);
  }

  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    const wasReady = this.state === 'ready';
    this.state = 'closing';
    clearTimeout(this.nackTimer);
    const cnx = this.cnx;
    if (wasReady && cnx) {
      // Let acks issued just before close reach the broker first.
      this.flushAcks();
      if (this.ackWaiters.size > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      if (cnx.consumers.get(this.id) === this) cnx.consumers.delete(this.id);
      await cnx.request((requestId) => simpleFrame((w) => encodeCloseConsumer(w, requestId, this.id))).catch(() => undefined);
    }
    this.state = 'closed';
    this.cnx = undefined;
    this.failAcks(new PulsarError('AlreadyClosed', 'consumer closed'));
  }
}
