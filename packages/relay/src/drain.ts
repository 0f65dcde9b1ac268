// One drain run of one shard: claim → encode → publish → wait for receipts → mark sent,
// batch after batch, until the shard is empty or the run's time budget is spent.
import type postgres from 'postgres';
import {
  claimBatch, markSent, recordFailures, reclaimInHand, releaseClaims, nextRetryAt, settleShard, shardRange, PREPARED, type ClaimedRow,
} from '@relevo/db/sql';
import { OWN_TOPICS } from '@relevo/events';
import { PulsarError, formatMessageId, isRetriable, messageTooBig, type OutgoingMessage, type Producer } from '@relevo/pulsar';
import { endSpanWithError, traceHeadersOf, type Logger, type Span } from '@relevo/runtime';
import { backoffMs } from './backoff.ts';
import { toOutgoingMessage } from './message.ts';
import type { CommitSignal } from './commit-signal.ts';
import { startPublishSpan } from './publish-span.ts';
import type { RelayMetrics } from './metrics.ts';
import type { ProducerPool } from './producers.ts';

export interface DrainDeps {
  /** A one-connection client whose session holds the shard's advisory lock. */
  sql: postgres.Sql;
  /** That session's backend pid: claims run only while the connection is still that session. */
  lockPid: number;
  /** The shared pool: marks go through it, so marking one batch overlaps claiming the next. */
  pool: postgres.Sql;
  producers: ProducerPool;
  log: Logger;
  metrics: RelayMetrics;
  relayId: string;
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
}

/** Another relay still holds this shard's producer names: back off, it is draining. */
export class ShardBusyError extends Error {
  readonly code = 'SHARD_BUSY';
}

/** The connection that held the shard's lock was replaced: stop, another relay may own it now. */
export class FenceLostError extends Error {
  readonly code = 'FENCE_LOST';
}

/**
 * No producer could be created because the broker is unreachable or not ready. Not the
 * rows' fault, so no attempt is counted: the run stops, its rows stay in hand and go first,
 * with the same sequence ids, once the broker is back. (Counted as attempts, an outage of a
 * few minutes would park every row.)
 */
export class BrokerUnavailableError extends Error {
  readonly code = 'BROKER_UNAVAILABLE';
}

/** A batch's rows that reached the broker's answer (those failed before sending are already given back). */
interface BatchResult {
  /** Each with the broker's message id, formatted as the outbox stores it. */
  sent: { row: ClaimedRow; messageId: string }[];
  failed: { row: ClaimedRow; error: string }[];
}

export async function drainShard(deps: DrainDeps, shard: number, budgetMs: number): Promise<DrainOutcome> {
  const now = deps.now ?? Date.now;
  const deadline = now() + budgetMs;
  const range = shardRange(shard, deps.shards);
  const brokerHas = await syncSequenceFloor(deps, shard);
  let published = 0;
  let failed = 0;
  const inHand = await deps.sql.unsafe<ClaimedRow[]>(reclaimInHand(), [shard, deps.relayId, deps.lockPid], PREPARED);
  if (inHand.length > 0) deps.log.info({ shard, rows: inHand.length }, 're-sending rows claimed before a stop, same sequence ids');
  const resends = splitAtBrokerFloor(inHand, brokerHas);
  // Partners with a failed row in this run: their later rows are held back, even those the
  // next claim took before the failure was recorded.
  const blocked = new Set<string>();
  let marking: Promise<void> = Promise.resolve();
  let seen = 0;
  const claim = (): Promise<ClaimedRow[]> => {
    seen = deps.commits?.generation(shard) ?? 0;
    const rows = deps.sql.unsafe<ClaimedRow[]>(claimBatch(), [range.from, shard, deps.batchSize, deps.relayId, deps.lockPid, range.to], PREPARED);
    // Awaited below, or on the way out; a run stopped by a publish error must not also
    // surface it as an unhandled rejection.
    rows.catch(() => undefined);
    return rows;
  };
  // Rows in hand go out first, then claims. All of them, whatever the time budget: a run
  // that ends cleanly settles the shard, and a settled shard is not looked at again.
  const next = (): Promise<ClaimedRow[]> => {
    const rows = resends.shift();
    return rows ? Promise.resolve(rows) : claim();
  };
  let claimed = next();
  let reason: DrainOutcome['reason'] = 'empty';
  try {
    for (;;) {
      const rows = await claimed;
      if (rows.length === 0) {
        // Linger: a commit for this shard in the next moments is claimed at once by this
        // run, instead of through a new drain job (fetch, lock, producers, sequence floor).
        const linger = Math.min(deps.idleLingerMs ?? 0, deadline - now());
        if (deps.commits && (await deps.commits.wait(shard, seen, linger))) {
          claimed = claim();
          continue;
        }
        await assertFence(deps, shard);
        break;
      }
      assertCurrent(deps, shard);
      const publishing = publishBatch(deps, shard, bySequence(rows), blocked);
      // A full batch means a backlog: the next claim's round trip overlaps this batch's wait
      // for receipts. A partial one emptied the shard: the next claim waits for the
      // receipts, so the rows committed meanwhile go out in the next batch, not the one
      // after it. Either way its rows are published only once this batch's outcome is in
      // `blocked`, so a partner whose row failed here keeps its order.
      const more = resends.length > 0 || now() < deadline;
      const backlog = resends.length > 0 || rows.length >= deps.batchSize;
      if (more && backlog) claimed = next();
      const result = await publishing;
      await marking;
      marking = settle(deps, shard, result);
      // Awaited before the next mark or on the way out; until then a failure must not count
      // as an unhandled rejection (which would kill the process mid-batch).
      marking.catch(() => undefined);
      // Failed rows give their sequences back before any higher one goes out (see publishBatch).
      if (result.failed.length > 0) await marking;
      published += result.sent.length;
      failed += result.failed.length;
      if (!more) {
        reason = 'budget';
        break;
      }
      if (!backlog) claimed = next();
    }
  } finally {
    await marking;
    await claimed.catch(() => undefined);
  }
  await deps.sql.unsafe(settleShard(), [shard, deps.lockPid], PREPARED);
  if (reason === 'budget') return { published, failed, reason, nextRetryAt: undefined };
  const [retry] = await deps.sql.unsafe<{ at: Date | null }[]>(nextRetryAt(), [range.from, range.to], PREPARED);
  return { published, failed, reason: 'empty', nextRetryAt: retry?.at ?? undefined, commitsSeen: seen };
}

