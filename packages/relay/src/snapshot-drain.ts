// One drain run of one shard of the write-once outbox (RELAY_OUTBOX_DESIGN=snapshot): send
// again what an earlier run had in flight, then read → encode → publish → wait for receipts,
// window batch after window batch, recording the receipts as the cursor's key (one small
// update, carried by the next read) instead of marking rows. docs/architecture.md, "The
// write-once outbox"; the statements are in @relevo/db's snapshot-plans.ts.
import {
  ackWindow, cursorState, keyOf, readInFlight, readWindow, recordExceptions, sessionPid, shardRange,
  type InFlightRow, type KeyRange, type WindowKey, type WindowRow,
} from '@relevo/db/sql';
import { OWN_TOPICS } from '@relevo/events';
import type { DrainDeps, DrainOutcome } from './drain.ts';
import { CursorBehindError, FenceLostError, SendOutcomeUnknownError } from './errors.ts';
import { RunProducers } from './run-producers.ts';
import { recordPublished, sendBatch, type SendResult } from './send-batch.ts';

export async function drainShardSnapshot(deps: DrainDeps, shard: number, budgetMs: number): Promise<DrainOutcome> {
  const current = deps.current ?? (() => true);
  deps.producers.acquire(shard);
  try {
    const producers = await RunProducers.open(deps.producers, shard, deps.topics ?? OWN_TOPICS, deps.log, current);
    return await new SnapshotRun(deps, shard, budgetMs, producers, current).run();
  } finally {
    deps.producers.release(shard);
  }
}

interface WindowBatch {
  /** The rows to send, in sequence order. */
  rows: WindowRow[];
  /** The key and sequence of the batch's last row, sent or not: the receipts move the cursor there. */
  end?: { key: WindowKey; sequence: bigint };
  inHand: boolean;
}

class SnapshotRun {
  private readonly deps: DrainDeps;
  private readonly shard: number;
  private readonly range: KeyRange;
  private readonly now: () => number;
  private readonly deadline: number;
  private readonly producers: RunProducers;
  private readonly current: () => boolean;
  private readonly held = new Set<string>();
  /** The receipts recorded here and not yet in the database: the next read carries them. */
  private ack: { key: WindowKey; nextSequence: bigint } | undefined;
  private published = 0;
  private failed = 0;
  private leftInHand = 0;
  private commitsSeen = 0;

  constructor(deps: DrainDeps, shard: number, budgetMs: number, producers: RunProducers, current: () => boolean) {
    this.deps = deps;
    this.shard = shard;
    this.range = shardRange(shard, deps.shards);
    this.now = deps.now ?? Date.now;
    this.deadline = this.now() + budgetMs;
    this.producers = producers;
    this.current = current;
  }

  async run(): Promise<DrainOutcome> {
    await this.checkCursor();
    let reason: 'empty' | 'budget' = 'budget';
    try {
      const inFlight = await this.takeInFlight();
      if (this.leftInHand === 0) reason = await this.publish(inFlight);
    } finally {
      await this.writeAck();
    }
    const outcome = { published: this.published, failed: this.failed, leftInHand: this.leftInHand, nextRetryAt: undefined };
    return reason === 'budget' ? { ...outcome, reason } : { ...outcome, reason, commitsSeen: this.commitsSeen };
  }

  /**
   * The broker's sequences for the shard's producers are at most the shard's own, and the
   * cursor's snapshot is not ahead of the database's transactions: otherwise the database is
   * not the one the cursor and the broker describe, and the shard stops.
   */
  private async checkCursor(): Promise<void> {
    const [state] = await this.deps.session(cursorState({ shard: this.shard }));
    const brokerFloor = this.producers.highestFloor();
    if (!state) throw new CursorBehindError(`shard ${this.shard}: no cursor`);
    if (state.snapshot_ahead || brokerFloor > state.last_sequence) {
      throw new CursorBehindError(`shard ${this.shard}: the cursor is behind the broker (database sequence ${state.last_sequence}, `
        + `broker ${brokerFloor}${state.snapshot_ahead ? ', its snapshot ahead of this database\'s transactions' : ''}): `
        + 'a restored or failed-over database; nothing is published until an operator resets the cursor');
    }
  }

  /**
   * What an earlier run had in flight: read again under the same sequences. Rows the broker
   * holds (at or below their producer's floor) go apart from the rest, rows behind an open
   * exception of their partner join it, and a row whose producer's floor is unknown keeps
   * the whole range in flight: the cursor cannot pass it.
   */
  private async takeInFlight(): Promise<WindowBatch[]> {
    const rows = await this.deps.session(readInFlight({ shard: this.shard, range: this.range, lockPid: this.deps.lockPid }));
    const last = rows.at(-1);
    if (!last) return [];
    const stored: InFlightRow[] = [];
    const resend: InFlightRow[] = [];
    const behind: InFlightRow[] = [];
    for (const row of rows) {
      if (row.excepted) continue;
      if (row.behind) {
        behind.push(row);
        continue;
      }
      const floor = this.producers.floorOf(row);
      if (floor === undefined) this.leftInHand++;
      else if (row.publish_sequence <= floor) stored.push(row);
      else resend.push(row);
    }
    this.deps.log.info({ shard: this.shard, stored: stored.length, resent: resend.length, held: behind.length, kept: this.leftInHand },
      'rows in flight in an earlier run: re-sending them under their sequences');
    if (this.leftInHand > 0) return [];
    if (behind.length > 0) await this.setAside([], behind);
    const end = { key: keyOf(last), sequence: last.publish_sequence };
    // Apart, never one batch: the broker judges a batch by its first sequence id.
    const parts = [stored, resend].filter((part) => part.length > 0).map((part): WindowBatch => ({ rows: part, inHand: true }));
    if (parts.length === 0) return [{ rows: [], end, inHand: true }];
    parts.at(-1)!.end = end;
    return parts;
  }

