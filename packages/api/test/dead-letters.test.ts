// GET /v1/dead-letters when the broker cannot say: no admin URL, a topic without the
// relevo-dlq subscription, a broker that fails. (The counts from the real broker are checked
// on the operator page: operator-page.test.ts.) The admin API is stood in for: only the
// route's reading of its answers is under test here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_TOPICS } from '@relevo/events';
import type { DeadLetterSource } from '../src/routes/operations.ts';
import { call, createHarness, type Harness } from './support/harness.ts';

describe('GET /v1/dead-letters', () => {
  let h: Harness;
  beforeAll(async () => { h = await createHarness(); });
  afterAll(async () => { await h?.close(); });

  const source = (answer: (topic: string) => Record<string, number> | undefined): DeadLetterSource => ({
    namespace: 'public/ops',
    admin: { subscriptionBacklogs: async (topic) => answer(topic) },
  });

  it('counts each topic\'s relevo-dlq backlog: 0 for a topic that does not exist, unknown for one without the subscription', async () => {
    const app = h.appWith({
      deadLetters: source((topic): Record<string, number> | undefined => {
        if (topic === 'persistent://public/ops/gestion-de-alianzas-dlq') return { 'relevo-dlq': 3, other: 9 };
        if (topic === 'persistent://public/ops/eventos-partners-relevo-alerts-dlq') return { other: 1 };
        return undefined;
      }),
    });
    const body = await (await call(app, '/v1/dead-letters')).json();
    expect(body.error).toBeNull();
    expect(Object.fromEntries(body.topics.map((t: { consumer: string; pending: number | null }) => [t.consumer, t.pending]))).toEqual({
      'audit:eventos-partners': 0, 'audit:administracion-financiera-compliance': 0, alliances: 3, alerts: null,
    });
  });

  it('says why the counts are unknown when the broker fails or no admin URL is set', async () => {
    const failing = h.appWith({ deadLetters: source(() => { throw new Error('connect ECONNREFUSED 127.0.0.1:8080'); }) });
    const res = await call(failing, '/v1/dead-letters');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.error).toBe('the broker did not answer: connect ECONNREFUSED 127.0.0.1:8080');
    expect(body.topics.map((t: { pending: number | null }) => t.pending)).toEqual(DEAD_LETTER_TOPICS.map(() => null));
    expect((await (await call(h.app, '/v1/dead-letters')).json()).error).toBe('this API has no broker admin URL');
    expect((await call(h.app, '/v1/dead-letters', { token: null })).status).toBe(401);
  });
});
