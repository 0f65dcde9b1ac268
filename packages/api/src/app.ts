// The HTTP API: public health/docs and the operator page shell, and /v1 behind a bearer token
// with the scope of the request, body-size and content-type gates. Every error leaves as
// RFC 9457 problem+json; every response says X-Content-Type-Options: nosniff.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { allowedMethods } from './allowed-methods.ts';
import { requireBearer, requireScope, tokenCheck } from './auth.ts';
import { DEFAULT_MAX_BODY_BYTES, type AppDeps, type AppEnv } from './context.ts';
import { traceRequest } from './tracing.ts';
import { ApiError, PROBLEM_CONTENT_TYPE, problemOf, toProblem, type Problem } from './problems.ts';
import { allianceRoutes } from './routes/alliances.ts';
import { mountDocs } from './routes/docs.ts';
import { healthRoutes } from './routes/health.ts';
import { validationHook } from './routes/hook.ts';
import { integrationRoutes } from './routes/integrations.ts';
import { operationsRoutes } from './routes/operations.ts';
import { operatorPage } from './routes/operator-page.ts';
import { outboxRoutes } from './routes/outbox.ts';
import { partnerRoutes } from './routes/partners.ts';
import { createUnitOfWork } from './unit-of-work.ts';

export type { AppDeps } from './context.ts';
export type App = OpenAPIHono<AppEnv>;

function problemResponse(c: Context, problem: Problem, extraHeaders: Record<string, string> = {}): Response {
  const body: Problem = { ...problem, instance: c.req.path };
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE, ...extraHeaders };
  if (problem.status === 401) headers['WWW-Authenticate'] = 'Bearer';
  if (problem.status === 403) headers['WWW-Authenticate'] = 'Bearer error="insufficient_scope"';
  if (problem.status === 503) headers['Retry-After'] = '5';
  return new Response(JSON.stringify(body), { status: problem.status, headers });
}

function requestLog(deps: AppDeps): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const ms = Math.round((performance.now() - started) * 10) / 10;
    deps.log.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms }, 'request');
  };
}

/**
 * No response is ever sniffed into another type: a problem+json echoing a request's text
 * stays JSON, whatever that text looks like. Set after the handler and the error mapping,
 * so it is on every response (packages/api/test/hostile-input.test.ts checks each one).
 */
const noSniff: MiddlewareHandler = async (c, next) => {
  await next();
  c.res.headers.set('X-Content-Type-Options', 'nosniff');
};

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Writes carry JSON bodies only: anything else is a 415 before it is read. */
const requireJson: MiddlewareHandler = async (c, next) => {
  if (c.req.method === 'POST' || c.req.method === 'PATCH' || c.req.method === 'PUT') {
    const type = c.req.header('content-type');
    if (!type || !JSON_TYPE.test(type)) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  }
  await next();
};

export function createApp(deps: AppDeps): App {
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const uow = createUnitOfWork(deps);
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  if (deps.metrics) app.use('*', deps.metrics.middleware);
  app.use('*', noSniff);
  app.use('*', traceRequest);
  app.use('*', requestLog(deps));
  app.onError((err, c) => {
    const { problem, internal } = toProblem(err);
    if (internal) deps.log.error({ err, method: c.req.method, path: c.req.path, status: problem.status }, 'request failed');
    return problemResponse(c, problem);
  });
  app.notFound((c) => {
    const allow = allowedMethods(app.routes, c.req.path);
    if (allow.length === 0) return problemResponse(c, problemOf('NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`));
    return problemResponse(c, problemOf('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(', ')}`),
      { Allow: allow.join(', ') });
  });

  app.use('/v1/*', requireBearer(tokenCheck(deps.tokens, deps.principalSecret)), requireScope);
  app.use('/v1/*', bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new ApiError('PAYLOAD_TOO_LARGE', `the body is over ${maxBodyBytes} bytes`);
    },
  }));
  app.use('/v1/*', requireJson);

  app.route('/v1', partnerRoutes(deps, uow, validationHook));
  app.route('/v1', integrationRoutes(deps, uow, validationHook));
  app.route('/v1', allianceRoutes(deps, validationHook));
  app.route('/v1', outboxRoutes(deps, validationHook));
  app.route('/v1', operationsRoutes(deps, validationHook));
  app.route('/', healthRoutes(deps, validationHook));
  app.route('/', operatorPage());
  mountDocs(app);
  return app;
}
