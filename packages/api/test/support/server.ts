// An app served over real HTTP on a loopback port of its own, for the browser tests.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { App } from '../../src/index.ts';

export interface Served {
  base: string;
  close(): Promise<void>;
}

export async function serveApp(app: App): Promise<Served> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
