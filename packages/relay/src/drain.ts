// One drain run of one shard: settle what an earlier run left in hand, then claim → encode →
// publish → wait for receipts → mark sent, batch after batch, until the shard is empty or the
// run's time budget is spent.
//
// The guarantee (docs/architecture.md, "Why it is effectively once"), and the test that
// breaks every step of a run to check it: test/faults/drain-faults.test.ts.
import {
  activatePendingLayout, claimBatch, closeLayoutShard, giveBack, markSent, nextRetryAt, raiseSequenceFloor, reclaimInHand, sessionPid, settleShard, shardRange,
  type ClaimedRow, type KeyRange, type QueryRunner,
} from '@relevo/db/sql';
import { OWN_TOPICS } from '@relevo/events';
import { formatMessageId, messageTooBig, type OutgoingMessage, type Producer } from '@relevo/pulsar';
import { endSpanWithError, traceHeadersOf, type Logger, type Span } from '@relevo/runtime';
import { backoffMs } from './backoff.ts';
import type { CommitSignal } from './commit-signal.ts';
import { FenceLostError, SendOutcomeUnknownError } from './errors.ts';
import { planInHand } from './in-hand.ts';
import { toOutgoingMessage } from './message.ts';
import type { RelayMetrics } from './metrics.ts';
import type { ProducerPool } from './producers.ts';
import { startPublishSpan } from './publish-span.ts';
import { RunProducers, describeError } from './run-producers.ts';

export interface DrainDeps {
  /** The session that holds the shard's advisory lock: the fenced statements run on it. */
  session: QueryRunner;
  /** That session's backend pid: fenced statements run only while the connection is still that session. */
  lockPid: number;
  /** The shared pool: marks and give-backs go through it, so marking one batch overlaps claiming the next. */
  pool: QueryRunner;
  producers: ProducerPool;
  /** The topics the shard publishes to; all of relevo's own by default. */
  topics?: readonly string[];
  log: Logger;
  metrics: RelayMetrics;
  relayId: string;
  /** The shard layout the run drains under: its generation fences the claims, its count the shard's keys. */
  generation: number;
  shards: number;
  batchSize: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Commits announced for the shard, and how long an emptied run waits for one before it ends. */
  commits?: CommitSignal;
  idleLingerMs?: number;
  now?: () => number;
  random?: () => number;
  /** False once the worker fenced this run off as stalled: it must not send or write again. */
  current?: () => boolean;
}

export interface DrainOutcome {
  published: number;
  failed: number;
  /** `budget`: rows may remain, re-queue the shard; `empty`: nothing claimable is left. */
  reason: 'empty' | 'budget';
  /** The earliest retry of a backing-off row, if any. */
  nextRetryAt: Date | undefined;
  /** When `empty`: the commit generation read before the last claim (CommitSignal.runEnded). */
  commitsSeen?: number;
  /** Rows left in hand because their producer's floor is unknown; the shard stays unsettled. */
  leftInHand: number;
}

export async function drainShard(deps: DrainDeps, shard: number, budgetMs: number): Promise<DrainOutcome> {
  const current = deps.current ?? (() => true);
  deps.producers.acquire(shard);
  try {
    const producers = await RunProducers.open(deps.producers, shard, deps.topics ?? OWN_TOPICS, deps.log, current);
    return await new DrainRun(deps, shard, budgetMs, producers, current).run();
  } finally {
    deps.producers.release(shard);
  }
}

/** What the broker answered for a batch's rows it was given. */
interface BatchResult {
  /** Stored: the message id, or null when the broker answered that it already had the message. */
  sent: { row: ClaimedRow; messageId: string | null }[];
  /** Their send failed after the producer took them: maybe stored. They stay in hand. */
  unknown: ClaimedRow[];
}

interface Ready {
  row: ClaimedRow;
  span: Span;
  producer: Producer;
  message: OutgoingMessage;
}

interface Batch {
  rows: ClaimedRow[];
  /** Rows an earlier run left in hand, each fate already decided: sent whatever their partner. */
  inHand: boolean;
}

/** Numbers this process's runs, for their claim tokens. */
let runs = 0;

const bySequence = (rows: ClaimedRow[]): ClaimedRow[] => [...rows].sort((a, b) => (a.publish_sequence < b.publish_sequence ? -1 : 1));

class DrainRun {
  private readonly deps: DrainDeps;
  private readonly shard: number;
  private readonly range: KeyRange;
  private readonly now: () => number;
  private readonly deadline: number;
  private readonly producers: RunProducers;
  private readonly current: () => boolean;
  /** Partners this run holds back: a row of theirs failed in it, or waits in hand. Never claimed again in this run. */
  private readonly held = new Set<string>();
  /** This run's claims: claimed_by on every row it takes; its marks and give-backs touch only those. */
  private readonly token: string;
  private leftInHand = 0;
  private published = 0;
  private failed = 0;
  private commitsSeen = 0;

