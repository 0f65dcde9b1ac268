// One server span per request, a child of the caller's `traceparent` when it sends one.
// The span is kept on the request context (not only as the active span) so the outbox rows
// get its context even when tracing is off and no context manager carries it.
import { matchedRoutes } from 'hono/route';
import type { Context, MiddlewareHandler } from 'hono';
import { SpanKind, SpanStatusCode, context, contextFromHeaders, startSpan, trace } from '@relevo/runtime';
import type { AppEnv } from './context.ts';

/** The route template that answered (`/v1/partners/:id`), not the path: span names stay few. */
function routeOf(c: Context<AppEnv>): string | undefined {
  return matchedRoutes(c).filter((r) => r.method !== 'ALL').at(-1)?.path;
}

export const traceRequest: MiddlewareHandler<AppEnv> = async (c, next) => {
  const parent = contextFromHeaders({ traceparent: c.req.header('traceparent'), tracestate: c.req.header('tracestate') });
  const span = startSpan(c.req.method, SpanKind.SERVER, parent, {
    'http.request.method': c.req.method,
    'url.path': c.req.path,
  });
  c.set('span', span);
  try {
    await context.with(trace.setSpan(parent, span), next);
  } finally {
    const route = routeOf(c);
    if (route !== undefined) {
      span.updateName(`${c.req.method} ${route}`);
      span.setAttribute('http.route', route);
    }
    span.setAttribute('http.response.status_code', c.res.status);
    if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
};
