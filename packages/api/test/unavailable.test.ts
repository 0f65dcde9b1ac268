// A database that cannot be reached answers 503 problem+json, on writes, reads and readiness.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { createLogger } from '@relevo/runtime';
import { createApp, type App } from '../src/index.ts';
import { call } from './support/harness.ts';
import { PRINCIPAL_SECRET, TOKENS } from './support/tokens.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

let database: Database;
let app: App;
beforeAll(async () => {
  database = connectDatabase(`postgres://postgres@127.0.0.1:${await closedPort()}/relevo`, { max: 2 });
  app = createApp({ database, tokens: TOKENS, principalSecret: PRINCIPAL_SECRET, log: createLogger('api-test', 'silent') });
});
afterAll(async () => { await database.close(); });

describe('database unreachable', () => {
  it.each([
    ['a write', '/v1/partners', { body: { nombre: 'x', email: 'x@example.com' }, headers: { 'idempotency-key': 'k' } }],
    ['a read', '/v1/partners', {}],
    ['readiness', '/health/ready', { token: null }],
  ] as const)('%s answers 503 problem+json', async (_, path, req) => {
    const res = await call(app, path, req);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('5');
    const problem = await res.json();
    expect(problem).toMatchObject({ type: 'urn:relevo:problem:database-unavailable', title: 'The database is unavailable', status: 503 });
    // Public or not, the answer names no host, port or driver error.
    expect(problem.detail).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|\d{4,5}/);
  });

  it('liveness does not depend on the database', async () => {
    const res = await call(app, '/health/live', { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('authentication is still checked first', async () => {
    expect((await call(app, '/v1/partners', { token: 'wrong' })).status).toBe(401);
  });
});