/**
 * A run fenced off as stalled stops before it sends or writes: another run may be using the
 * shard's producers, and its rows stay in hand, to be re-sent with their sequences.
 */
function assertCurrent(deps: DrainDeps, shard: number): void {
  if (deps.current && !deps.current()) throw new FenceLostError(`shard ${shard}: this run was fenced off as stalled`);
}

async function assertFence(deps: DrainDeps, shard: number): Promise<void> {
  const [row] = await deps.sql.unsafe<{ pid: number }[]>('select pg_backend_pid() as pid');
  if (row?.pid !== deps.lockPid) throw new FenceLostError(`shard ${shard}: the connection holding its lock was lost`);
}

const bySequence = (rows: ClaimedRow[]): ClaimedRow[] => [...rows].sort((a, b) => (a.publish_sequence < b.publish_sequence ? -1 : 1));

/**
 * Rows in hand to re-send, in sequence order, as separate sends: first those the broker
 * already has (at or below its highest sequence id for the row's producer), then the rest.
 * The broker judges a batch a duplicate by its first sequence id: one batch holding both
 * would be dropped whole, and the rows it had not seen marked sent without being stored.
 */
export function splitAtBrokerFloor(rows: ClaimedRow[], brokerHas: ReadonlyMap<string, bigint>): ClaimedRow[][] {
  const sorted = bySequence(rows);
  const stored = (r: ClaimedRow) => r.publish_sequence <= (brokerHas.get(r.topic) ?? -1n);
  return [sorted.filter(stored), sorted.filter((r) => !stored(r))].filter((part) => part.length > 0);
}

/**
 * The broker remembers, per producer name, the highest sequence id it persisted. If the
 * database's shard sequence is behind it (a restored backup, a re-created database), new
 * rows would be dropped as duplicates: move the shard's sequence past the broker's.
 * Returns that highest sequence id per topic.
 */
async function syncSequenceFloor(deps: DrainDeps, shard: number): Promise<Map<string, bigint>> {
  const brokerHas = new Map<string, bigint>();
  for (const topic of OWN_TOPICS) {
    try {
      const producer = await deps.producers.producer(topic, shard);
      brokerHas.set(topic, producer.lastSequenceId);
    } catch (err) {
      if (err instanceof PulsarError && err.code === 'ProducerBusy') {
        throw new ShardBusyError(`shard ${shard}: producer for ${topic} is held by another relay`);
      }
      if (isRetriable(err)) throw new BrokerUnavailableError(`shard ${shard}: no producer for ${topic}: ${describe(err)}`, { cause: err });
      deps.log.error({ err, shard, topic }, 'cannot create producer; rows for this topic will fail and back off');
    }
  }
  const floor = [...brokerHas.values()].reduce((max, s) => (s > max ? s : max), -1n);
  if (floor >= 0n) {
    await deps.sql.unsafe(
      'update relay_shards set last_sequence = greatest(last_sequence, $2::bigint) where shard = $1',
      [shard, floor.toString()],
    );
  }
  return brokerHas;
}

/**
 * A partner whose row fails holds its later rows back, so its order is kept on the topic.
 *
 * Everything that can fail a row before the broker sees it (encoding, the topic's producer,
 * the size limit) is decided before any row of the batch is sent, and such rows give their
 * sequence ids back first. A row held or failed keeps a sequence below the ones about to be
 * stored; had the relay stopped before giving it back, its re-send would be judged a
 * duplicate and the row marked sent without ever being stored.
 */
