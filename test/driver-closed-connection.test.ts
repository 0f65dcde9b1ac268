// A transaction whose database connection dies under it (a server stopped or failed over, a
// backend terminated): postgres.js 3.4.9 wrote its own ROLLBACK to the closed socket from a
// setImmediate and the process died (porsager/postgres#1208), and the pool's next query on
// that connection failed with the error the dead session had received. The API died this
// way when its primary was stopped (test/faults/pg-failover.test.ts). relevo carries a patch
// of the driver (patches/postgres@3.4.9.patch); this runs the case in a process of its own,
// since the failure is the process ending.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { runNodeScript } from './support/node-script.ts';

const POOL = fileURLToPath(new URL('../packages/db/src/pool.ts', import.meta.url));
const SCRIPT = `
import { connectSql } from ${JSON.stringify(POOL)};
const sql = connectSql(process.env.URL, { max: 1 });
const other = connectSql(process.env.URL, { max: 1 });
let pid;
const tx = sql.begin(async (t) => {
  [{ pid }] = await t\`select pg_backend_pid() as pid\`;
  await t\`select pg_sleep(5)\`;
});
while (pid === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
await other\`select pg_terminate_backend(\${pid})\`;
process.stdout.write('transaction: ' + await tx.then(() => 'committed', (err) => err.code) + '\\n');
// The same connection (a pool of one), reconnected.
const [{ one }] = await sql\`select 1 as one\`;
process.stdout.write('next query: ' + one + '\\n');
await Promise.all([sql.end({ timeout: 1 }), other.end({ timeout: 1 })]);
`;

describe('a transaction whose connection dies', () => {
  let tdb: TestDatabase;

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });

  afterAll(async () => {
    await tdb?.drop();
  });

  it('fails with CONNECTION_CLOSED; the process lives on and the pool\'s next query on that connection succeeds', async () => {
    const r = await runNodeScript(SCRIPT, { URL: tdb.url });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toBe('transaction: CONNECTION_CLOSED\nnext query: 1\n');
  });
});
