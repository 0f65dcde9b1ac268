// An app served over real HTTP on a loopback port of its own, and Debian's Chromium, headless,
// driven by playwright-core, to open its pages: the page tests' browser and server.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { chromium, type Browser } from 'playwright-core';
import type { App } from '../../src/index.ts';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps calling hosts this closed network refuses.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface ServedPages {
  /** The app's origin, http://127.0.0.1:<port>. */
  base: string;
  browser: Browser;
  /** Closes the browser, then the server. */
  close(): Promise<void>;
}

export async function servePages(app: App): Promise<ServedPages> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium); .ci/run does`);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }).catch(async (err: unknown) => {
    await closeServer();
    throw err;
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    browser,
    close: async () => {
      await browser.close();
      await closeServer();
    },
  };
}

type Closable = { close(): Promise<unknown> } | { drop(): Promise<unknown> };

/** Closes what a suite opened, in this order; what is undefined (a setup that failed early) is passed over. */
export async function closeInOrder(...parts: (Closable | undefined)[]): Promise<void> {
  for (const part of parts) {
    if (!part) continue;
    await ('close' in part ? part.close() : part.drop());
  }
}
