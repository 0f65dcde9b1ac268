// Token scopes: every /v1 operation of the OpenAPI document, called with a token of each
// scope, is refused 403 exactly when the token lacks the scope the document declares, and
// the document declares what requireScope enforces. Operator actions record the token's
// name. A bare secret keeps every scope. Idempotency keys are stored under an HMAC of the
// token keyed with the server's secret, and records stored under the earlier bare hash are
// still replayed to the same token.
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scopeFor, SCOPES, type Scope } from '../src/auth.ts';
import { parseApiTokens } from '../src/index.ts';
import { requestHash } from '../src/idempotency.ts';
import { parkRow } from '../../../test/support/writes.ts';
import { call, counts, createHarness, newPartner, type Harness } from './support/harness.ts';
import { OPERATOR_TOKEN, OTHER_TOKEN, PRINCIPAL_SECRET, READ_TOKEN, TOKEN, WRITE_TOKEN } from './support/tokens.ts';

let h: Harness;
beforeAll(async () => { h = await createHarness(); });
afterAll(async () => { await h?.close(); });

const MISSING = '01990000-0000-7000-8000-0000000000aa';
const TOKEN_OF: Record<Scope, string> = { read: READ_TOKEN, write: WRITE_TOKEN, operator: OPERATOR_TOKEN };

/** A parked outbox row of a new partner, as the relay leaves it after its last failed attempt. */
async function parkedRow(): Promise<string> {
  const p = await newPartner(h.app);
  const [row] = await h.database.sql<{ id: string }[]>`select id::text from outbox where aggregate_id = ${p.id}`;
  await parkRow(h.database.sql, row!.id, 'Timeout');
  return row!.id;
}

