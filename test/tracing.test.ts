// OpenTelemetry across the three processes, each a real subprocess exporting by OTLP/HTTP
// to a collector stand-in on loopback: the API's request span is a child of the caller's
// traceparent, the relay's send span a child of the API span (through the outbox row), and
// the consumer's process span a child of the relay span (through the message properties).
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createTestNamespace } from './support/pulsar.ts';
import { spawnRelevo, waitForOutput, type Subprocess } from './consumers/support.ts';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
  status?: { code?: number };
}
interface ExportedSpan extends OtlpSpan {
  service: string;
}

const SPAN_KIND = { SERVER: 2, PRODUCER: 4, CONSUMER: 5 } as const;
const TOKEN = 'tracing-test-token-0123456789abcdef0123';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';

function attribute(span: OtlpSpan, key: string): string | number | undefined {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue !== undefined ? Number(value.intValue) : undefined);
}

/** Receives OTLP/HTTP JSON exports and keeps every span with its service name. */
function startCollector(): Promise<{ server: Server; url: string; spans: ExportedSpan[]; headers: IncomingHttpHeaders[] }> {
  const spans: ExportedSpan[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      headers.push(req.headers);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ ...s, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => ({
    server, spans, headers, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  }));
}

describe('tracing across api → relay → consumers', () => {
  let tdb: TestDatabase;
  let database: Database;
  let namespace: string;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  const running: Subprocess[] = [];

  beforeAll(async () => {
    [tdb, namespace, collector] = await Promise.all([createTestDatabase('relevo_tracing'), createTestNamespace(), startCollector()]);
    database = connectDatabase(tdb.url);
  });

  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    collector?.server.close();
    await database?.close();
    await tdb?.drop();
  });

  const start = async (args: string[], env: Record<string, string>, ready: RegExp) => {
    const p = spawnRelevo(args, { DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, ...env });
    running.push(p);
    await waitForOutput(p, ready);
    return p;
  };

  const stop = async (p: Subprocess) => {
    p.child.kill('SIGTERM');
    expect(await p.exited, p.output()).toBe(0);
  };

  it('continues the caller’s trace from the HTTP request to the broker to the consumer', async () => {
    const api = await start(['api'], {
      API_TOKENS: `tracing:read+write:${TOKEN}`, API_PRINCIPAL_SECRET: 'tracing-principal-secret-0123456789abcd', PORT: '0', API_METRICS_PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer collector-secret',
    }, /"msg":"listening"/);
    const relay = await start(['relay'], {
      METRICS_PORT: '0', RELAY_SHARDS: '4',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector.url}/v1/traces`,
    }, /"msg":"relay ready"/);
    const consumers = await start(['consumers'], {
      CONSUMERS: 'audit',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'audit-consumer',
    }, /"msg":"consumers ready"/);
    const listening = api.output().split('\n').find((line) => line.includes('"msg":"listening"')) ?? '';
    const port = Number(/"port":(\d+)/.exec(listening)?.[1]);
    expect(port).toBeGreaterThan(0);

    const res = await fetch(`http://127.0.0.1:${port}/v1/partners`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json',
        traceparent: `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`,
      },
      body: JSON.stringify({ nombre: 'Trazas SA', email: 'trazas@example.com' }),
    });
    expect(res.status).toBe(201);
    const partner = (await res.json()) as { id: string };

    await expect.poll(async () => {
      const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from audit_events where partner_id = ${partner.id}`;
      return row!.n;
    }, { timeout: 30_000, interval: 100 }).toBe(1);
    // SIGTERM flushes each process's buffered spans before it exits.
    await Promise.all([stop(api), stop(relay), stop(consumers)]);

    const inTrace = collector.spans.filter((s) => s.traceId === TRACE_ID);
    const server = inTrace.find((s) => s.kind === SPAN_KIND.SERVER && s.name === 'POST /v1/partners');
    expect(server, JSON.stringify(inTrace.map((s) => [s.service, s.name]))).toBeDefined();
    expect(server!.service).toBe('relevo-api');
    expect(server!.parentSpanId).toBe(CALLER_SPAN_ID);
    expect(attribute(server!, 'http.route')).toBe('/v1/partners');
    expect(attribute(server!, 'http.response.status_code')).toBe(201);

    const send = inTrace.find((s) => s.kind === SPAN_KIND.PRODUCER && s.service === 'relevo-relay');
    expect(send, JSON.stringify(inTrace.map((s) => [s.service, s.name]))).toBeDefined();
    expect(send!.name).toBe(`send ${TOPICS.partners}`);
    expect(send!.parentSpanId).toBe(server!.spanId);
    expect(attribute(send!, 'cloudevents.event_type')).toBe('PartnerCreado');
    expect(attribute(send!, 'messaging.message.id')).toMatch(/^\d+:\d+/);

    const processed = inTrace.find((s) => s.kind === SPAN_KIND.CONSUMER && s.service === 'audit-consumer');
    expect(processed, JSON.stringify(inTrace.map((s) => [s.service, s.name]))).toBeDefined();
    expect(processed!.name).toBe(`process ${TOPICS.partners}`);
    expect(processed!.parentSpanId).toBe(send!.spanId);
    const entry = (span: OtlpSpan) => String(attribute(span, 'messaging.message.id')).split(':').slice(0, 2).join(':');
    expect(entry(processed!)).toBe(entry(send!));
    expect(attribute(processed!, 'relevo.outcome')).toBeDefined();

    // The outbox row keeps the API span's context: what the relay continued from.
    const [row] = await database.sql<{ headers: Record<string, string> }[]>`select headers from outbox where aggregate_id = ${partner.id}`;
    expect(row!.headers.traceparent).toBe(`00-${TRACE_ID}-${server!.spanId}-01`);
    expect(collector.headers.some((h) => h.authorization === 'Bearer collector-secret')).toBe(true);
  });
});
