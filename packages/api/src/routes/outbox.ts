// /v1/outbox: the operator page's data and actions, on the same queries and actions as
// `relevo outbox status`, `list --state parked|skipped`, `retry` and `skip`, for tokens with
// the operator scope. Retry and skip record the token's name as who did it.
import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  activeShards, findOutboxRows, listOutbox, outboxStatus, retryParked, skipParked, stateTotals, type OutboxRecord,
} from '@relevo/db';
import type { AppDeps, AppEnv } from '../context.ts';
import { ApiError, NotFoundError } from '../problems.ts';
import { OutboxIdParams, OutboxListQuery, OutboxRowList, OutboxRowSchema, OutboxStatusSchema, RetryBody, SkipBody } from '../schemas.ts';
import { PROBLEM_RESPONSES, SECURITY } from './common.ts';
import type { Hook } from './hook.ts';

const tags = ['outbox'];
const DEFAULT_SHARDS = 4;
const json = <T>(schema: T) => ({ 'application/json': { schema } });
const ACTION_PROBLEMS = {
  ...PROBLEM_RESPONSES,
  409: { description: 'the row is not parked', content: PROBLEM_RESPONSES[404].content },
} as const;

const statusRoute = createRoute({
  method: 'get', path: '/outbox/status', tags, security: SECURITY.operator,
  summary: 'Rows per state in all, per shard and per topic (sent: in the last sent_window_seconds); oldest unsent; parked partners; drains running now',
  responses: { 200: { description: 'the outbox now', content: json(OutboxStatusSchema) }, ...PROBLEM_RESPONSES },
});

const parkedRoute = createRoute({
  method: 'get', path: '/outbox/parked', tags, security: SECURITY.operator, summary: 'Parked rows, oldest first',
  request: { query: OutboxListQuery },
  responses: { 200: { description: 'parked rows', content: json(OutboxRowList) }, ...PROBLEM_RESPONSES },
});

const skippedRoute = createRoute({
  method: 'get', path: '/outbox/skipped', tags, security: SECURITY.operator, summary: 'Skipped rows, newest first, with who skipped them and why',
  request: { query: OutboxListQuery },
  responses: { 200: { description: 'skipped rows', content: json(OutboxRowList) }, ...PROBLEM_RESPONSES },
});

const retryRoute = createRoute({
  method: 'post', path: '/outbox/{id}/retry', tags, security: SECURITY.operator,
  summary: 'Put a parked row back in line (attempts reset) and wake the relay',
  request: { params: OutboxIdParams, body: { content: json(RetryBody), required: true } },
  responses: { 200: { description: 'the row, pending again', content: json(OutboxRowSchema) }, ...ACTION_PROBLEMS },
});

const skipRoute = createRoute({
  method: 'post', path: '/outbox/{id}/skip', tags, security: SECURITY.operator,
  summary: 'Mark a parked row done without publishing it, with the reason; releases its partner',
  request: { params: OutboxIdParams, body: { content: json(SkipBody), required: true } },
  responses: { 200: { description: 'the row, skipped', content: json(OutboxRowSchema) }, ...ACTION_PROBLEMS },
});

/** Who an operator action is recorded as: the token's name, marked as the API's. */
const actorOf = (c: Context<AppEnv>) => `api:${c.get('caller').name}`;

function rowDto(r: OutboxRecord) {
  return {
    id: r.id.toString(), event_id: r.event_id, event_type: r.event_type, topic: r.topic,
    aggregate_id: r.aggregate_id, aggregate_version: r.aggregate_version, state: r.state,
    attempts: r.attempts, last_error: r.last_error, occurred_at: r.occurred_at.toISOString(),
    parked_at: r.parked_at?.toISOString() ?? null, retried_at: r.retried_at?.toISOString() ?? null, retried_by: r.retried_by,
    skipped_at: r.skipped_at?.toISOString() ?? null, skip_reason: r.skip_reason, skipped_by: r.skipped_by,
  };
}

export function outboxRoutes(deps: AppDeps, defaultHook: Hook): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });
  const sql = deps.database.sql;

  /** The row after an action that changed nothing: say why, as the CLI does (exit 3 / 4). */
  const refuse = async (id: string, action: string): Promise<never> => {
    const [row] = await findOutboxRows(sql, id);
    if (!row) throw new NotFoundError('outbox row', id);
    throw new ApiError('OUTBOX_ROW_NOT_PARKED', `outbox row ${id} is ${row.state}, not parked: nothing to ${action}`);
  };

  /** The changed row, after waking the relay for its partner's shard (best effort, as after a write). */
  const changed = async (id: string) => {
    const [row] = await findOutboxRows(sql, id);
    if (!row) throw new NotFoundError('outbox row', id);
    await Promise.resolve(deps.onCommitted?.([row.aggregate_id]))
      .catch((err: unknown) => deps.log.warn({ err, outbox_id: id }, 'could not wake the relay; its backstop will pick the row up'));
    return rowDto(row);
  };

  app.openapi(statusRoute, async (c) => {
    const s = await outboxStatus(sql, await activeShards(sql, deps.shards ?? DEFAULT_SHARDS));
    const t = stateTotals(s.groups);
    return c.json({
      totals: t.totals,
      by_shard: t.byShard,
      by_topic: t.byTopic,
      oldest_unsent: s.oldestUnsent?.toISOString() ?? null,
      publish_lag_seconds: s.oldestUnsent ? Math.max(0, (Date.now() - s.oldestUnsent.getTime()) / 1000) : 0,
      parked_partners: s.parkedPartners,
      active_drains: s.activeDrains.map((d) => ({ shard: d.shard, started_on: d.started_on.toISOString() })),
      sent_window_seconds: s.sentWindowSeconds,
    }, 200);
  });

  app.openapi(parkedRoute, async (c) => {
    const { limit } = c.req.valid('query');
    const rows = await listOutbox(sql, { state: 'parked', order: 'oldest', limit });
    return c.json({ items: rows.map(rowDto) }, 200);
  });

  app.openapi(skippedRoute, async (c) => {
    const { limit } = c.req.valid('query');
    const rows = await listOutbox(sql, { state: 'skipped', order: 'newest', limit });
    return c.json({ items: rows.map(rowDto) }, 200);
  });

  app.openapi(retryRoute, async (c) => {
    const { id } = c.req.valid('param');
    if ((await retryParked(sql, { ids: [id] }, actorOf(c))) === 0) return refuse(id, 'retry');
    return c.json(await changed(id), 200);
  });

  app.openapi(skipRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { reason } = c.req.valid('json');
    if ((await skipParked(sql, id, reason, actorOf(c))) === 0) return refuse(id, 'skip');
    return c.json(await changed(id), 200);
  });

  return app;
}
