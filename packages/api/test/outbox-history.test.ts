// GET /v1/outbox/history (the operator page's charts) on rows placed at known times in the
// last hour and before it: backlog, sent, events/s and publish lag per minute, exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPartners } from '../../../test/support/writes.ts';
import { call, createHarness, type Harness } from './support/harness.ts';

describe('GET /v1/outbox/history', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness();
    const ids = await createPartners(h.database, 6);
    const rows = await h.database.sql<{ id: string }[]>`select id::text from outbox order by id`;
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    // Each row's story, in minutes before now (half minutes: never on a step's edge).
    const story = [
      { occurred: 50.4, sent: 49.9 }, // A: sent within the window, after 30 s
      { occurred: 70, sent: 20.5 }, // E: waiting since before the window, sent after 49.5 min
      { occurred: 30.5 }, // B: still unsent: the oldest waiting row
      { occurred: 10.5, parked: 10.4 }, // C: parked: in the backlog, not in the lag
      { occurred: 40.5, skipped: 5.5 }, // F: skipped by an operator: leaves the backlog, is not sent
      { occurred: 120, sent: 90 }, // D: done before the window: never counted
    ];
    expect(ids).toHaveLength(story.length);
    for (const [i, s] of story.entries()) {
      await h.database.sql`update outbox set occurred_at = ${at(s.occurred)},
        sent_at = ${s.sent ? at(s.sent) : null}, parked_at = ${s.parked ? at(s.parked) : null}, attempts = ${s.parked ? 8 : 0},
        skipped_at = ${s.skipped ? at(s.skipped) : null}, skip_reason = ${s.skipped ? 'test' : null}
        where id = ${rows[i]!.id}`;
    }
  });

  afterAll(async () => {
    await h?.close();
  });

  it('gives 60 one-minute steps of the last hour: backlog at each step\'s end, rows sent, events/s and the longest wait', async () => {
    const res = await call(h.app, '/v1/outbox/history?window=1h');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ window_seconds: 3600, step_seconds: 60 });
    const points = body.points as { at: string; sent: number; events_per_second: number; backlog: number; publish_lag_seconds: number }[];
    expect(points).toHaveLength(60);
    expect(Math.abs(Date.parse(points[59]!.at) - Date.now())).toBeLessThan(5_000);

    const backlog = (from: number, to: number) => points.slice(from, to + 1).map((p) => p.backlog);
    expect(backlog(0, 8)).toEqual(Array(9).fill(1));
    expect(backlog(9, 9)).toEqual([2]); // A waits from 50.4 minutes ago (step 9) until it is sent in step 10
    expect(backlog(10, 18)).toEqual(Array(9).fill(1));
    expect(backlog(19, 28)).toEqual(Array(10).fill(2));
    expect(backlog(29, 38)).toEqual(Array(10).fill(3));
    expect(backlog(39, 48)).toEqual(Array(10).fill(2));
    expect(backlog(49, 53)).toEqual(Array(5).fill(3));
    expect(backlog(54, 59)).toEqual(Array(6).fill(2));

    expect(points.flatMap((p, i) => (p.sent ? [[i, p.sent]] : []))).toEqual([[10, 1], [39, 1]]);
    expect(points[10]!.events_per_second).toBeCloseTo(1 / 60, 6);
    expect(points[10]!.publish_lag_seconds).toBeCloseTo(30, 0);
    expect(points[39]!.publish_lag_seconds).toBeCloseTo(49.5 * 60, 0);
    // The oldest unsent, unparked row (B) has waited since 30.5 minutes ago.
    expect(points[59]!.publish_lag_seconds).toBeCloseTo(30.5 * 60, -1);
    expect(points[20]!.publish_lag_seconds).toBe(0);
  });

  it('takes windows from 15m to 24h, 60 steps each, and refuses others', async () => {
    const day = await (await call(h.app, '/v1/outbox/history?window=24h')).json();
    expect(day).toMatchObject({ window_seconds: 86_400, step_seconds: 1440 });
    expect(day.points.at(-1).backlog).toBe(2);
    expect(day.points.reduce((n: number, p: { sent: number }) => n + p.sent, 0)).toBe(3);
    for (const bad of ['5m', '25h', 'abc', '1d']) {
      const res = await call(h.app, `/v1/outbox/history?window=${bad}`);
      expect(res.status, bad).toBe(400);
    }
    expect((await call(h.app, '/v1/outbox/history', { token: null })).status).toBe(401);
  });
});
