// A producer on one (non-partitioned or partition) topic. Messages are framed once and kept in the
// pending queue until their SEND_RECEIPT; after a disconnect or CLOSE_PRODUCER the producer is
// re-created under the same name and every pending frame is resent unchanged (same sequence ids),
// so broker deduplication drops whatever had already been persisted.
import { retrying, sleep } from './backoff.ts';
import { Reconnection, type Reconnectable } from './reconnection.ts';
import type { Connection, ProducerHandler } from './connection.ts';
import type { ClientContext } from './context.ts';
import {
  DEFAULT_MAX_MESSAGE_SIZE, PulsarError, ProtocolError, TimeoutError, isRetriable, messageTooBig, serverError,
  toPulsarError,
} from './errors.ts';
import { encodeCloseProducer, encodeProducer, type Incoming, type SchemaData } from './protocol/commands.ts';
import { simpleFrame } from './protocol/frame.ts';
import { Deque } from './queue.ts';
import { batchFrame, singleFrame, type QueuedMessage, type SendContext } from './send-frames.ts';
import type { OutgoingMessage, Producer, SendReceipt } from './types.ts';

export interface BatchingConfig {
  maxMessages: number;
  maxDelayMs: number;
  maxBytes: number;
}

export interface ProducerConfig {
  topic: string;
  producerName?: string;
  schema?: SchemaData;
  batching: BatchingConfig | false;
  maxPendingMessages: number;
  sendTimeoutMs: number;
  /** Partition index for partition topics, -1 otherwise; echoed in message ids. */
  partition: number;
}

interface SendOp extends QueuedMessage {
  resolve(r: SendReceipt): void;
  reject(e: PulsarError): void;
}

interface PendingEntry {
  frame: Buffer;
  firstSeq: bigint;
  ops: SendOp[];
  batched: boolean;
  createdAt: number;
}

interface Blocked {
  msg: OutgoingMessage;
  resolve(r: SendReceipt): void;
  reject(e: PulsarError): void;
}

type State = 'connecting' | 'ready' | 'closing' | 'closed';

/** Per-message framing overhead counted against batching.maxBytes. */
const ENTRY_OVERHEAD = 32;
/** SEND_ERROR codes after which resending cannot succeed. */
const FATAL_SEND_ERRORS = new Set(['TopicTerminatedError', 'NotAllowedError', 'ProducerFenced']);

export class ProducerImpl implements Producer, ProducerHandler, Reconnectable {
  readonly topic: string;
  producerName: string;
  lastSequenceId = -1n;
  schemaVersion: Uint8Array | undefined;
  maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;

  private readonly ctx: ClientContext;
  private readonly cfg: ProducerConfig;
  private readonly id: number;
  private readonly reconnection = new Reconnection(this);
  private readonly pending = new Deque<PendingEntry>();
  private readonly blocked = new Deque<Blocked>();
  private readonly flushWaiters: Array<{ target: number; resolve(): void }> = [];
  private state: State = 'connecting';
  private cnx: Connection | undefined;
  private created = false;
  private epoch = 0;
  private nextSeq = 0n;
  private inFlight = 0;
  private batch: SendOp[] = [];
  private batchBytes = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  private sendTimer: NodeJS.Timeout | undefined;
  private fatal: PulsarError | undefined;
  /** Ordinals of queued sends and of settled ones; sends settle in order, so flush waits on a target ordinal. */
  private queuedOps = 0;
  private settledOps = 0;
  private closing: Promise<void> | undefined;

  private constructor(ctx: ClientContext, cfg: ProducerConfig) {
    this.ctx = ctx;
    this.cfg = cfg;
    this.topic = cfg.topic;
    this.producerName = cfg.producerName ?? '';
    this.id = ctx.nextProducerId();
  }

  static async create(ctx: ClientContext, cfg: ProducerConfig): Promise<ProducerImpl> {
    const p = new ProducerImpl(ctx, cfg);
    try {
      await retrying(ctx.operationTimeoutMs, isRetriable, () => p.establish());
    } catch (e) {
      p.state = 'closed';
      throw toPulsarError(e);
    }
    return p;
  }

  private get sendContext(): SendContext {
    return { producerId: this.id, producerName: this.producerName, schemaVersion: this.schemaVersion };
  }

