// Sending one batch of rows of a shard, the same for both outbox designs: what can fail a row
// before the broker sees it is decided first, such rows and their partners' rows behind them
// are set aside (given back in line, or moved to the exceptions table) before anything of the
// batch is sent, then the rest go out in sequence order and their receipts are awaited.
import type { ClaimedRow } from '@relevo/db/sql';
import { formatMessageId, messageTooBig, type OutgoingMessage, type Producer } from '@relevo/pulsar';
import { endSpanWithError, traceHeadersOf, type Span } from '@relevo/runtime';
import { FenceLostError } from './errors.ts';
import { toOutgoingMessage } from './message.ts';
import type { RelayMetrics } from './metrics.ts';
import { startPublishSpan } from './publish-span.ts';
import { describeError, type RunProducers } from './run-producers.ts';

export interface SendableBatch<R extends ClaimedRow> {
  rows: R[];
  /** Rows an earlier run left in hand, each fate already decided: sent whatever their partner. */
  inHand: boolean;
}

/** What the broker answered for a batch's rows it was given. */
export interface SendResult<R extends ClaimedRow> {
  /** Stored: the message id, or null when the broker answered that it already had the message. */
  sent: { row: R; messageId: string | null }[];
  /** Their send failed after the producer took them: maybe stored. They stay in hand. */
  unknown: R[];
}

export interface SendContext<R extends ClaimedRow> {
  shard: number;
  producers: RunProducers;
  /** Partners the run holds back: a row of theirs failed in it, or waits in hand. Grows here. */
  held: Set<string>;
  /** Sets failed rows and held rows aside before the batch sends anything. */
  setAside(failed: { row: R; error: string }[], held: R[]): Promise<void>;
}

const bySequence = <R extends ClaimedRow>(rows: R[]): R[] => [...rows].sort((a, b) => (a.publish_sequence < b.publish_sequence ? -1 : 1));

/**
 * Sends a batch's rows in sequence order. Everything that can fail a row before the broker
 * sees it (encoding, its topic's producer, the size limit) is decided first, and such rows,
 * with the rows of their partner held behind them, are set aside before any row of the
 * batch is sent: a row given back after a higher sequence of its producer was stored would
 * look stored to the next run.
 */
export async function sendBatch<R extends ClaimedRow>(ctx: SendContext<R>, batch: SendableBatch<R>): Promise<SendResult<R>> {
  const ready: { row: R; span: Span; producer: Producer; message: OutgoingMessage }[] = [];
  const failed: { row: R; error: string }[] = [];
  const held: R[] = [];
  const failedHere = new Set<string>();
  for (const row of bySequence(batch.rows)) {
    if (failedHere.has(row.aggregate_id) || (!batch.inHand && ctx.held.has(row.aggregate_id))) {
      held.push(row);
      continue;
    }
    const span = startPublishSpan(row, ctx.shard);
    try {
      const message = toOutgoingMessage(row, traceHeadersOf(span));
      const producer = ctx.producers.producerFor(row.topic);
      const tooBig = messageTooBig(message.payload, producer.maxMessageSize);
      if (tooBig) throw tooBig;
      ready.push({ row, span, producer, message });
    } catch (err) {
      endSpanWithError(span, err);
      failedHere.add(row.aggregate_id);
      ctx.held.add(row.aggregate_id);
      failed.push({ row, error: describeError(err) });
    }
  }
  if (failed.length > 0 || held.length > 0) {
    try {
      await ctx.setAside(failed, held);
    } catch (err) {
      for (const r of ready) r.span.end();
      throw err;
    }
  }
  const receipts = Promise.allSettled(ready.map((r) => ctx.producers.send(r.producer, r.message)));
  // The claim is the whole batch: send it now rather than after the producer's batching
  // delay, a timer that fires late on a busy event loop. Its receipts are awaited below.
  ctx.producers.flush(ready.map((r) => r.producer));
  const settled = await receipts;
  // Refused by the fence before reaching the producer: the run ends as fenced, its rows in hand.
  const fence = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && s.reason instanceof FenceLostError);
  if (fence) {
    for (const r of ready) r.span.end();
    throw fence.reason;
  }
  const result: SendResult<R> = { sent: [], unknown: [] };
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

/** Counts a batch's stored rows, each with its commit → receipt time, per topic. */
export function recordPublished(metrics: RelayMetrics, shard: number, sent: readonly { row: ClaimedRow }[], ackedAt: number): void {
  const commitToAck = new Map<string, number[]>();
  for (const { row } of sent) {
    let seconds = commitToAck.get(row.topic);
    if (!seconds) commitToAck.set(row.topic, (seconds = []));
    seconds.push((ackedAt - row.occurred_at.getTime()) / 1000);
  }
  for (const [topic, seconds] of commitToAck) metrics.published(topic, shard, seconds);
}