async function publishBatch(deps: DrainDeps, shard: number, rows: ClaimedRow[], blocked: Set<string>): Promise<BatchResult> {
  const ready: { row: ClaimedRow; span: Span; producer: Producer; message: OutgoingMessage }[] = [];
  const failed: BatchResult['failed'] = [];
  const held: ClaimedRow[] = [];
  // A topic whose producer the broker refused (schema, authorization) fails the batch's other
  // rows of that topic with the same error, without asking the broker again for each.
  const refused = new Map<string, unknown>();
  for (const row of rows) {
    if (blocked.has(row.aggregate_id)) {
      held.push(row);
      continue;
    }
    const span = startPublishSpan(row, shard);
    try {
      const message = toOutgoingMessage(row, traceHeadersOf(span));
      if (refused.has(row.topic)) throw refused.get(row.topic);
      const producer = await deps.producers.producer(row.topic, shard).catch((err: unknown) => {
        refused.set(row.topic, err);
        throw err;
      });
      const tooBig = messageTooBig(message.payload, producer.maxMessageSize);
      if (tooBig) throw tooBig;
      ready.push({ row, span, producer, message });
    } catch (err) {
      endSpanWithError(span, err);
      const stop = err instanceof PulsarError && err.code === 'ProducerBusy' ? new ShardBusyError(err.message)
        : isRetriable(err) ? new BrokerUnavailableError(`shard ${shard}: no producer for ${row.topic}: ${describe(err)}`, { cause: err })
          : undefined;
      if (stop) {
        // Nothing of this batch went out: its rows stay in hand, above every stored sequence.
        for (const r of ready) r.span.end();
        throw stop;
      }
      blocked.add(row.aggregate_id);
      failed.push({ row, error: describe(err) });
    }
  }
  if (failed.length > 0 || held.length > 0) {
    try {
      await giveBack(deps, shard, failed, held);
      assertCurrent(deps, shard);
    } catch (err) {
      for (const r of ready) r.span.end();
      throw err;
    }
  }
  const result: BatchResult = { sent: [], failed: [] };
  const sending = Promise.allSettled(ready.map((r) => r.producer.send(r.message)));
  // The claim is the whole batch: send it now rather than after the producer's batching
  // delay, a timer that fires late on a busy event loop. Its receipts are awaited below.
  for (const producer of new Set(ready.map((r) => r.producer))) void producer.flush();
  const receipts = await sending;
  receipts.forEach((s, i) => {
    const { row, span } = ready[i]!;
    if (s.status === 'fulfilled') {
      const messageId = formatMessageId(s.value.messageId);
      if (span.isRecording()) span.setAttribute('messaging.message.id', messageId);
      span.end();
      result.sent.push({ row, messageId });
    } else {
      endSpanWithError(span, s.reason);
      blocked.add(row.aggregate_id);
      result.failed.push({ row, error: describe(s.reason) });
    }
  });
  return result;
}

async function settle(deps: DrainDeps, shard: number, r: BatchResult): Promise<void> {
  assertCurrent(deps, shard);
  if (r.sent.length > 0) {
    const ackedAt = (deps.now ?? Date.now)();
    await deps.pool.unsafe(markSent(), [
      r.sent.map((s) => s.row.id.toString()),
      r.sent.map((s) => s.messageId),
    ], PREPARED);
    const commitToAck = new Map<string, number[]>();
    for (const { row } of r.sent) {
      let seconds = commitToAck.get(row.topic);
      if (!seconds) commitToAck.set(row.topic, (seconds = []));
      seconds.push((ackedAt - row.occurred_at.getTime()) / 1000);
    }
    for (const [topic, seconds] of commitToAck) deps.metrics.published(topic, shard, seconds);
  }
  if (r.failed.length > 0) await giveBack(deps, shard, r.failed, []);
}

/** Failed rows wait out their backoff (or are parked), held rows go back in line: both without a sequence. */
async function giveBack(deps: DrainDeps, shard: number, failed: BatchResult['failed'], held: ClaimedRow[]): Promise<void> {
  // A fenced run's failures may be the fence's doing (its producers closed): they count no attempt.
  assertCurrent(deps, shard);
  if (failed.length > 0) {
    const random = deps.random ?? Math.random;
    await deps.pool.unsafe(recordFailures(), [
      failed.map((f) => f.row.id.toString()),
      failed.map((f) => f.error),
      failed.map((f) => backoffMs(f.row.attempts + 1, deps.backoffBaseMs, deps.backoffMaxMs, random)),
      deps.maxAttempts,
    ], PREPARED);
    for (const { row, error } of failed) {
      const parked = row.attempts + 1 >= deps.maxAttempts;
      deps.metrics.failed(row.topic, shard, parked);
      deps.log.warn({
        shard, outbox_id: row.id.toString(), event_id: row.event_id, event_type: row.event_type, topic: row.topic,
        aggregate_id: row.aggregate_id, attempt: row.attempts + 1, parked, error,
      }, parked ? 'publish failed: row parked, its partner waits' : 'publish failed: will retry');
    }
  }
  if (held.length > 0) await deps.pool.unsafe(releaseClaims(), [held.map((h) => h.id.toString())], PREPARED);
}

function describe(err: unknown): string {
  if (err instanceof Error) return 'code' in err && err.code ? `${String(err.code)}: ${err.message}` : err.message;
  return String(err);
}
