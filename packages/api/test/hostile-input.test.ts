// Hostile input against `relevo api` as a real process over HTTP: text with control
// characters or lone surrogates, ids and cursors past Postgres' bigint. Each case is refused
// with a 400 problem naming the field, while a healthy request sent alongside it is served;
// no row is written, the process stays up, and no request ends in a 500. Also: every
// response says nosniff, /docs has a CSP (its own assets only), and readiness tells the public nothing about the
// database.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { parkRow } from '../../../test/support/writes.ts';
import { counts } from './support/harness.ts';
import { baseEnv, listeningPort, runRelevo, type Running } from './support/process.ts';

const TOKEN = 'hostile-input-token-0123456789abcdef012';
const SECRET = 'hostile-input-principal-secret-01234567';

let tdb: TestDatabase;
let database: Database;
let api: Running;
let base: string;
let partner: { id: string; version: number };
let integration: string;
let parked: string;

interface Sent { status: number; headers: Headers; text: string }

async function send(method: string, path: string, raw?: string): Promise<Sent> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(raw === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(raw === undefined ? {} : { body: raw }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** JSON text with `\uXXXX` escapes kept as escapes, so the server's JSON parser makes the odd string. */
const json = (fields: Record<string, string>) => `{${Object.entries(fields).map(([k, v]) => `"${k}":"${v}"`).join(',')}}`;

beforeAll(async () => {
  tdb = await createTestDatabase('relevo_api_hostile');
  database = connectDatabase(tdb.url, { max: 4 });
  api = runRelevo(['api'], baseEnv({
    DATABASE_URL: tdb.url, API_TOKENS: `hostile:read+write+operator:${TOKEN}`, API_PRINCIPAL_SECRET: SECRET, PORT: '0', LOG_LEVEL: 'info',
  }));
  base = `http://127.0.0.1:${await listeningPort(api)}`;
  partner = JSON.parse((await send('POST', '/v1/partners', json({ nombre: 'Hostile', email: 'hostile@example.com' }))).text);
  integration = JSON.parse((await send('POST', `/v1/partners/${partner.id}/integrations`, json({ tipo: 'ERP', nombre: 'SAP' }))).text).id;
  const [row] = await database.sql<{ id: string }[]>`select id::text from outbox order by id limit 1`;
  parked = row!.id;
  await parkRow(database.sql, parked, 'Timeout');
});

afterAll(async () => {
  if (api?.child.exitCode === null) {
    api.child.kill('SIGTERM');
    await api.exit;
  }
  await database?.close();
  await tdb?.drop();
});

interface Case {
  name: string;
  method: string;
  path: () => string;
  body?: () => string;
  /** The field paths the 400 names. */
  paths: string[];
}

const NUL = '\\u0000';
const ESC = '\\u001b';
const HIGH = '\\ud800';
const LOW = '\\udfff';

const cases: Case[] = [
  { name: 'create: NUL in nombre', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: `a${NUL}b`, email: 'n1@example.com' }), paths: ['body.nombre'] },
  { name: 'create: an escape sequence in nombre', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: `a${ESC}[2J${ESC}]0;x\\u0007`, email: 'n2@example.com' }), paths: ['body.nombre'] },
  { name: 'create: a C1 control (CSI) in nombre', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: 'a\\u009b31m', email: 'n3@example.com' }), paths: ['body.nombre'] },
  { name: 'create: DEL in nombre', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: 'a\\u007f', email: 'n4@example.com' }), paths: ['body.nombre'] },
  { name: 'create: a new line in nombre', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: 'a\\nINFO fake log line', email: 'n5@example.com' }), paths: ['body.nombre'] },
  { name: 'create: a lone high surrogate in nombre', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: `a${HIGH}b`, email: 'n6@example.com' }), paths: ['body.nombre'] },
  { name: 'create: a lone low surrogate in nombre', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: `${LOW}`, email: 'n7@example.com' }), paths: ['body.nombre'] },
  { name: 'create: surrogates in the wrong order', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: `${LOW}${HIGH}`, email: 'n8@example.com' }), paths: ['body.nombre'] },
  { name: 'create: NUL in email', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: 'a', email: `n9${NUL}@example.com` }), paths: ['body.email'] },
  { name: 'create: a lone surrogate in email', method: 'POST', path: () => '/v1/partners', body: () => json({ nombre: 'a', email: `n10${HIGH}@example.com` }), paths: ['body.email'] },
  { name: 'patch: NUL in nombre', method: 'PATCH', path: () => `/v1/partners/${partner.id}`, body: () => json({ nombre: `x${NUL}` }), paths: ['body.nombre'] },
  { name: 'patch: a lone surrogate in nombre', method: 'PATCH', path: () => `/v1/partners/${partner.id}`, body: () => json({ nombre: `x${HIGH}` }), paths: ['body.nombre'] },
  { name: 'kyc: NUL in motivo', method: 'POST', path: () => `/v1/partners/${partner.id}/kyc`, body: () => json({ estado_kyc: 'RECHAZADO', motivo: `x${NUL}` }), paths: ['body.motivo'] },
  { name: 'kyc: a lone surrogate in motivo', method: 'POST', path: () => `/v1/partners/${partner.id}/kyc`, body: () => json({ estado_kyc: 'RECHAZADO', motivo: `x${LOW}` }), paths: ['body.motivo'] },
  { name: 'integration: a control character in tipo', method: 'POST', path: () => `/v1/partners/${partner.id}/integrations`, body: () => json({ tipo: `ERP${ESC}`, nombre: 'x' }), paths: ['body.tipo'] },
  { name: 'integration: a lone surrogate in nombre', method: 'POST', path: () => `/v1/partners/${partner.id}/integrations`, body: () => json({ tipo: 'ERP', nombre: `x${HIGH}` }), paths: ['body.nombre'] },
  { name: 'revoke: NUL in motivo', method: 'POST', path: () => `/v1/integrations/${integration}/revoke`, body: () => json({ motivo: `x${NUL}` }), paths: ['body.motivo'] },
  { name: 'skip: an escape sequence in reason', method: 'POST', path: () => `/v1/outbox/${parked}/skip`, body: () => json({ reason: `ok${ESC}[2K` }), paths: ['body.reason'] },
  { name: 'skip: a lone surrogate in reason', method: 'POST', path: () => `/v1/outbox/${parked}/skip`, body: () => json({ reason: `ok${HIGH}` }), paths: ['body.reason'] },
  { name: 'skip: NUL in reason', method: 'POST', path: () => `/v1/outbox/${parked}/skip`, body: () => json({ reason: NUL }), paths: ['body.reason'] },
  { name: 'retry: an outbox id one past bigint', method: 'POST', path: () => '/v1/outbox/9223372036854775808/retry', body: () => '{}', paths: ['params.id'] },
  { name: 'retry: an outbox id of 19 nines', method: 'POST', path: () => '/v1/outbox/9999999999999999999/retry', body: () => '{}', paths: ['params.id'] },
  { name: 'retry: an outbox id of 20 digits', method: 'POST', path: () => '/v1/outbox/10000000000000000000/retry', body: () => '{}', paths: ['params.id'] },
  { name: 'skip: an outbox id past bigint', method: 'POST', path: () => '/v1/outbox/9223372036854775808/skip', body: () => json({ reason: 'x' }), paths: ['params.id'] },
  { name: 'alliances: a cursor past bigint', method: 'GET',
    path: () => `/v1/partners/${partner.id}/alliances?cursor=${Buffer.from('alliance:9223372036854775808').toString('base64url')}`, paths: ['query.cursor'] },
  { name: 'alliances: a cursor of 19 nines', method: 'GET',
    path: () => `/v1/partners/${partner.id}/alliances?cursor=${Buffer.from('alliance:9999999999999999999').toString('base64url')}`, paths: ['query.cursor'] },
];

