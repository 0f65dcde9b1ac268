// The transactional write path against a real Postgres: each endpoint's outbox rows,
// atomicity, per-partner order under concurrency, idempotency, paging.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockPartner, savePartner } from '@relevo/db';
import { updatePartner, type DomainEvent } from '@relevo/domain';
import { EventSchemaError, TOPICS, decodeEvent, encodeEvent } from '@relevo/events';
import { createLogger } from '@relevo/runtime';
import { createUnitOfWork } from '../src/unit-of-work.ts';
import { PRINCIPAL_SECRET, TOKENS } from './support/tokens.ts';
import { OTHER_TOKEN, call, counts, createHarness, newPartner, outboxRows, uniqueEmail, type Harness, type OutboxRow } from './support/harness.ts';

let h: Harness;
beforeAll(async () => { h = await createHarness(); });
afterAll(async () => { await h?.close(); });

function expectRoundTrip(row: OutboxRow): void {
  const decoded = decodeEvent(row.topic, encodeEvent(row.topic, row.payload));
  expect(decoded).toEqual(row.payload);
}

describe('every endpoint writes exactly its outbox rows', () => {
  it('runs a partner through its whole life', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const before = (await outboxRows(h.database)).length;
    h.committed.length = 0;

    // POST /v1/partners → PartnerCreado v1
    const created = await call(h.app, '/v1/partners', { body: { nombre: 'Acme', email: uniqueEmail('acme') }, headers: { traceparent } });
    expect(created.status).toBe(201);
    const partner = await created.json();
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('location')).toBe(`/v1/partners/${partner.id}`);
    expect(partner).toMatchObject({ nombre: 'Acme', estado: 'ACTIVO', estado_kyc: 'PENDIENTE', version: 1, deleted_at: null });
    let rows = await outboxRows(h.database, partner.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ event_type: 'PartnerCreado', topic: TOPICS.partners, aggregate_version: 1 });
    expect(rows[0]!.payload).toMatchObject({
      id: rows[0]!.event_id, type: 'PartnerCreado', specversion: 'v1', datacontenttype: 'AVRO', service_name: 'gestion-de-integraciones',
      data: { partner_id: partner.id, version: 1, nombre: 'Acme', email: partner.email, estado: 'ACTIVO', estado_kyc: 'PENDIENTE' },
    });
    expect(rows[0]!.headers).toEqual({ traceparent });

    // GET /v1/partners/{id}
    const got = await call(h.app, `/v1/partners/${partner.id}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(await got.json()).toEqual(partner);

    // PATCH → PartnerActualizado v2 (with If-Match)
    const patched = await call(h.app, `/v1/partners/${partner.id}`, { method: 'PATCH', body: { nombre: 'Acme SA', estado: 'SUSPENDIDO' }, headers: { 'if-match': '"1"' } });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('etag')).toBe('"2"');
    expect(await patched.json()).toMatchObject({ nombre: 'Acme SA', estado: 'SUSPENDIDO', version: 2 });
    rows = await outboxRows(h.database, partner.id);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ event_type: 'PartnerActualizado', topic: TOPICS.partners, aggregate_version: 2 });
    expect(rows[1]!.payload.data).toMatchObject({ version: 2, nombre: 'Acme SA', estado: 'SUSPENDIDO', campos_actualizados: ['estado', 'nombre'] });

    // A PATCH that changes nothing: 200, same version, no event.
    const noop = await call(h.app, `/v1/partners/${partner.id}`, { method: 'PATCH', body: { nombre: 'Acme SA' } });
    expect(noop.status).toBe(200);
    expect(noop.headers.get('etag')).toBe('"2"');
    expect((await noop.json()).version).toBe(2);
    expect(await outboxRows(h.database, partner.id)).toHaveLength(2);

    // KYC → KYCVerificado v3 on both topics, one event id.
    const kyc = await call(h.app, `/v1/partners/${partner.id}/kyc`, { body: { estado_kyc: 'VERIFICADO', motivo: 'documentos ok' } });
    expect(kyc.status).toBe(200);
    expect(await kyc.json()).toMatchObject({ estado_kyc: 'VERIFICADO', version: 3 });
    rows = await outboxRows(h.database, partner.id);
    const kycRows = rows.slice(2);
    expect(kycRows.map((r) => [r.event_type, r.topic, r.aggregate_version])).toEqual([
      ['KYCVerificado', TOPICS.partners, 3],
      ['KYCVerificado', TOPICS.compliance, 3],
    ]);
    expect(kycRows[0]!.event_id).toBe(kycRows[1]!.event_id);
    expect(kycRows[0]!.payload.data).toEqual({ partner_id: partner.id, version: 3, estado_kyc: 'VERIFICADO', motivo: 'documentos ok' });

    // POST integration → IntegracionCreada carrying the partner's id and version 4.
    const integ = await call(h.app, `/v1/partners/${partner.id}/integrations`, { body: { tipo: 'ERP', nombre: 'SAP' }, headers: { 'if-match': '"3"' } });
    expect(integ.status).toBe(201);
    const integration = await integ.json();
    expect(integ.headers.get('etag')).toBe('"4"');
    expect(integ.headers.get('location')).toBe(`/v1/integrations/${integration.id}`);
    expect(integration).toMatchObject({ partner_id: partner.id, tipo: 'ERP', nombre: 'SAP', estado: 'ACTIVA', version: 4, integration_version: 1 });
    rows = await outboxRows(h.database, partner.id);
    expect(rows).toHaveLength(5);
    expect(rows[4]).toMatchObject({ event_type: 'IntegracionCreada', topic: TOPICS.partners, aggregate_version: 4, aggregate_id: partner.id });
    expect(rows[4]!.payload.data).toEqual({ partner_id: partner.id, version: 4, integracion_id: integration.id, tipo: 'ERP', nombre: 'SAP' });

    // GET integrations (list and one)
    const list = await call(h.app, `/v1/partners/${partner.id}/integrations`);
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ items: [integration], version: 4, next_cursor: null });
    const one = await call(h.app, `/v1/integrations/${integration.id}`);
    expect(await one.json()).toEqual(integration);

    // Revoke → IntegracionRevocada v5
    const revoked = await call(h.app, `/v1/integrations/${integration.id}/revoke`, { body: { motivo: 'contrato terminado' } });
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({ estado: 'REVOCADA', version: 5, integration_version: 2, motivo_revocacion: 'contrato terminado' });
    rows = await outboxRows(h.database, partner.id);
    expect(rows[5]).toMatchObject({ event_type: 'IntegracionRevocada', aggregate_version: 5 });
    expect(rows[5]!.payload.data).toEqual({ partner_id: partner.id, version: 5, integracion_id: integration.id, motivo: 'contrato terminado' });

    // DELETE → PartnerEliminado v6; the partner is still readable, marked deleted.
    const deleted = await call(h.app, `/v1/partners/${partner.id}`, { method: 'DELETE', headers: { 'if-match': '"5"' } });
    expect(deleted.status).toBe(200);
    const gone = await deleted.json();
    expect(gone).toMatchObject({ version: 6, estado: 'INACTIVO' });
    expect(gone.deleted_at).not.toBeNull();
    rows = await outboxRows(h.database, partner.id);
    expect(rows).toHaveLength(7);
    expect(rows[6]).toMatchObject({ event_type: 'PartnerEliminado', topic: TOPICS.partners, aggregate_version: 6 });
    expect(rows[6]!.payload.data).toEqual({ partner_id: partner.id, version: 6 });
    expect((await (await call(h.app, `/v1/partners/${partner.id}`)).json()).deleted_at).toBe(gone.deleted_at);
    // Lists leave it out unless asked for deleted partners too.
    const listed = async (query: string) => (await (await call(h.app, `/v1/partners?limit=100&${query}`)).json()).items.map((p: { id: string }) => p.id);
    expect(await listed('')).not.toContain(partner.id);
    expect(await listed('include_deleted=false')).not.toContain(partner.id);
    expect(await listed('include_deleted=true&estado=INACTIVO')).toContain(partner.id);

    // Every row's payload encodes and decodes with its topic's Avro schema.
    for (const row of rows) expectRoundTrip(row);
    // Versions and ids go up together.
    expect(rows.map((r) => r.aggregate_version)).toEqual([1, 2, 3, 3, 4, 5, 6]);
    expect((await outboxRows(h.database)).length - before).toBe(7);
    // onCommitted once per committed write that produced events (not for the no-op PATCH).
    expect(h.committed).toEqual(Array.from({ length: 6 }, () => [partner.id]));
    // A deleted partner frees its email.
    expect((await call(h.app, '/v1/partners', { body: { nombre: 'Again', email: partner.email.toUpperCase() } })).status).toBe(201);
  });

  it('lists live partners by estado / estado_kyc, cursor-paged in creation order', async () => {
    const suspended = [];
    for (let i = 0; i < 5; i++) suspended.push(await newPartner(h.app, { estado: 'SUSPENDIDO', nombre: `S${i}` }));
    await call(h.app, `/v1/partners/${suspended[1].id}/kyc`, { body: { estado_kyc: 'RECHAZADO' } });
    await call(h.app, `/v1/partners/${suspended[4].id}`, { method: 'DELETE' });

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(h.app, `/v1/partners?estado=SUSPENDIDO&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = await res.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((p: { id: string }) => p.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(suspended.slice(0, 4).map((p) => p.id));
    expect(pages).toBe(2);

    const rejected = await (await call(h.app, '/v1/partners?estado=SUSPENDIDO&estado_kyc=RECHAZADO')).json();
    expect(rejected.items.map((p: { id: string }) => p.id)).toEqual([suspended[1].id]);
    expect(rejected.items[0].version).toBe(2);
  });

  it('pages a partner\'s integrations', async () => {
    const p = await newPartner(h.app);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await (await call(h.app, `/v1/partners/${p.id}/integrations`, { body: { tipo: 'API', nombre: `i${i}` } })).json()).id);
    const first = await (await call(h.app, `/v1/partners/${p.id}/integrations?limit=2`)).json();
    expect(first.items.map((i: { id: string }) => i.id)).toEqual(ids.slice(0, 2));
    expect(first.version).toBe(4);
    const second = await (await call(h.app, `/v1/partners/${p.id}/integrations?limit=2&cursor=${first.next_cursor}`)).json();
    expect(second).toMatchObject({ next_cursor: null });
    expect(second.items.map((i: { id: string }) => i.id)).toEqual(ids.slice(2));
  });
});

