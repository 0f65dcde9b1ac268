// pg-boss's database on postgres.js (packages/db/src/boss-database.ts) keeps what pg-boss
// expects of node-postgres: its BEGIN…COMMIT scripts, a failed one included, leave nothing
// open; JSON it serialised itself goes in as given; rows come back as node-postgres returns
// them. The relay's tests and the failover test run pg-boss on it end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBossDatabase, type BossDatabase } from '@relevo/db/sql';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

describe("pg-boss's database on postgres.js", () => {
  let tdb: TestDatabase;
  let db: BossDatabase;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = connectBossDatabase(tdb.url, { max: 2, applicationName: 'relevo-test' });
  });

  afterAll(async () => {
    await db?.end();
    await tdb?.drop();
  });

  it('runs a script after one that failed inside its transaction: the failed one was rolled back', async () => {
    await db.executeSql('create table t (id int primary key)');
    await expect(db.executeSql('BEGIN; insert into t values (1); select 1/0; COMMIT;')).rejects.toMatchObject({ code: '22012' });
    const { rows } = await db.executeSql('BEGIN; insert into t values (2); select count(*) as n from t; COMMIT;');
    expect(rows).toEqual([{ n: '1' }]);
  });

  it('takes JSON text as given and an object as its JSON, as node-postgres does', async () => {
    const { rows } = await db.executeSql('select $1::json as given, $2::jsonb as object, $3::text as text', [
      JSON.stringify([{ name: 'a' }]), { b: 1 }, { c: 2 },
    ]);
    expect(rows).toEqual([{ given: [{ name: 'a' }], object: { b: 1 }, text: '{"c":2}' }]);
  });

  it('returns bigint as text, arrays parsed, undefined bound as null', async () => {
    const { rows } = await db.executeSql('select 9007199254740993::bigint as big, $1::text[] as list, $2::int as missing', [['x', 'y'], undefined]);
    expect(rows).toEqual([{ big: '9007199254740993', list: ['x', 'y'], missing: null }]);
  });
});
