// Tracing with no endpoint configured: no SDK, no provider, and the caller's trace context
// still passes through a span unchanged (the relay and the API rely on that when off).
import { describe, expect, it } from 'vitest';
import { ConfigError, SpanKind, contextFromHeaders, startSpan, startTracing, trace, traceHeadersOf, tracesEndpoint } from '../src/index.ts';
import { createLogger } from '../src/logger.ts';

const log = createLogger('test', 'fatal');
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('tracing', () => {
  it('takes the traces endpoint over the base one, and appends /v1/traces to the base', () => {
    expect(tracesEndpoint({})).toBeNull();
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe('http://collector:4318/v1/traces');
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:9999/t' }))
      .toBe('http://other:9999/t');
  });

  it('exports nothing and registers no provider when no endpoint is set', async () => {
    const tracing = await startTracing('relevo-test', log, {});
    expect(tracing.endpoint).toBeNull();
    expect((await startTracing('relevo-test', log, { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_SERVICE_NAME: '' })).endpoint).toBeNull();
    const span = startSpan('off', SpanKind.INTERNAL, contextFromHeaders({}), {});
    expect(span.isRecording()).toBe(false);
    await tracing.shutdown();
  });

  it('passes the caller’s traceparent and tracestate through a span when tracing is off', () => {
    const parent = contextFromHeaders({ traceparent, tracestate: 'vendor=abc' });
    const span = startSpan('off', SpanKind.PRODUCER, parent, {});
    expect(traceHeadersOf(span)).toEqual({ traceparent, tracestate: 'vendor=abc' });
    expect(trace.getSpanContext(parent)?.spanId).toBe('00f067aa0ba902b7');
  });

  it('carries no trace headers when there is no valid context', () => {
    for (const bad of [{}, { traceparent: 'garbage' }, { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }]) {
      expect(traceHeadersOf(startSpan('x', SpanKind.INTERNAL, contextFromHeaders(bad), {}))).toEqual({});
    }
  });

  it('rejects a malformed endpoint, naming the variable', async () => {
    await expect(startTracing('relevo-test', log, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }))
      .rejects.toThrow(ConfigError);
    await expect(startTracing('relevo-test', log, { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }))
      .rejects.toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT="not a url" is invalid/);
  });
});