  async establish(): Promise<void> {
    const { logical, physical } = await this.ctx.lookup.lookup(this.topic);
    const cnx = await this.ctx.pool.get(logical, physical);
    if (this.isClosing()) throw new PulsarError('AlreadyClosed', 'producer closed');
    cnx.producers.set(this.id, this);
    let res: Incoming;
    try {
      res = await cnx.request((requestId) => simpleFrame((w) => encodeProducer(w, {
        requestId, producerId: this.id, topic: this.topic, epoch: this.epoch++,
        userProvidedName: this.created || this.cfg.producerName !== undefined,
        ...(this.producerName ? { producerName: this.producerName } : {}),
        ...(this.cfg.schema ? { schema: this.cfg.schema } : {}),
      })));
    } catch (e) {
      if (cnx.producers.get(this.id) === this) cnx.producers.delete(this.id);
      // The broker may still create it after our timeout; closing it keeps the name free for the retry.
      if (e instanceof TimeoutError) cnx.write(simpleFrame((w) => encodeCloseProducer(w, cnx.newRequestId(), this.id)));
      throw e;
    }
    const ok = res.producerSuccess;
    if (!ok) throw new ProtocolError('unexpected answer to PRODUCER');
    if (cnx.closed) throw new PulsarError('ConnectionClosed', 'connection closed while creating the producer');
    this.producerName = ok.producerName;
    this.lastSequenceId = ok.lastSequenceId;
    this.schemaVersion = ok.schemaVersion;
    if (!this.created) {
      this.nextSeq = ok.lastSequenceId + 1n;
      this.created = true;
    }
    this.maxMessageSize = cnx.maxMessageSize;
    if (this.isClosing()) {
      // close() ran while this (re)connect was in flight: release the broker-side producer it created.
      cnx.producers.delete(this.id);
      cnx.write(simpleFrame((w) => encodeCloseProducer(w, cnx.newRequestId(), this.id)));
      return;
    }
    this.cnx = cnx;
    this.state = 'ready';
    for (const entry of this.pending) cnx.write(entry.frame);
  }

