// /health/ready of `relevo consumers` tells the truth about its subscriptions: while one cannot
// be re-established (its topic deleted, and the namespace creating none) it answers 503, and
// 200 again once the subscription is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '@relevo/events';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { adminUrl, createTestNamespace } from '../support/pulsar.ts';
import { startConsumersProcess, type ConsumersProcess } from './hostile.ts';

async function admin(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${adminUrl}${path}`, {
    method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
}

describe('consumers readiness', () => {
  let tdb: TestDatabase;
  let namespace: string;
  let p: ConsumersProcess;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_consumers_ready');
    namespace = await createTestNamespace();
    p = await startConsumersProcess({ DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, CONSUMERS: 'alliances' });
  });

  afterAll(async () => {
    if (p?.child.exitCode === null) p.child.kill('SIGKILL');
    await tdb?.drop();
  });

  const ready = async () => (await fetch(`${p.base}/health/ready`)).status;

  it('answers 503 while a subscription is gone and 200 once it is back', async () => {
    expect(await ready()).toBe(200);
    await admin('POST', `/admin/v2/namespaces/${namespace}/autoTopicCreation`, { allowAutoTopicCreation: false });
    await admin('DELETE', `/admin/v2/persistent/${namespace}/${TOPICS.alianzas}?force=true`);
    await expect.poll(ready, { timeout: 15_000, interval: 100 }).toBe(503);
    // Still down a while later: the consumer keeps trying, and readiness keeps saying so.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await ready()).toBe(503);
    expect((await fetch(`${p.base}/health/live`)).status).toBe(200);

    await admin('PUT', `/admin/v2/persistent/${namespace}/${TOPICS.alianzas}`);
    await expect.poll(ready, { timeout: 30_000, interval: 200 }).toBe(200);
    expect(p.output()).toMatch(/"msg":"pulsar: consumer resubscribed"/);
  }, 90_000);
});
