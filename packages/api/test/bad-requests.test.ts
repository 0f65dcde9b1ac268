// A table of bad requests: each gets the right status and problem+json body, and leaves
// the partners / integrations / outbox / idempotency row counts exactly as they were.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN, call, counts, createHarness, newPartner, uniqueEmail, type Harness, type Req } from './support/harness.ts';

let h: Harness;
// Fixtures, filled in beforeAll.
const f = {
  live: '' as string,
  liveEmail: '' as string,
  other: '' as string,
  deleted: '' as string,
  active: '' as string,
  revoked: '' as string,
};
const MISSING = '01990000-0000-7000-8000-0000000000aa';
const IDEM_KEY = 'bad-requests-key';

beforeAll(async () => {
  h = await createHarness();
  const live = await newPartner(h.app, { nombre: 'Live' });
  f.live = live.id;
  f.liveEmail = live.email;
  f.other = (await newPartner(h.app)).id;
  const deleted = await newPartner(h.app);
  await call(h.app, `/v1/partners/${deleted.id}`, { method: 'DELETE' });
  f.deleted = deleted.id;
  f.active = (await (await call(h.app, `/v1/partners/${f.other}/integrations`, { body: { tipo: 'ERP', nombre: 'a' } })).json()).id;
  f.revoked = (await (await call(h.app, `/v1/partners/${f.other}/integrations`, { body: { tipo: 'ERP', nombre: 'r' } })).json()).id;
  await call(h.app, `/v1/integrations/${f.revoked}/revoke`, { body: { motivo: 'fin' } });
  const idem = await call(h.app, `/v1/partners/${f.live}/kyc`, { body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': IDEM_KEY } });
  expect(idem.status).toBe(200);
});
afterAll(async () => { await h?.close(); });

interface Case {
  name: string;
  path: () => string;
  req: () => Req;
  status: number;
  type: string;
  /** For 400: the field paths named in `errors`. */
  paths?: string[];
  /** The Allow header a 405 must carry (and no other answer may). */
  allow?: string;
}

const create = (body: unknown): Req => ({ body });
const big = 'x'.repeat(70 * 1024);

const cases: Case[] = [
  // body validation on create
  { name: 'create: nombre of the wrong type', path: () => '/v1/partners', req: () => create({ nombre: 42, email: uniqueEmail() }), status: 400, type: 'validation-failed', paths: ['body.nombre'] },
  { name: 'create: email missing', path: () => '/v1/partners', req: () => create({ nombre: 'x' }), status: 400, type: 'validation-failed', paths: ['body.email'] },
  { name: 'create: empty object', path: () => '/v1/partners', req: () => create({}), status: 400, type: 'validation-failed', paths: ['body.nombre', 'body.email'] },
  { name: 'create: unknown field', path: () => '/v1/partners', req: () => create({ nombre: 'x', email: uniqueEmail(), version: 9 }), status: 400, type: 'validation-failed', paths: ['body.version'] },
  { name: 'create: malformed email', path: () => '/v1/partners', req: () => create({ nombre: 'x', email: 'not-an-email' }), status: 400, type: 'validation-failed', paths: ['body.email'] },
  { name: 'create: estado outside the enum', path: () => '/v1/partners', req: () => create({ nombre: 'x', email: uniqueEmail(), estado: 'BORRADO' }), status: 400, type: 'validation-failed', paths: ['body.estado'] },
  { name: 'create: blank nombre', path: () => '/v1/partners', req: () => create({ nombre: '   ', email: uniqueEmail() }), status: 400, type: 'validation-failed', paths: ['body.nombre'] },
  { name: 'create: body is an array', path: () => '/v1/partners', req: () => create([{ nombre: 'x' }]), status: 400, type: 'validation-failed', paths: ['body'] },
  { name: 'create: malformed JSON', path: () => '/v1/partners', req: () => ({ raw: '{"nombre": "x",' }), status: 400, type: 'malformed-json' },
  { name: 'create: text/plain body', path: () => '/v1/partners', req: () => ({ raw: '{}', headers: { 'content-type': 'text/plain' } }), status: 415, type: 'unsupported-media-type' },
  { name: 'create: no content type', path: () => '/v1/partners', req: () => ({ method: 'POST' }), status: 415, type: 'unsupported-media-type' },
  { name: 'create: form-encoded body', path: () => '/v1/partners', req: () => ({ raw: 'nombre=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), status: 415, type: 'unsupported-media-type' },
  { name: 'create: body over 64 KiB', path: () => '/v1/partners', req: () => create({ nombre: big, email: uniqueEmail() }), status: 413, type: 'payload-too-large' },
  { name: 'create: duplicate email in another case', path: () => '/v1/partners', req: () => create({ nombre: 'x', email: f.liveEmail.toUpperCase() }), status: 409, type: 'email-taken' },
  // authentication
  { name: 'no bearer token', path: () => '/v1/partners', req: () => ({ token: null }), status: 401, type: 'unauthorized' },
  { name: 'unknown bearer token', path: () => '/v1/partners', req: () => ({ token: 'nope' }), status: 401, type: 'unauthorized' },
  { name: 'basic auth instead of bearer', path: () => '/v1/partners', req: () => ({ token: null, headers: { authorization: 'Basic dGVzdDp0ZXN0' } }), status: 401, type: 'unauthorized' },
  { name: 'write without a token', path: () => '/v1/partners', req: () => ({ ...create({ nombre: 'x', email: uniqueEmail() }), token: null }), status: 401, type: 'unauthorized' },
  // paths and lookups
  { name: 'read: id is not a uuid', path: () => '/v1/partners/not-a-uuid', req: () => ({}), status: 400, type: 'validation-failed', paths: ['params.id'] },
  { name: 'read: no such partner', path: () => `/v1/partners/${MISSING}`, req: () => ({}), status: 404, type: 'not-found' },
  { name: 'unknown route', path: () => '/v1/nothing-here', req: () => ({}), status: 404, type: 'not-found' },
  { name: 'known path, unsupported method', path: () => `/v1/partners/${MISSING}`, req: () => ({ method: 'PUT', body: { nombre: 'x' } }), status: 405, type: 'method-not-allowed', allow: 'DELETE, GET, HEAD, PATCH' },
  { name: 'collection, unsupported method', path: () => '/v1/partners', req: () => ({ method: 'DELETE' }), status: 405, type: 'method-not-allowed', allow: 'GET, HEAD, POST' },
  { name: 'list integrations of no such partner', path: () => `/v1/partners/${MISSING}/integrations`, req: () => ({}), status: 404, type: 'not-found' },
  // list queries
  { name: 'list: estado outside the enum', path: () => '/v1/partners?estado=FOO', req: () => ({}), status: 400, type: 'validation-failed', paths: ['query.estado'] },
  { name: 'list: include_deleted not a boolean', path: () => '/v1/partners?include_deleted=yes', req: () => ({}), status: 400, type: 'validation-failed', paths: ['query.include_deleted'] },
  { name: 'list: limit 0', path: () => '/v1/partners?limit=0', req: () => ({}), status: 400, type: 'validation-failed', paths: ['query.limit'] },
  { name: 'list: limit not a number', path: () => '/v1/partners?limit=many', req: () => ({}), status: 400, type: 'validation-failed', paths: ['query.limit'] },
  { name: 'list: forged cursor', path: () => '/v1/partners?cursor=Zm9vYmFy', req: () => ({}), status: 400, type: 'validation-failed', paths: ['query.cursor'] },
  { name: 'list: unknown query parameter', path: () => '/v1/partners?orden=desc', req: () => ({}), status: 400, type: 'validation-failed', paths: ['query.orden'] },
  // update / delete
  { name: 'patch: no such partner', path: () => `/v1/partners/${MISSING}`, req: () => ({ method: 'PATCH', body: { nombre: 'x' } }), status: 404, type: 'not-found' },
  { name: 'patch: stale If-Match', path: () => `/v1/partners/${f.live}`, req: () => ({ method: 'PATCH', body: { nombre: 'x' }, headers: { 'if-match': '"1"' } }), status: 412, type: 'version-mismatch' },
  { name: 'patch: malformed If-Match', path: () => `/v1/partners/${f.live}`, req: () => ({ method: 'PATCH', body: { nombre: 'x' }, headers: { 'if-match': 'yesterday' } }), status: 400, type: 'validation-failed', paths: ['headers.if-match'] },
  { name: 'patch: empty patch', path: () => `/v1/partners/${f.live}`, req: () => ({ method: 'PATCH', body: {} }), status: 400, type: 'validation-failed', paths: ['body'] },
  { name: 'patch: estado of the wrong type', path: () => `/v1/partners/${f.live}`, req: () => ({ method: 'PATCH', body: { estado: 5 } }), status: 400, type: 'validation-failed', paths: ['body.estado'] },
  { name: 'patch: estado_kyc is not patchable', path: () => `/v1/partners/${f.live}`, req: () => ({ method: 'PATCH', body: { estado_kyc: 'VERIFICADO' } }), status: 400, type: 'validation-failed', paths: ['body', 'body.estado_kyc'] },
  { name: 'patch: email of another partner in another case', path: () => `/v1/partners/${f.other}`, req: () => ({ method: 'PATCH', body: { email: f.liveEmail.toUpperCase() } }), status: 409, type: 'email-taken' },
  { name: 'patch: deleted partner', path: () => `/v1/partners/${f.deleted}`, req: () => ({ method: 'PATCH', body: { nombre: 'x' } }), status: 409, type: 'partner-deleted' },
  { name: 'delete: deleted partner', path: () => `/v1/partners/${f.deleted}`, req: () => ({ method: 'DELETE' }), status: 409, type: 'partner-deleted' },
  { name: 'delete: bad uuid', path: () => '/v1/partners/1234', req: () => ({ method: 'DELETE' }), status: 400, type: 'validation-failed', paths: ['params.id'] },
  // KYC
  { name: 'kyc: PENDIENTE is not a result', path: () => `/v1/partners/${f.live}/kyc`, req: () => create({ estado_kyc: 'PENDIENTE' }), status: 400, type: 'validation-failed', paths: ['body.estado_kyc'] },
  { name: 'kyc: motivo of the wrong type', path: () => `/v1/partners/${f.live}/kyc`, req: () => create({ estado_kyc: 'RECHAZADO', motivo: ['a'] }), status: 400, type: 'validation-failed', paths: ['body.motivo'] },
  { name: 'kyc: deleted partner', path: () => `/v1/partners/${f.deleted}/kyc`, req: () => create({ estado_kyc: 'VERIFICADO' }), status: 409, type: 'partner-deleted' },
  { name: 'kyc: no such partner', path: () => `/v1/partners/${MISSING}/kyc`, req: () => create({ estado_kyc: 'VERIFICADO' }), status: 404, type: 'not-found' },
  { name: 'kyc: idempotency key reused with another body', path: () => `/v1/partners/${f.live}/kyc`, req: () => ({ body: { estado_kyc: 'RECHAZADO' }, headers: { 'idempotency-key': IDEM_KEY } }), status: 422, type: 'idempotency-key-reused' },
  { name: 'kyc: idempotency key reused on another partner', path: () => `/v1/partners/${f.other}/kyc`, req: () => ({ body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': IDEM_KEY } }), status: 422, type: 'idempotency-key-reused' },
  { name: 'kyc: idempotency key with spaces', path: () => `/v1/partners/${f.live}/kyc`, req: () => ({ body: { estado_kyc: 'VERIFICADO' }, headers: { 'idempotency-key': 'a key' } }), status: 400, type: 'validation-failed', paths: ['headers.idempotency-key'] },
  // integrations
  { name: 'integration: tipo missing', path: () => `/v1/partners/${f.live}/integrations`, req: () => create({ nombre: 'x' }), status: 400, type: 'validation-failed', paths: ['body.tipo'] },
  { name: 'integration: deleted partner', path: () => `/v1/partners/${f.deleted}/integrations`, req: () => create({ tipo: 'ERP', nombre: 'x' }), status: 409, type: 'partner-deleted' },
  { name: 'integration: stale If-Match', path: () => `/v1/partners/${f.other}/integrations`, req: () => ({ body: { tipo: 'ERP', nombre: 'x' }, headers: { 'if-match': '"2"' } }), status: 412, type: 'version-mismatch' },
  { name: 'revoke: already revoked', path: () => `/v1/integrations/${f.revoked}/revoke`, req: () => create({ motivo: 'otra vez' }), status: 409, type: 'integration-revoked' },
  { name: 'revoke: no such integration', path: () => `/v1/integrations/${MISSING}/revoke`, req: () => create({ motivo: 'x' }), status: 404, type: 'not-found' },
  { name: 'revoke: motivo missing', path: () => `/v1/integrations/${f.active}/revoke`, req: () => create({}), status: 400, type: 'validation-failed', paths: ['body.motivo'] },
  { name: 'revoke: bad uuid', path: () => '/v1/integrations/zzz/revoke', req: () => create({ motivo: 'x' }), status: 400, type: 'validation-failed', paths: ['params.id'] },
  { name: 'read integration: no such integration', path: () => `/v1/integrations/${MISSING}`, req: () => ({}), status: 404, type: 'not-found' },
];

describe('bad requests', () => {
  it('has at least 30 cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it.each(cases)('$name → $status', async (c) => {
    const before = await counts(h.database);
    const res = await call(h.app, c.path(), c.req());
    const text = await res.text();
    expect(res.status, text).toBe(c.status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const problem = JSON.parse(text);
    expect(problem).toMatchObject({ type: `urn:relevo:problem:${c.type}`, status: c.status, instance: new URL(c.path(), 'http://x').pathname });
    expect(typeof problem.title).toBe('string');
    expect(typeof problem.detail).toBe('string');
    if (c.paths) {
      expect(problem.errors.map((e: { path: string }) => e.path).sort()).toEqual([...c.paths].sort());
      for (const e of problem.errors) expect(typeof e.message).toBe('string');
    } else {
      expect(problem.errors).toBeUndefined();
    }
    if (c.status === 401) expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('allow')).toBe(c.allow ?? null);
    expect(await counts(h.database)).toEqual(before);
  });

  it('a real server refuses an oversized body by its Content-Length', async () => {
    const server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    try {
      const before = await counts(h.database);
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/v1/partners`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ nombre: big, email: uniqueEmail() }),
      });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ type: 'urn:relevo:problem:payload-too-large', status: 413 });
      expect(await counts(h.database)).toEqual(before);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a smaller configured limit applies', async () => {
    const small = h.appWith({ maxBodyBytes: 64 });
    const res = await call(small, '/v1/partners', { body: { nombre: 'x'.repeat(80), email: uniqueEmail() } });
    expect(res.status).toBe(413);
  });
});