  private async publish(queue: WindowBatch[]): Promise<'empty' | 'budget'> {
    // Rows in flight go first, each part on its own.
    for (const part of queue) {
      const result = await this.send(part);
      this.received(part, result);
    }
    let next = this.nextBatch();
    // Whether the last read found nothing: an empty read may only have closed the window (it
    // cannot open the next while rows are in flight, or when a run ends after a full read),
    // so the first empty read is followed at once by another, carrying the receipts so far,
    // which opens a window on the rows committed since. Only a second empty read lingers.
    let lastReadEmpty = false;
    try {
      for (;;) {
        const batch = await next;
        if (!batch.end) {
          if (!lastReadEmpty) {
            lastReadEmpty = true;
            next = this.nextBatch();
            continue;
          }
          if (await this.linger()) {
            next = this.nextBatch();
            continue;
          }
          await this.assertFence();
          return 'empty';
        }
        this.assertCurrent();
        const sending = this.send(batch);
        const more = this.now() < this.deadline;
        // A full read means a backlog: the next read overlaps this batch's receipts (it is in
        // flight too, the cursor's range covers both). After a partial one it waits, so it can
        // carry these receipts and open the next window.
        lastReadEmpty = false;
        const backlog = batch.rowsRead >= this.deps.batchSize;
        if (more && backlog) next = this.nextBatch();
        this.received(batch, await sending);
        if (!more) return 'budget';
        if (!backlog) next = this.nextBatch();
      }
    } finally {
      await next.catch(() => undefined);
    }
  }

  private async send(batch: WindowBatch): Promise<SendResult<WindowRow>> {
    if (batch.rows.length === 0) return { sent: [], unknown: [] };
    return sendBatch({ shard: this.shard, producers: this.producers, held: this.held, setAside: (f, h) => this.setAside(f, h) }, batch);
  }

  /** A batch's receipts: counted, and the cursor's key moves past the batch (written with the next read). */
  private received(batch: WindowBatch, result: SendResult<WindowRow>): void {
    if (result.unknown.length > 0) {
      throw new SendOutcomeUnknownError(`shard ${this.shard}: ${result.unknown.length} sends failed after the producer took them; `
        + 'they stay in flight and go out again under their sequences');
    }
    this.published += result.sent.length;
    recordPublished(this.deps.metrics, this.shard, result.sent, this.now());
    if (batch.end) this.ack = { key: batch.end.key, nextSequence: batch.end.sequence + 1n };
  }

  /** The next read of the window, carrying the receipts so far. */
  private nextBatch(): Promise<WindowBatch & { rowsRead: number }> {
    this.commitsSeen = this.deps.commits?.generation(this.shard) ?? 0;
    const ack = this.ack;
    const reading = this.deps.session(readWindow({
      shard: this.shard, range: this.range, limit: this.deps.batchSize, lockPid: this.deps.lockPid, generation: this.deps.generation,
      ...(ack ? { ack: ack.key, ackSequence: ack.nextSequence } : {}),
    })).then((rows) => {
      if (this.ack === ack) this.ack = undefined;
      const last = rows.at(-1);
      for (const row of rows) if (row.held) this.held.add(row.aggregate_id);
      return {
        rows: rows.filter((r) => !r.held), inHand: false, rowsRead: rows.length,
        ...(last ? { end: { key: keyOf(last), sequence: last.publish_sequence } } : {}),
      };
    });
    reading.catch(() => undefined);
    return reading;
  }

  /** Writes receipts no read carried: the run ends. */
  private async writeAck(): Promise<void> {
    const ack = this.ack;
    if (!ack || !this.current()) return;
    await this.deps.session(ackWindow({ shard: this.shard, lockPid: this.deps.lockPid, key: ack.key, nextSequence: ack.nextSequence }));
    this.ack = undefined;
  }

  private async linger(): Promise<boolean> {
    const { commits } = this.deps;
    if (!commits) return false;
    return commits.wait(this.shard, this.commitsSeen, Math.min(this.deps.idleLingerMs ?? 0, this.deadline - this.now()));
  }

  /** Failed rows and the rows held behind them move to the exceptions table before their batch sends anything. */
  private async setAside(failed: { row: WindowRow; error: string }[], held: WindowRow[]): Promise<void> {
    this.assertCurrent();
    await this.deps.session(recordExceptions({
      shard: this.shard,
      failed: failed.map(({ row, error }) => ({ id: row.id, aggregateId: row.aggregate_id, error })),
      held: held.map((row) => ({ id: row.id, aggregateId: row.aggregate_id })),
    }));
    for (const { row, error } of failed) {
      this.deps.metrics.failed(row.topic, this.shard, false);
      this.deps.log.warn({ shard: this.shard, outbox_id: row.id.toString(), event_id: row.event_id, topic: row.topic, error },
        'publish failed: the row moved to the exceptions table, its partner waits');
    }
    this.failed += failed.length;
  }

  private assertCurrent(): void {
    if (!this.current()) throw new FenceLostError(`shard ${this.shard}: this run was fenced off as stalled`);
  }

  private async assertFence(): Promise<void> {
    const [row] = await this.deps.session(sessionPid());
    if (row?.pid !== this.deps.lockPid) throw new FenceLostError(`shard ${this.shard}: the connection holding its lock was lost`);
  }
}