describe('hostile input to relevo api', () => {
  it.each(cases)('$name → 400, nothing written, healthy traffic served', async (c) => {
    const before = await counts(database);
    // A healthy read and the hostile request, at the same time.
    const [healthy, bad] = await Promise.all([
      send('GET', `/v1/partners/${partner.id}`),
      send(c.method, c.path(), c.body?.()),
    ]);
    expect(healthy.status).toBe(200);
    expect(bad.status, bad.text).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
    expect(bad.headers.get('x-content-type-options')).toBe('nosniff');
    const problem = JSON.parse(bad.text) as { type: string; detail: string; errors: { path: string; message: string }[] };
    expect(problem.type).toBe('urn:relevo:problem:validation-failed');
    expect(problem.errors.map((e) => e.path)).toEqual(c.paths);
    for (const e of problem.errors) expect(e.message).toMatch(/control characters|lone surrogate|positive integer|at most 9223372036854775807|not a cursor this API gave out|email/);
    expect(await counts(database)).toEqual(before);
    expect(api.child.exitCode).toBeNull();
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
  });

  it('text outside the refused ranges is taken as it is: accents, other scripts, emoji (surrogate pairs)', async () => {
    const nombre = 'Ñandú 数据 \u{1F680} Ωmega';
    const res = await send('POST', '/v1/partners', JSON.stringify({ nombre, email: 'unicode@example.com' }));
    expect(res.status, res.text).toBe(201);
    const { id } = JSON.parse(res.text) as { id: string };
    expect(JSON.parse((await send('GET', `/v1/partners/${id}`)).text).nombre).toBe(nombre);
    const [row] = await database.sql`select payload->'data'->>'nombre' as nombre from outbox where aggregate_id = ${id}`;
    expect(row!.nombre).toBe(nombre);
  });

  it('the largest outbox id is looked up, not refused', async () => {
    const res = await send('POST', '/v1/outbox/9223372036854775807/retry', '{}');
    expect(res.status).toBe(404);
  });

  it('no request ended in a 500, and the process is still serving', async () => {
    const requests = api.stdout.map((l) => JSON.parse(l) as { msg?: string; status?: number; level?: number });
    expect(requests.filter((r) => r.msg === 'request').length).toBeGreaterThan(cases.length * 2);
    expect(requests.filter((r) => (r.status ?? 0) >= 500 || r.msg === 'request failed')).toEqual([]);
    expect(api.child.exitCode).toBeNull();
  });

  it('every kind of response says nosniff, /docs has a content security policy that lets in nothing inline or from elsewhere', async () => {
    const answers = await Promise.all([
      fetch(`${base}/health/live`), fetch(`${base}/openapi.json`), fetch(`${base}/docs`), fetch(`${base}/outbox`),
      fetch(`${base}/v1/partners`), fetch(`${base}/v1/partners`, { headers: { authorization: `Bearer ${TOKEN}` } }),
      fetch(`${base}/nowhere`), fetch(`${base}/v1/partners`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 401, 200, 404, 405]);
    for (const r of answers) expect(r.headers.get('x-content-type-options'), r.url).toBe('nosniff');
    const csp = answers[2]!.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/^default-src 'none';/);
    expect(csp).toMatch(/script-src 'self';/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });
});

describe('readiness of relevo api whose database is gone', () => {
  it('answers 503 with a generic reason; the host, port and driver error go to the log only', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const password = 'readiness-db-password-0123456789';
    const p = runRelevo(['api'], baseEnv({
      DATABASE_URL: `postgres://relevo:${password}@127.0.0.1:${closed}/relevo`, API_TOKENS: `r:read:${TOKEN}`, API_PRINCIPAL_SECRET: SECRET, PORT: '0',
    }));
    try {
      const port = await listeningPort(p);
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(res.status).toBe(503);
      const body = await res.text();
      expect(JSON.parse(body)).toMatchObject({
        type: 'urn:relevo:problem:database-unavailable',
        detail: 'the API cannot serve requests yet: its database check failed (the reason is in the API log)',
      });
      expect(body).not.toContain(String(closed));
      expect(body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
      const logged = p.stdout.map((l) => JSON.parse(l) as { msg?: string; err?: { message?: string; code?: string } });
      expect(logged.find((l) => l.msg === 'readiness check failed')?.err).toMatchObject({ code: 'ECONNREFUSED' });
      expect(p.stdout.join('\n')).not.toContain(password);
    } finally {
      p.child.kill('SIGTERM');
      await p.exit;
    }
  });
});
