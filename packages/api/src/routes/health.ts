// Liveness, readiness (the database answers `select 1`), the OpenAPI document and its docs page.
// All public: no bearer token, so a failed readiness check says no more than that it failed.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ping, runQuery } from '@relevo/db';
import type { AppDeps, AppEnv } from '../context.ts';
import { DatabaseUnavailableError, PROBLEM_CONTENT_TYPE } from '../problems.ts';
import { ProblemSchema } from '../schemas.ts';
import type { Hook } from './hook.ts';

const READY_TIMEOUT_MS = 2_000;
const NOT_READY = 'the API cannot serve requests yet: its database check failed (the reason is in the API log)';
const Status = z.object({ status: z.literal('ok') }).openapi('HealthStatus');
const tags = ['health'];

const liveRoute = createRoute({
  method: 'get', path: '/health/live', tags, summary: 'The process is up',
  responses: { 200: { description: 'alive', content: { 'application/json': { schema: Status } } } },
});

const readyRoute = createRoute({
  method: 'get', path: '/health/ready', tags, summary: 'The database answers',
  responses: {
    200: { description: 'ready', content: { 'application/json': { schema: Status } } },
    503: { description: 'the database is unavailable', content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } },
  },
});

export function healthRoutes(deps: AppDeps, defaultHook: Hook): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });
  app.openapi(liveRoute, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyRoute, async (c) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the database did not answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([runQuery(deps.database.sql, ping()), timeout]);
    } catch (err) {
      // The endpoint is public: the driver's error names hosts, ports, roles and why the
      // login failed. The log gets it; the caller only learns that the API is not ready.
      deps.log.warn({ err }, 'readiness check failed');
      throw new DatabaseUnavailableError(NOT_READY);
    } finally {
      clearTimeout(timer);
    }
    return c.json({ status: 'ok' as const }, 200);
  });
  return app;
}
