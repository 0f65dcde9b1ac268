// postgres.js drops the promise of its first query on a new connection (the array types):
// when that query fails, Node exits on the unhandled rejection. A relay whose database
// connections were terminated died this way. Reproduced deterministically with a role
// that may not read pg_type: without surviveDroppedTypeFetches the process exits 1.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDroppedTypeFetch } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { runNodeScript, type ScriptRun } from './support/node-script.ts';

const POOL = fileURLToPath(new URL('../packages/db/src/pool.ts', import.meta.url));
const SCRIPT = `
import { connectSql, surviveDroppedTypeFetches } from ${JSON.stringify(POOL)};
if (process.env.GUARDED) surviveDroppedTypeFetches({ warn: (_obj, msg) => process.stdout.write(msg + '\\n') });
const sql = connectSql(process.env.URL, { max: 1 });
await sql\`select 1\`.catch(() => undefined);
await new Promise((resolve) => setTimeout(resolve, 300));
await sql.end({ timeout: 1 });
`;

function run(url: string, guarded: boolean): Promise<ScriptRun> {
  return runNodeScript(SCRIPT, { URL: url, ...(guarded ? { GUARDED: '1' } : {}) });
}

describe('a failed type fetch on a new database connection', () => {
  let tdb: TestDatabase;
  const role = `relevo_no_types_${randomBytes(3).toString('hex')}`;
  let url: string;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const admin = postgres(tdb.url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create role ${role} login`);
    await admin.unsafe('revoke select on pg_catalog.pg_type from public');
    await admin.end();
    url = tdb.url.replace('postgres://postgres@', `postgres://${role}@`);
  });

  afterAll(async () => {
    await tdb?.drop();
    const admin = postgres(tdb.url.replace(/\/[^/]*$/, '/postgres'), { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop role if exists ${role}`);
    await admin.end();
  });

  it('ends the process when nothing catches it (the driver bug this guards against)', async () => {
    const r = await run(url, false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/permission denied for table pg_type/);
  });

  it('is logged and survived with the guard every relevo process installs', async () => {
    const r = await run(url, true);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/failed while postgres\.js fetched its types/);
  });

  it('is told apart from every other rejection', () => {
    expect(isDroppedTypeFetch(Object.assign(new Error('x'), { query: '\n      select b.oid, b.typarray\n      from pg_catalog.pg_type a\n' }))).toBe(true);
    for (const other of [new Error('x'), Object.assign(new Error('x'), { query: 'select 1' }), null, 'text']) {
      expect(isDroppedTypeFetch(other)).toBe(false);
    }
  });
});