  constructor(deps: DrainDeps, shard: number, budgetMs: number, producers: RunProducers, current: () => boolean) {
    this.deps = deps;
    this.shard = shard;
    this.range = shardRange(shard, deps.shards);
    this.now = deps.now ?? Date.now;
    this.deadline = this.now() + budgetMs;
    this.producers = producers;
    this.current = current;
    this.token = `${deps.relayId}#${++runs}`;
  }

  async run(): Promise<DrainOutcome> {
    const databaseBehind = await this.raiseSequenceFloor();
    const inHand = await this.takeInHand(databaseBehind);
    const reason = await this.publish(inHand);
    if (this.leftInHand === 0) await this.settle();
    const outcome = { published: this.published, failed: this.failed, leftInHand: this.leftInHand };
    if (reason === 'budget') return { ...outcome, reason, nextRetryAt: undefined };
    const [retry] = await this.deps.session(nextRetryAt({ range: this.range, generation: this.deps.generation }));
    return { ...outcome, reason, nextRetryAt: retry?.at ?? undefined, commitsSeen: this.commitsSeen };
  }

  /**
   * Nothing is in hand: the shard is settled, and if another layout is pending it closes for
   * it (its claims already find nothing). Every settle then tries the activation: whichever
   * run sees every shard closed activates the new layout, so one that closed the last shard
   * and stopped before activating it leaves the next run of any shard to do so.
   */
  private async settle(): Promise<void> {
    const { session, lockPid, generation } = this.deps;
    await session(settleShard({ shard: this.shard, lockPid }));
    const closed = await session(closeLayoutShard({ generation, shard: this.shard, lockPid }));
    if (closed.count > 0) this.deps.log.info({ shard: this.shard, generation }, 'shard closed for the pending layout');
    const [activated] = await session(activatePendingLayout({ generation }));
    if (activated) this.deps.log.info({ generation: activated.generation }, 'every shard closed: the pending layout is active');
  }

  /**
   * The broker remembers, per producer name, the highest sequence id it took. If the
   * database's shard sequence is behind it, new rows would be dropped as duplicates: the
   * shard's sequence moves past it. Returns whether the database was behind.
   */
  private async raiseSequenceFloor(): Promise<boolean> {
    const brokerFloor = this.producers.highestFloor();
    if (brokerFloor < 0n) return false;
    const [raised] = await this.deps.session(raiseSequenceFloor({ shard: this.shard, brokerFloor }));
    if (!raised) return false;
    this.deps.log.warn({ shard: this.shard, databaseSequence: raised.before.toString(), brokerSequence: brokerFloor.toString() },
      'the broker holds sequences this database never handed out (a restored backup, or a failover that lost commits): '
      + 'the shard\'s sequence moves past them, and its rows in hand get new sequences (published at least once)');
    return true;
  }

  /** Rows an earlier run left in hand: the batches to send first (each on its own), after giving back what goes back in line. */
  private async takeInHand(databaseBehind: boolean): Promise<ClaimedRow[][]> {
    const rows = await this.deps.session(reclaimInHand({ shard: this.shard, relayId: this.token, lockPid: this.deps.lockPid }));
    if (rows.length === 0) return [];
    const plan = planInHand(rows, (row) => this.producers.floorOf(row), databaseBehind);
    for (const row of plan.keep) this.held.add(row.aggregate_id);
    this.leftInHand = plan.keep.length;
    if (plan.giveBack.length > 0) await this.giveBack([], plan.giveBack);
    this.deps.log.info({
      shard: this.shard, stored: plan.stored.length, resent: plan.resend.length, givenBack: plan.giveBack.length, kept: plan.keep.length,
    }, 'rows left in hand by an earlier run: re-sending them under their sequences');
    // Apart, never one batch: the broker judges a batch by its first sequence id, and would
    // drop the rows it never had with those it had.
    return [plan.stored, plan.resend].filter((part) => part.length > 0);
  }

