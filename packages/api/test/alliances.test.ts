// GET /v1/partners/{id}/alliances: what the alliances consumer recorded against a partner.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertPartnerAllianceEvent } from '@relevo/db';
import { call, createHarness, newPartner, type Harness } from './support/harness.ts';

describe('alliance events of a partner', () => {
  let h: Harness;
  let partner: { id: string };
  const ids = Array.from({ length: 5 }, () => randomUUID());

  beforeAll(async () => {
    h = await createHarness();
    partner = await newPartner(h.app);
    for (const [i, eventId] of ids.entries()) {
      await insertPartnerAllianceEvent(h.database.sql, {
        partnerId: partner.id, eventId, eventType: i === 0 ? 'AlianzaCreada' : 'AlianzaActualizada', alianzaId: 'ali-1',
        data: { alianza_id: 'ali-1', partner_id: partner.id, estado: `E${i}` }, occurredAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
        messageId: `9:${i}:-1:-1`, schemaVersion: '0',
      });
    }
    await insertPartnerAllianceEvent(h.database.sql, {
      partnerId: randomUUID(), eventId: randomUUID(), eventType: 'AlianzaCreada', alianzaId: 'ali-2', data: {},
      occurredAt: new Date(), messageId: '9:9:-1:-1', schemaVersion: null,
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('lists them oldest first, cursor-paged', async () => {
    const res = await call(h.app, `/v1/partners/${partner.id}/alliances?limit=3`);
    expect(res.status).toBe(200);
    const page1 = await res.json();
    expect(page1.items.map((e: { event_id: string }) => e.event_id)).toEqual(ids.slice(0, 3));
    expect(page1.items[0]).toEqual({
      event_id: ids[0], type: 'AlianzaCreada', alianza_id: 'ali-1',
      data: { alianza_id: 'ali-1', partner_id: partner.id, estado: 'E0' },
      occurred_at: '2026-01-01T00:00:00.000Z', received_at: expect.any(String),
    });
    const page2 = await (await call(h.app, `/v1/partners/${partner.id}/alliances?limit=3&cursor=${page1.next_cursor}`)).json();
    expect(page2.items.map((e: { event_id: string }) => e.event_id)).toEqual(ids.slice(3));
    expect(page2.next_cursor).toBeNull();
  });

  it('a partner with none gets an empty page', async () => {
    const other = await newPartner(h.app);
    expect(await (await call(h.app, `/v1/partners/${other.id}/alliances`)).json()).toEqual({ items: [], next_cursor: null });
  });

  it('answers problems as the rest of the API does', async () => {
    const unauth = await call(h.app, `/v1/partners/${partner.id}/alliances`, { token: null });
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get('content-type')).toBe('application/problem+json');
    const missing = await call(h.app, `/v1/partners/${randomUUID()}/alliances`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' });
    const badCursor = await call(h.app, `/v1/partners/${partner.id}/alliances?cursor=bm9wZQ`);
    expect(badCursor.status).toBe(400);
    expect((await badCursor.json()).errors).toEqual([{ path: 'query.cursor', message: 'not a cursor this API gave out' }]);
    const badId = await call(h.app, '/v1/partners/nope/alliances');
    expect(badId.status).toBe(400);
  });

  it('is in the OpenAPI document', async () => {
    const doc = await (await h.app.request('/openapi.json')).json() as any;
    expect(doc.paths['/v1/partners/{id}/alliances'].get.security).toEqual([{ bearerAuth: ['read'] }]);
  });
});