describe('scopes', () => {
  it('every /v1 operation needs the scope the OpenAPI document declares, and no other', async () => {
    const doc = await (await h.app.request('/openapi.json')).json() as { paths: Record<string, Record<string, { security?: { bearerAuth: string[] }[] }>> };
    const before = await counts(h.database);
    const wrong: string[] = [];
    let operations = 0;
    for (const [template, item] of Object.entries(doc.paths)) {
      if (!template.startsWith('/v1/')) continue;
      for (const [method, op] of Object.entries(item)) {
        operations++;
        const declared = op.security?.[0]?.bearerAuth ?? [];
        const path = template.replace('{id}', template.startsWith('/v1/outbox/') ? '1' : MISSING);
        const enforced = scopeFor(method.toUpperCase(), path);
        if (declared.length !== 1 || declared[0] !== enforced) wrong.push(`${method} ${template}: declares ${declared.join(',')}, needs ${enforced}`);
        for (const scope of SCOPES) {
          const body = method === 'get' || method === 'delete' ? {} : { raw: '{}' };
          const res = await call(h.app, path, { method: method.toUpperCase(), token: TOKEN_OF[scope], ...body });
          const refused = res.status === 403;
          if (refused !== (scope !== enforced)) wrong.push(`${method} ${template} with a ${scope} token: ${res.status}`);
          if (res.status === 401) wrong.push(`${method} ${template} with a ${scope} token: 401`);
          if (refused) {
            const problem = await res.json();
            if (problem.type !== 'urn:relevo:problem:insufficient-scope') wrong.push(`${method} ${template}: ${problem.type}`);
            if (!problem.detail.includes(`lacks the ${enforced} scope`)) wrong.push(`${method} ${template}: ${problem.detail}`);
            if (res.headers.get('www-authenticate') !== 'Bearer error="insufficient_scope"') wrong.push(`${method} ${template}: no WWW-Authenticate`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(operations).toBeGreaterThanOrEqual(16);
    expect(await counts(h.database)).toEqual(before);
  });

  it('a read token reads but cannot write or skip; the refusal changes nothing', async () => {
    const p = await newPartner(h.app);
    const id = await parkedRow();
    const before = await counts(h.database);
    expect((await call(h.app, `/v1/partners/${p.id}`, { token: READ_TOKEN })).status).toBe(200);
    const patch = await call(h.app, `/v1/partners/${p.id}`, { method: 'PATCH', body: { nombre: 'nope' }, token: READ_TOKEN });
    expect(patch.status).toBe(403);
    expect((await patch.json()).detail).toBe(`the token reader lacks the write scope that PATCH /v1/partners/${p.id} needs`);
    const skip = await call(h.app, `/v1/outbox/${id}/skip`, { body: { reason: 'x' }, token: WRITE_TOKEN });
    expect(skip.status).toBe(403);
    expect(await counts(h.database)).toEqual(before);
    const [row] = await h.database.sql`select skipped_at, parked_at is not null as parked from outbox where id = ${id}`;
    expect(row).toEqual({ skipped_at: null, parked: true });
  });
});

describe('operator actions record who did them', () => {
  it('retry and skip keep the token name, and the skipped list shows it', async () => {
    const id = await parkedRow();
    const retried = await call(h.app, `/v1/outbox/${id}/retry`, { body: {}, token: OPERATOR_TOKEN });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ id, state: 'pending', retried_by: 'api:ops', retried_at: expect.any(String) });

    await parkRow(h.database.sql, id, 'Timeout again');
    const skipped = await call(h.app, `/v1/outbox/${id}/skip`, { body: { reason: 'resent by hand' }, token: OPERATOR_TOKEN });
    expect(await skipped.json()).toMatchObject({ id, state: 'skipped', skip_reason: 'resent by hand', skipped_by: 'api:ops', retried_by: 'api:ops' });
    const [row] = await h.database.sql`select skipped_by, retried_by from outbox where id = ${id}`;
    expect(row).toEqual({ skipped_by: 'api:ops', retried_by: 'api:ops' });
    const list = await (await call(h.app, '/v1/outbox/skipped?limit=5', { token: OPERATOR_TOKEN })).json();
    expect(list.items[0]).toMatchObject({ id, skipped_by: 'api:ops', skip_reason: 'resent by hand' });
  });

  it('a bare secret (API_TOKENS before names) keeps every scope and is recorded as legacy-<its HMAC prefix>', async () => {
    const bare = 'a-bare-secret-from-before-scopes-0123456789';
    const app = h.appWith({ tokens: parseApiTokens(bare) });
    const created = await call(app, '/v1/partners', { body: { nombre: 'Bare', email: 'bare@example.com' }, token: bare });
    expect(created.status).toBe(201);
    const p = await created.json();
    expect((await call(app, `/v1/partners/${p.id}`, { token: bare })).status).toBe(200);
    expect((await call(app, '/v1/outbox/status', { token: bare })).status).toBe(200);
    const id = await parkedRow();
    const skipped = await call(app, `/v1/outbox/${id}/skip`, { body: { reason: 'bare' }, token: bare });
    const name = `legacy-${createHmac('sha256', PRINCIPAL_SECRET).update(bare).digest('hex').slice(0, 8)}`;
    expect(await skipped.json()).toMatchObject({ skipped_by: `api:${name}` });
  });
});

describe('idempotency principals', () => {
  const hmac = (token: string, secret = PRINCIPAL_SECRET) => createHmac('sha256', secret).update(token).digest('hex').slice(0, 32);
  const bareHash = (token: string) => createHash('sha256').update(`relevo:${token}`).digest('hex').slice(0, 32);

  it('are an HMAC of the token keyed with API_PRINCIPAL_SECRET, not a bare hash of it', async () => {
    const p = await newPartner(h.app);
    await call(h.app, `/v1/partners/${p.id}/kyc`, { body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': 'principal-1' } });
    const other = h.appWith({ principalSecret: 'another-principal-secret-0123456789abc' });
    await call(other, `/v1/partners/${p.id}/kyc`, { body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': 'principal-2' } });
    const rows = await h.database.sql`select key, principal from idempotency_keys where key like 'principal-%' order by key`;
    expect(rows).toEqual([
      { key: 'principal-1', principal: hmac(TOKEN) },
      { key: 'principal-2', principal: hmac(TOKEN, 'another-principal-secret-0123456789abc') },
    ]);
    expect(rows.map((r) => r.principal)).not.toContain(bareHash(TOKEN));
  });

  it('a response stored under the bare hash (before the upgrade) is still replayed to its token, and to no other', async () => {
    const p = await newPartner(h.app);
    const path = `/v1/partners/${p.id}/kyc`;
    const body = { estado_kyc: 'RECHAZADO', motivo: 'docs' };
    const stored = JSON.stringify({ id: p.id, version: 7, stored: 'before the upgrade' });
    await h.database.sql`insert into idempotency_keys (principal, key, request_hash, status, body, headers)
      values (${bareHash(TOKEN)}, 'upgrade-1', ${requestHash('POST', path, body)}, 200, ${stored}::jsonb, '{"ETag":"\\"7\\""}'::jsonb)`;
    const before = await counts(h.database);
    const replay = await call(h.app, path, { body, headers: { 'idempotency-key': 'upgrade-1' } });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe(stored);
    expect(await counts(h.database)).toEqual(before);
    const otherToken = await call(h.app, path, { body, headers: { 'idempotency-key': 'upgrade-1' }, token: OTHER_TOKEN });
    expect(otherToken.headers.get('idempotent-replayed')).toBeNull();
    expect((await otherToken.json()).version).toBe(2);
  });
});