  /** Sends the rows in hand, then claims and sends until the shard is empty or the budget is spent. */
  private async publish(inHand: ClaimedRow[][]): Promise<'empty' | 'budget'> {
    const queue = [...inHand];
    let marking: Promise<void> = Promise.resolve();
    let next = this.nextBatch(queue);
    try {
      for (;;) {
        const batch = await next;
        if (batch.rows.length === 0) {
          if (await this.linger()) {
            next = this.nextBatch(queue);
            continue;
          }
          await this.assertFence();
          return 'empty';
        }
        this.assertCurrent();
        const publishing = this.publishBatch(batch);
        // A full batch means a backlog: the next claim's round trip overlaps this batch's wait
        // for receipts. A partial one emptied the shard: the next claim waits for the receipts,
        // so the rows committed meanwhile go out in the next batch, not the one after it.
        // Either way its rows are published only once this batch's failures are held back.
        const more = queue.length > 0 || this.now() < this.deadline;
        const backlog = queue.length > 0 || batch.rows.length >= this.deps.batchSize;
        if (more && backlog) next = this.nextBatch(queue);
        const result = await publishing;
        await marking;
        marking = this.markSent(result.sent);
        // Awaited before the next mark or on the way out; until then a failure must not count
        // as an unhandled rejection (which would kill the process mid-batch).
        marking.catch(() => undefined);
        if (result.unknown.length > 0) {
          await marking;
          throw new SendOutcomeUnknownError(`shard ${this.shard}: ${result.unknown.length} sends failed after the producer took them; `
            + 'they stay in hand and go out again under their sequences');
        }
        if (!more) return 'budget';
        if (!backlog) next = this.nextBatch(queue);
      }
    } finally {
      await marking;
      await next.catch(() => undefined);
    }
  }

  /** The next rows in hand to re-send, or the next claim. */
  private nextBatch(queue: ClaimedRow[][]): Promise<Batch> {
    const part = queue.shift();
    if (part) return Promise.resolve({ rows: part, inHand: true });
    this.commitsSeen = this.deps.commits?.generation(this.shard) ?? 0;
    const claiming = this.deps.session(claimBatch({
      shard: this.shard, range: this.range, limit: this.deps.batchSize, relayId: this.token, lockPid: this.deps.lockPid,
      held: [...this.held], generation: this.deps.generation,
    })).then((rows): Batch => ({ rows: [...rows], inHand: false }));
    // Awaited by the loop, or on the way out; a run stopped by a publish error must not also
    // surface it as an unhandled rejection.
    claiming.catch(() => undefined);
    return claiming;
  }

  /**
   * Lingers on an emptied shard: a commit for it in the next moments is claimed at once by
   * this run, instead of through a new drain job (fetch, lock, producers, sequence floor).
   */
  private async linger(): Promise<boolean> {
    const { commits } = this.deps;
    if (!commits) return false;
    return commits.wait(this.shard, this.commitsSeen, Math.min(this.deps.idleLingerMs ?? 0, this.deadline - this.now()));
  }

