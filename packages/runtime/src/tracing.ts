// Tracing. Code makes spans through @opentelemetry/api, which is a no-op until a tracer
// provider is registered; the SDK and its OTLP exporter are imported only when an endpoint
// is configured, so a process without one loads neither and exports nothing.
//
// Trace context always crosses process boundaries as W3C `traceparent`/`tracestate`
// (HTTP request → outbox row headers → message properties), through one propagator used
// explicitly rather than the global one: with tracing off, a span is a non-recording copy
// of its parent, so the caller's context still passes through unchanged.
import { hostname } from 'node:os';
import {
  ROOT_CONTEXT, SpanKind, SpanStatusCode, context, defaultTextMapGetter, defaultTextMapSetter, trace,
  type Attributes, type Context, type Span,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { z } from 'zod';
import type { Logger } from 'pino';
import { parseEnv } from './config.ts';

export { SpanKind, SpanStatusCode, context, trace, type Attributes, type Context, type Span };

const TRACER_NAME = 'relevo';
const w3c = new W3CTraceContextPropagator();

/** The trace context carried by W3C headers: an HTTP request's, an outbox row's, a message's properties. */
export function contextFromHeaders(carrier: Readonly<Record<string, string | undefined>>): Context {
  return w3c.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** `traceparent` (and `tracestate`) naming this span as the parent; empty when there is no valid context. */
export function traceHeadersOf(span: Span): Record<string, string> {
  const headers: Record<string, string> = {};
  w3c.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter);
  return headers;
}

export function startSpan(name: string, kind: SpanKind, parent: Context, attributes: Attributes): Span {
  return trace.getTracer(TRACER_NAME).startSpan(name, { kind, attributes }, parent);
}

/** Ends a span as failed, with the error recorded on it. */
export function endSpanWithError(span: Span, err: unknown): void {
  const error = err instanceof Error ? err : new Error(String(err));
  span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  span.end();
}

/** Set but empty counts as unset, as compose's `${VAR:-}` passes it. */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

export const TracingEnv = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL like http://collector:4318' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL like http://collector:4318/v1/traces' })),
  OTEL_SERVICE_NAME: optional(z.string()),
});

export interface Tracing {
  /** Where spans go, or null when tracing export is off. */
  readonly endpoint: string | null;
  /** Exports the spans still buffered, then stops the provider. */
  shutdown(): Promise<void>;
}

/** The OTLP/HTTP traces URL from the standard variables: the traces-specific one wins, as the spec says. */
export function tracesEndpoint(config: z.infer<typeof TracingEnv>): string | null {
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return null;
}

/**
 * Registers a tracer provider exporting by OTLP/HTTP (JSON) when an endpoint is set.
 * `OTEL_EXPORTER_OTLP_HEADERS` and the exporter's other standard variables are read by
 * the exporter itself.
 */
export async function startTracing(defaultServiceName: string, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Tracing> {
  const config = parseEnv(TracingEnv, env);
  const endpoint = tracesEndpoint(config);
  if (endpoint === null) return { endpoint: null, shutdown: async () => undefined };

  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { AsyncLocalStorageContextManager }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/context-async-hooks'),
    ]);
  const serviceName = config.OTEL_SERVICE_NAME ?? defaultServiceName;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': serviceName,
      'service.instance.id': `${hostname()}:${process.pid}`,
    }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint }) })],
  });
  // Active spans (the API's request span) follow async calls through AsyncLocalStorage.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  log.info({ endpoint, serviceName }, 'tracing: exporting spans by OTLP/HTTP');
  return {
    endpoint,
    async shutdown() {
      await provider.shutdown().catch((err: unknown) => log.warn({ err, endpoint }, 'tracing: could not export the last spans'));
    },
  };
}
