import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Resolves true when the process can do its work. */
  ready: () => Promise<boolean>;
}

/** /metrics for Prometheus and the two health probes, on a port of their own. */
export async function startOpsServer(opts: OpsServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    if (path === '/health/live') {
      json(200, '{"status":"ok"}');
    } else if (path === '/health/ready') {
      opts.ready().then(
        (ok) => json(ok ? 200 : 503, JSON.stringify({ status: ok ? 'ok' : 'unavailable' })),
        () => json(503, '{"status":"unavailable"}'),
      );
    } else if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
    } else {
      json(404, '{"status":"not found"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return server;
}