describe('request details', () => {
  it('accepts JSON with a charset, and If-Match as a weak tag, a bare number or *', async () => {
    const p = await newPartner(h.app);
    const res = await call(h.app, `/v1/partners/${p.id}`, {
      method: 'PATCH', body: { nombre: 'uno' }, headers: { 'content-type': 'application/json; charset=utf-8', 'if-match': 'W/"1"' },
    });
    expect(res.status).toBe(200);
    expect((await call(h.app, `/v1/partners/${p.id}`, { method: 'PATCH', body: { nombre: 'dos' }, headers: { 'if-match': '"9", "2"' } })).status).toBe(200);
    expect((await call(h.app, `/v1/partners/${p.id}`, { method: 'PATCH', body: { nombre: 'tres' }, headers: { 'if-match': '3' } })).status).toBe(200);
    expect((await call(h.app, `/v1/partners/${p.id}`, { method: 'PATCH', body: { nombre: 'cuatro' }, headers: { 'if-match': '*' } })).headers.get('etag')).toBe('"5"');
  });
});

describe('atomicity', () => {
  it('a failure after the business write and before commit leaves no change, no outbox row, no idempotency record', async () => {
    const failing = h.appWith({ beforeCommit: () => { throw new Error('injected failure before commit'); } });
    const p = await newPartner(h.app);
    const before = await counts(h.database);

    const create = await call(failing, '/v1/partners', { body: { nombre: 'Never', email: uniqueEmail('never') }, headers: { 'idempotency-key': 'atomic-1' } });
    expect(create.status).toBe(500);
    expect(create.headers.get('content-type')).toBe('application/problem+json');
    expect(await create.json()).toMatchObject({ type: 'urn:relevo:problem:internal', status: 500 });

    for (const [path, req] of [
      [`/v1/partners/${p.id}`, { method: 'PATCH', body: { nombre: 'Changed' } }],
      [`/v1/partners/${p.id}/kyc`, { body: { estado_kyc: 'VERIFICADO' } }],
      [`/v1/partners/${p.id}/integrations`, { body: { tipo: 'ERP', nombre: 'x' } }],
      [`/v1/partners/${p.id}`, { method: 'DELETE' }],
    ] as const) {
      expect((await call(failing, path, req)).status).toBe(500);
    }
    expect(await counts(h.database)).toEqual(before);
    const after = await (await call(h.app, `/v1/partners/${p.id}`)).json();
    expect(after).toEqual(p);
  });

  it('a write Postgres refuses in the batch sent with COMMIT: that COMMIT rolls back, the request fails', async () => {
    await h.database.sql.unsafe(`create or replace function refuse_insert() returns trigger language plpgsql
      as $$ begin raise exception 'refused by the test'; end $$`);
    const p = await newPartner(h.app);
    const before = await counts(h.database);
    // outbox: refused after the partner's update; idempotency_keys: the last statement before COMMIT.
    for (const table of ['outbox', 'idempotency_keys']) {
      await h.database.sql.unsafe(`create trigger refuse before insert on ${table} for each row execute function refuse_insert()`);
      try {
        const res = await call(h.app, `/v1/partners/${p.id}/kyc`, { body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': `refused-${table}` } });
        expect(res.status).toBe(500);
      } finally {
        await h.database.sql.unsafe(`drop trigger refuse on ${table}`);
      }
      expect(await counts(h.database)).toEqual(before);
      expect(await (await call(h.app, `/v1/partners/${p.id}`)).json()).toEqual(p);
    }
  });

  it('a write that throws before its statement is queued rolls back the writes queued before it', async () => {
    const p = await newPartner(h.app);
    const before = await counts(h.database);
    const uow = createUnitOfWork({ database: h.database, tokens: TOKENS, principalSecret: PRINCIPAL_SECRET, log: createLogger('api-test', 'silent') });
    const run = uow.run({ principal: 'p', legacyPrincipal: 'q', idempotency: null, traceHeaders: {} }, async (tx, now, sendWithCommit) => {
      const { state, events } = updatePartner((await lockPartner(tx, p.id))!, { nombre: 'Never saved' }, now);
      // The save is queued first; the event then fails its Avro schema in appendToOutbox.
      sendWithCommit(savePartner(tx, state));
      const unencodable = { ...events[0]!, nombre: 42 } as unknown as DomainEvent;
      return { status: 200, body: {}, version: state.version, events: [unencodable] };
    });
    await expect(run).rejects.toBeInstanceOf(EventSchemaError);
    expect(await counts(h.database)).toEqual(before);
    expect(await (await call(h.app, `/v1/partners/${p.id}`)).json()).toEqual(p);
  });

  it('an exception in onCommitted is logged, never fails the committed request', async () => {
    const app = h.appWith({ onCommitted: () => { throw new Error('wake-up failed'); } });
    const res = await call(app, '/v1/partners', { body: { nombre: 'Ok', email: uniqueEmail() } });
    expect(res.status).toBe(201);
    const asyncFail = h.appWith({ onCommitted: () => Promise.reject(new Error('async wake-up failed')) });
    expect((await call(asyncFail, '/v1/partners', { body: { nombre: 'Ok', email: uniqueEmail() } })).status).toBe(201);
  });
});

describe('per-partner order', () => {
  it('50 concurrent PATCHes: outbox id order equals version order, versions 2..51 without gaps', async () => {
    const p = await newPartner(h.app);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      call(h.app, `/v1/partners/${p.id}`, { method: 'PATCH', body: { nombre: `nombre-${i}` } })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const versions = (await Promise.all(results.map((r) => r.json()))).map((b) => b.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));

    const rows = (await outboxRows(h.database, p.id)).filter((r) => r.event_type === 'PartnerActualizado');
    expect(rows).toHaveLength(50);
    expect(rows.map((r) => r.aggregate_version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.id > rows[i - 1]!.id).toBe(true);
    expect((await (await call(h.app, `/v1/partners/${p.id}`)).json()).version).toBe(51);
  });
});

describe('idempotency', () => {
  it('replays the first response byte for byte and writes no second event', async () => {
    const body = { nombre: 'Idem', email: uniqueEmail('idem'), estado: 'ACTIVO' };
    const first = await call(h.app, '/v1/partners', { body, headers: { 'idempotency-key': 'create-idem-1' } });
    expect(first.status).toBe(201);
    const firstText = await first.text();
    const before = await counts(h.database);

    // Same body with its keys in another order is the same request.
    const reordered = { estado: 'ACTIVO', email: body.email, nombre: 'Idem' };
    const again = await call(h.app, '/v1/partners', { body: reordered, headers: { 'idempotency-key': 'create-idem-1' } });
    expect(again.status).toBe(201);
    expect(await again.text()).toBe(firstText);
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await counts(h.database)).toEqual(before);
  });

  it('keys are scoped per token', async () => {
    const p = await newPartner(h.app);
    const a = await call(h.app, `/v1/partners/${p.id}/kyc`, { body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': 'kyc-1' } });
    const b = await call(h.app, `/v1/partners/${p.id}/kyc`, { body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': 'kyc-1' }, token: OTHER_TOKEN });
    expect([(await a.json()).version, (await b.json()).version]).toEqual([2, 3]);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    const replay = await call(h.app, `/v1/partners/${p.id}/kyc`, { body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': 'kyc-1' } });
    expect((await replay.json()).version).toBe(2);
  });

  it('10 concurrent duplicates write once and all get the same response', async () => {
    const before = await counts(h.database);
    const body = { nombre: 'Race', email: uniqueEmail('race') };
    const results = await Promise.all(Array.from({ length: 10 }, () =>
      call(h.app, '/v1/partners', { body, headers: { 'idempotency-key': 'race-key' } })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    const texts = await Promise.all(results.map((r) => r.text()));
    expect(new Set(texts).size).toBe(1);
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
    const after = await counts(h.database);
    expect(after).toEqual({ ...before, partners: before.partners + 1, outbox: before.outbox + 1, idempotency: before.idempotency + 1 });
  });
});