  /** State can change across awaits; a method call keeps TypeScript from narrowing it away. */
  private isClosing(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  /** Its own partition (one of a PartitionedProducer's), or -1 on a topic that is not partitioned. */
  partitionFor(): number {
    return this.cfg.partition;
  }

  lastSequenceIdOf(partition: number): bigint {
    if (partition !== this.cfg.partition) {
      throw new PulsarError('InvalidArgument', `${this.topic} has no partition ${partition} (this producer's is ${this.cfg.partition})`);
    }
    return this.lastSequenceId;
  }

  handleDisconnect(err: PulsarError): void {
    if (this.state !== 'ready') return;
    this.state = 'connecting';
    this.cnx = undefined;
    this.ctx.logger.info({ topic: this.topic, producer: this.producerName, reason: err.message, pending: this.pending.length },
      'pulsar: producer disconnected, reconnecting');
    this.reconnection.start();
  }

  awaitingConnection(): boolean {
    return this.state === 'connecting';
  }

  onReconnected(): void {
    this.ctx.logger.info({ topic: this.topic, producer: this.producerName, resent: this.pending.length }, 'pulsar: producer reconnected');
  }

  onRefused(err: unknown): void {
    this.fatal = toPulsarError(err);
    this.state = 'closed';
    this.failAll(this.fatal);
    this.ctx.logger.error({ topic: this.topic, producer: this.producerName, err: this.fatal.message }, 'pulsar: producer cannot reconnect');
  }

  onAttemptFailed(err: unknown): void {
    this.ctx.logger.debug({ topic: this.topic, err: (err as Error).message }, 'pulsar: producer reconnect attempt failed');
  }

  handleReceipt(r: NonNullable<Incoming['sendReceipt']>): void {
    const head = this.pending.peek();
    // Receipts older than the head belong to messages already failed by a send timeout.
    if (!head || r.sequenceId < head.firstSeq) return;
    if (r.sequenceId > head.firstSeq) {
      this.cnx?.destroy(new ProtocolError(`receipt for sequence ${r.sequenceId} while ${head.firstSeq} was expected`));
      return;
    }
    this.pending.shift();
    const ledgerId = r.messageId?.ledgerId ?? -1n;
    const entryId = r.messageId?.entryId ?? -1n;
    const n = head.ops.length;
    for (let i = 0; i < n; i++) {
      const op = head.ops[i]!;
      op.resolve({
        messageId: head.batched
          ? { ledgerId, entryId, partition: this.cfg.partition, batchIndex: i, batchSize: n }
          : { ledgerId, entryId, partition: this.cfg.partition, batchIndex: -1 },
        sequenceId: op.seq,
      });
    }
    const highest = head.ops[n - 1]!.seq;
    if (highest > this.lastSequenceId) this.lastSequenceId = highest;
    this.inFlight -= n;
    this.settled(n);
    this.drainBlocked();
  }

  handleSendError(e: NonNullable<Incoming['sendError']>): void {
    const err = serverError(e.error, e.message);
    if (FATAL_SEND_ERRORS.has(err.code)) {
      this.fatal = err;
      this.failAll(err);
      return;
    }
    // Like the Java client: transient send errors are healed by reconnecting and resending.
    this.cnx?.destroy(new PulsarError('ConnectionClosed', `SEND_ERROR ${err.code} on ${this.topic}: ${err.message}`));
  }

  send(msg: OutgoingMessage): Promise<SendReceipt> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.state === 'closing' || this.state === 'closed') return Promise.reject(new PulsarError('AlreadyClosed', 'producer is closed'));
    if (!(msg.payload instanceof Uint8Array)) return Promise.reject(new PulsarError('InvalidArgument', 'payload must be a Uint8Array'));
    const tooBig = messageTooBig(msg.payload, this.maxMessageSize);
    if (tooBig) return Promise.reject(tooBig);
    return new Promise<SendReceipt>((resolve, reject) => {
      this.queuedOps++;
      if (this.blocked.length > 0 || this.inFlight >= this.cfg.maxPendingMessages) this.blocked.push({ msg, resolve, reject });
      else this.accept(msg, resolve, reject);
    });
  }

  private accept(msg: OutgoingMessage, resolve: SendOp['resolve'], reject: SendOp['reject']): void {
    let seq: bigint;
    if (msg.sequenceId !== undefined) {
      seq = msg.sequenceId;
      if (seq >= this.nextSeq) this.nextSeq = seq + 1n;
    } else {
      seq = this.nextSeq++;
    }
    const op: SendOp = { msg, seq, resolve, reject };
    this.inFlight++;
    const b = this.cfg.batching;
    if (!b) {
      this.enqueue({ frame: singleFrame(this.sendContext, op), firstSeq: seq, ops: [op], batched: false, createdAt: Date.now() });
      return;
    }
    const size = msg.payload.length + ENTRY_OVERHEAD;
    const maxBytes = Math.min(b.maxBytes, this.maxMessageSize);
    if (this.batch.length > 0 && this.batchBytes + size > maxBytes) this.flushBatch();
    this.batch.push(op);
    this.batchBytes += size;
    if (this.batch.length >= b.maxMessages || this.batchBytes >= maxBytes) this.flushBatch();
    else if (this.batch.length === 1) this.batchTimer = setTimeout(() => this.flushBatch(), b.maxDelayMs);
  }

  private flushBatch(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.batch.length === 0) return;
    const ops = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    this.enqueue({ frame: batchFrame(this.sendContext, ops), firstSeq: ops[0]!.seq, ops, batched: true, createdAt: Date.now() });
  }

  private enqueue(entry: PendingEntry): void {
    this.pending.push(entry);
    if (this.state === 'ready' || this.state === 'closing') this.cnx?.write(entry.frame);
    if (this.cfg.sendTimeoutMs > 0 && !this.sendTimer) this.armSendTimer(this.cfg.sendTimeoutMs);
  }

  private armSendTimer(ms: number): void {
    this.sendTimer = setTimeout(() => {
      this.sendTimer = undefined;
      const head = this.pending.peek();
      if (!head) return;
      const age = Date.now() - head.createdAt;
      if (age < this.cfg.sendTimeoutMs) {
        this.armSendTimer(this.cfg.sendTimeoutMs - age);
        return;
      }
      // Like the Java client, everything pending fails together so later messages cannot overtake earlier ones.
      this.failPending(new TimeoutError(`no receipt from ${this.topic} within ${this.cfg.sendTimeoutMs} ms`));
      this.drainBlocked();
    }, ms);
  }

  private drainBlocked(): void {
    while (this.blocked.length > 0 && this.inFlight < this.cfg.maxPendingMessages && !this.fatal && this.state !== 'closed') {
      const b = this.blocked.shift()!;
      this.accept(b.msg, b.resolve, b.reject);
    }
    if (this.state === 'closing') this.flushBatch();
  }

  private settled(n: number): void {
    this.settledOps += n;
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const w = this.flushWaiters[i]!;
      if (w.target <= this.settledOps) {
        this.flushWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private failPending(err: PulsarError): void {
    const ops: SendOp[] = [];
    for (const entry of this.pending.drain()) ops.push(...entry.ops);
    ops.push(...this.batch);
    this.batch = [];
    this.batchBytes = 0;
    clearTimeout(this.batchTimer);
    this.inFlight -= ops.length;
    for (const op of ops) op.reject(err);
    this.settled(ops.length);
  }

  private failAll(err: PulsarError): void {
    this.failPending(err);
    const blocked = this.blocked.drain();
    for (const b of blocked) b.reject(err);
    this.settled(blocked.length);
  }

  /** Sends the open batch and waits until every message sent before this call has settled. */
  flush(): Promise<void> {
    this.flushBatch();
    const target = this.queuedOps;
    if (this.settledOps >= target) return Promise.resolve();
    return new Promise<void>((resolve) => this.flushWaiters.push({ target, resolve }));
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closing';
    if (wasReady) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.flush(), new Promise<void>((r) => { timer = setTimeout(r, this.ctx.operationTimeoutMs); })]);
      clearTimeout(timer);
    }
    this.state = 'closed';
    clearTimeout(this.sendTimer);
    this.failAll(new PulsarError('AlreadyClosed', 'producer closed before the broker confirmed the message'));
    const cnx = this.cnx;
    this.cnx = undefined;
    if (cnx && !cnx.closed) {
      if (cnx.producers.get(this.id) === this) cnx.producers.delete(this.id);
      await cnx.request((requestId) => simpleFrame((w) => encodeCloseProducer(w, requestId, this.id))).catch(() => undefined);
    }
  }
}
