// Liveness, readiness (the database answers `select 1`), the OpenAPI document and its docs page.
// All public: no bearer token.
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.ts';
import { DatabaseUnavailableError, PROBLEM_CONTENT_TYPE } from '../problems.ts';
import { ProblemSchema } from '../schemas.ts';
import type { Hook } from './hook.ts';

const READY_TIMEOUT_MS = 2_000;
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
      timer = setTimeout(() => reject(new DatabaseUnavailableError('the database did not answer in time')), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([deps.database.sql`select 1`, timeout]);
    } catch (err) {
      if (err instanceof DatabaseUnavailableError) throw err;
      throw new DatabaseUnavailableError(`the database check failed: ${(err as Error).message ?? String(err)}`);
    } finally {
      clearTimeout(timer);
    }
    return c.json({ status: 'ok' as const }, 200);
  });
  return app;
}