  /** Sends a batch's rows in sequence order, once prepare() has settled those that cannot go. */
  private async publishBatch(batch: Batch): Promise<BatchResult> {
    const ready = await this.prepare(batch);
    const receipts = Promise.allSettled(ready.map((r) => this.producers.send(r.producer, r.message)));
    // The claim is the whole batch: send it now rather than after the producer's batching
    // delay, a timer that fires late on a busy event loop. Its receipts are awaited below.
    this.producers.flush(ready.map((r) => r.producer));
    const settled = await receipts;
    // Refused by the fence before reaching the producer: the run ends as fenced, its rows in hand.
    const fence = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && s.reason instanceof FenceLostError);
    if (fence) {
      for (const r of ready) r.span.end();
      throw fence.reason;
    }
    const result: BatchResult = { sent: [], unknown: [] };
    settled.forEach((s, i) => {
      const { row, span } = ready[i]!;
      if (s.status === 'fulfilled') {
        // A duplicate's receipt names no entry (ledger -1): the broker had it; which id it got is not known here.
        const messageId = s.value.messageId.ledgerId < 0n ? null : formatMessageId(s.value.messageId);
        if (span.isRecording()) span.setAttribute('messaging.message.id', messageId ?? 'duplicate');
        span.end();
        result.sent.push({ row, messageId });
      } else {
        endSpanWithError(span, s.reason);
        result.unknown.push(row);
      }
    });
    return result;
  }

  /**
   * Decides, before any row of the batch is sent, everything that can fail a row before the
   * broker sees it (encoding, its topic's producer, the size limit), and gives such rows, with
   * the rows of their partner held behind them, back in line: a row given back after a higher
   * sequence of its producer was stored would look stored to the next run. A producer's size
   * limit can change while the give-back is in flight (a reconnect): the rows are checked again
   * until none fails. Rows in hand at or below their producer's floor are on the broker
   * already: they go out whatever their partner's state, and one that cannot stays in hand.
   */
  private async prepare(batch: Batch): Promise<Ready[]> {
    let rows = bySequence(batch.rows);
    for (;;) {
      const ready: Ready[] = [];
      const failed: { row: ClaimedRow; error: string }[] = [];
      const held: ClaimedRow[] = [];
      for (const row of rows) {
        const floor = batch.inHand ? this.producers.floorOf(row) : undefined;
        const stored = floor !== undefined && row.publish_sequence <= floor;
        if (!stored && this.held.has(row.aggregate_id)) {
          held.push(row);
          continue;
        }
        const span = startPublishSpan(row, this.shard);
        try {
          const message = toOutgoingMessage(row, traceHeadersOf(span));
          const producer = this.producers.producerFor(row.topic);
          const tooBig = messageTooBig(message.payload, producer.maxMessageSize);
          if (tooBig) throw tooBig;
          ready.push({ row, span, producer, message });
        } catch (err) {
          endSpanWithError(span, err);
          this.held.add(row.aggregate_id);
          if (stored) this.keepInHand(row, err);
          else failed.push({ row, error: describeError(err) });
        }
      }
      if (failed.length === 0 && held.length === 0) return ready;
      try {
        await this.giveBack(failed, held);
      } catch (err) {
        for (const r of ready) r.span.end();
        throw err;
      }
      if (ready.every((r) => !messageTooBig(r.message.payload, r.producer.maxMessageSize))) return ready;
      for (const r of ready) r.span.end();
      rows = ready.map((r) => r.row);
    }
  }

  /** A row the broker has that cannot be sent again now: left in hand, its partner waiting, the shard unsettled. */
  private keepInHand(row: ClaimedRow, err: unknown): void {
    this.leftInHand++;
    this.deps.log.error({
      shard: this.shard, outbox_id: row.id.toString(), event_id: row.event_id, topic: row.topic, aggregate_id: row.aggregate_id, error: describeError(err),
    }, 'a row in hand the broker already has cannot be sent again: it stays in hand, its partner waits');
  }

  /** Failed rows wait out their backoff (or are parked), held rows go back in line: both without a sequence. */
  private async giveBack(failed: { row: ClaimedRow; error: string }[], held: ClaimedRow[]): Promise<void> {
    // A fenced run's failures may be the fence's doing (its producers closed): they count no attempt.
    this.assertCurrent();
    const random = this.deps.random ?? Math.random;
    const given = await this.deps.pool(giveBack({
      failed: failed.map(({ row, error }) => ({
        id: row.id, sequence: row.publish_sequence, error,
        delayMs: backoffMs(row.attempts + 1, this.deps.backoffBaseMs, this.deps.backoffMaxMs, random),
      })),
      held: held.map((row) => ({ id: row.id, sequence: row.publish_sequence })),
      maxAttempts: this.deps.maxAttempts,
      claimedBy: this.token,
    }));
    const parked = new Set(given.filter((g) => g.parked).map((g) => g.id));
    for (const { row, error } of failed) {
      const isParked = parked.has(row.id);
      this.deps.metrics.failed(row.topic, this.shard, isParked);
      this.deps.log.warn({
        shard: this.shard, outbox_id: row.id.toString(), event_id: row.event_id, event_type: row.event_type, topic: row.topic,
        aggregate_id: row.aggregate_id, attempt: row.attempts + 1, parked: isParked, error,
      }, isParked ? 'publish failed: row parked, its partner waits' : 'publish failed: will retry');
    }
    this.failed += failed.length;
  }

  private async markSent(sent: BatchResult['sent']): Promise<void> {
    if (sent.length === 0) return;
    this.assertCurrent();
    const ackedAt = this.now();
    const marked = await this.deps.pool(markSent({
      rows: sent.map(({ row, messageId }) => ({ id: row.id, sequence: row.publish_sequence, messageId })),
      claimedBy: this.token,
    }));
    if (marked.count < sent.length) {
      this.deps.log.warn({ shard: this.shard, sent: sent.length, marked: marked.count },
        'rows no longer held under the sequences this run sent them with were left to the run that holds them');
    }
    this.published += sent.length;
    const commitToAck = new Map<string, number[]>();
    for (const { row } of sent) {
      let seconds = commitToAck.get(row.topic);
      if (!seconds) commitToAck.set(row.topic, (seconds = []));
      seconds.push((ackedAt - row.occurred_at.getTime()) / 1000);
    }
    for (const [topic, seconds] of commitToAck) this.deps.metrics.published(topic, this.shard, seconds);
  }

  /** A run fenced off as stalled stops before it sends or writes: another run may be using the shard. */
  private assertCurrent(): void {
    if (!this.current()) throw new FenceLostError(`shard ${this.shard}: this run was fenced off as stalled`);
  }

  private async assertFence(): Promise<void> {
    const [row] = await this.deps.session(sessionPid());
    if (row?.pid !== this.deps.lockPid) throw new FenceLostError(`shard ${this.shard}: the connection holding its lock was lost`);
  }
}
