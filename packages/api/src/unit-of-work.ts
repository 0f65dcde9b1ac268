// The one way every write runs: in ONE transaction, (1) serialise on the idempotency key
// and replay a stored response (the lock and the lookup in one round trip), (2) lock the
// partner row and decide with the domain, (3) insert or save the partner and its
// integrations, (4) append the events to the outbox and (5) store the idempotency
// response, (3)–(5) sent with the COMMIT in one round trip; then (6) tell onCommitted, best
// effort, outside the transaction.
import type { DomainEvent, Partner } from '@relevo/domain';
import {
  appendToOutbox, findIdempotencyRecord, lockIdempotencyKey, lockPartner, runTransaction, storeIdempotencyRecord, type SendWithCommit, type Tx,
} from '@relevo/db';
import type { AppDeps } from './context.ts';
import { REPLAYED_HEADER, type IdempotencyRequest } from './idempotency.ts';
import { ApiError, NotFoundError, ValidationError, VersionMismatchError } from './problems.ts';

export interface WriteOutcome {
  status: 200 | 201;
  body: unknown;
  /** The partner aggregate version after the write: the ETag. */
  version: number;
  location?: string;
  /** Domain events to append to the outbox (none for a write that changed nothing). */
  events: DomainEvent[];
}

export interface WriteRequest {
  /** The caller's idempotency principal, and the one its token had before principals were keyed (auth.ts, Caller). */
  principal: string;
  legacyPrincipal: string;
  idempotency: IdempotencyRequest | null;
  /** Trace context propagated into the outbox rows' headers. */
  traceHeaders: Record<string, string>;
}

export interface Reply {
  status: number;
  /** The JSON body as sent; stored verbatim so a replay is byte-identical. */
  bodyText: string;
  headers: Record<string, string>;
}

/**
 * Decides and queues the aggregate's row writes (insertPartner, savePartner, insertIntegration,
 * saveIntegration) through `sendWithCommit`, so they go out with the outbox rows and the
 * COMMIT. They go first: a row the database refuses (a taken email) fails the statements
 * behind it, and is the error that surfaces.
 */
export type Work = (tx: Tx, now: Date, sendWithCommit: SendWithCommit) => Promise<WriteOutcome>;

export interface UnitOfWork {
  run(req: WriteRequest, work: Work): Promise<Reply>;
}

export const etag = (version: number) => `"${version}"`;

export function createUnitOfWork(deps: AppDeps): UnitOfWork {
  const clock = deps.clock ?? (() => new Date());
  return {
    async run(req, work) {
      const result = await runTransaction(deps.database, async (tx, sendWithCommit) => {
        const idem = req.idempotency;
        if (idem) {
          const [, stored] = await Promise.all([
            lockIdempotencyKey(tx, req.principal, idem.key),
            findIdempotencyRecord(tx, req.principal, idem.key, req.legacyPrincipal),
          ]);
          if (stored) {
            if (stored.requestHash !== idem.requestHash) {
              throw new ApiError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${idem.key} was first used with another request`);
            }
            const bodyText = typeof stored.body === 'string' ? stored.body : JSON.stringify(stored.body);
            const reply: Reply = { status: stored.status, bodyText, headers: { ...stored.headers, [REPLAYED_HEADER]: 'true' } };
            return { reply, aggregateIds: [] as string[], eventTypes: [] as DomainEvent['type'][] };
          }
        }
        const now = clock();
        const outcome = await work(tx, now, sendWithCommit);
        const bodyText = JSON.stringify(outcome.body);
        const headers: Record<string, string> = { ETag: etag(outcome.version) };
        if (outcome.location) headers.Location = outcome.location;
        sendWithCommit(appendToOutbox(tx, outcome.events, { occurredAt: now, headers: req.traceHeaders }));
        if (idem) {
          sendWithCommit(storeIdempotencyRecord(tx, {
            principal: req.principal,
            key: idem.key,
            requestHash: idem.requestHash,
            status: outcome.status,
            body: bodyText,
            headers,
          }));
        }
        const aggregateIds = [...new Set(outcome.events.map((e) => e.partner_id))];
        await deps.beforeCommit?.({ aggregateIds });
        return { reply: { status: outcome.status, bodyText, headers }, aggregateIds, eventTypes: outcome.events.map((e) => e.type) };
      });
      deps.metrics?.outboxWritten(result.eventTypes);
      if (result.aggregateIds.length > 0 && deps.onCommitted) notifyCommitted(deps, result.aggregateIds);
      return result.reply;
    },
  };
}

function notifyCommitted(deps: AppDeps, aggregateIds: string[]): void {
  const fail = (err: unknown) => deps.log.warn({ err, aggregateIds }, 'onCommitted failed (the change is committed)');
  try {
    const pending = deps.onCommitted!(aggregateIds);
    if (pending && typeof pending.then === 'function') pending.then(undefined, fail);
  } catch (err) {
    fail(err);
  }
}

/**
 * Locks the partner row for the rest of the transaction and checks If-Match against its
 * version: 404 when missing, 412 when stale. The domain decides about deleted partners.
 */
export async function lockPartnerForWrite(tx: Tx, id: string, ifMatch: string | undefined): Promise<Partner> {
  const partner = await lockPartner(tx, id);
  if (!partner) throw new NotFoundError('partner', id);
  checkIfMatch(ifMatch, partner.version);
  return partner;
}

/** If-Match: `*`, or a list of entity tags (`"3"`, `W/"3"`, or a bare 3). */
export function checkIfMatch(header: string | undefined, version: number): void {
  if (header === undefined) return;
  const value = header.trim();
  if (value === '*') return;
  const tags = value.split(',').map((t) => t.trim());
  const versions = tags.map((t) => /^(?:W\/)?"?(\d{1,10})"?$/.exec(t)?.[1]);
  if (tags.length === 0 || versions.some((v) => v === undefined)) {
    throw new ValidationError([{ path: 'headers.if-match', message: 'expected an ETag such as "3"' }], 'the If-Match header is not valid');
  }
  if (!versions.some((v) => Number(v) === version)) throw new VersionMismatchError(value, version);
}
