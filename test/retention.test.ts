// The relay's scheduled retention job, run through pg-boss against a real database.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDatabase, createBoss, type Database } from '@relevo/db';
import { RETENTION_QUEUE, scheduleRetention } from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createPartners } from './support/writes.ts';

let tdb: TestDatabase;
let database: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  database = connectDatabase(tdb.url);
});

afterAll(async () => {
  await database?.close();
  await tdb?.drop();
});

it('deletes sent rows and idempotency records older than their retention, and nothing else', async () => {
  await createPartners(database, 30);
  const record = (key: string, age: string) => database.sql`
    insert into idempotency_keys (key, principal, request_hash, status, body, headers, created_at)
    values (${key}, 'p', 'h', 201, '{}', '{}', now() - ${age}::interval)`;
  await record('old', '3 hours');
  await record('recent', '90 minutes');
  await record('new', '1 minute');
  await database.sql`update outbox set sent_at = now() - interval '3 hours' where id <= 10`;
  await database.sql`update outbox set sent_at = now() - interval '30 minutes' where id > 10 and id <= 20`;
  const boss = createBoss(tdb.url);
  await boss.start();
  try {
    await scheduleRetention(boss, database.sql, { sentRowsHours: 1, idempotencyKeysHours: 2 }, createLogger('retention-test', 'silent'));
    await boss.send(RETENTION_QUEUE, {});
    await expect.poll(async () => (await database.sql`select count(*)::int as n from outbox`)[0]!.n, { timeout: 20_000, interval: 250 }).toBe(20);
    const left = await database.sql`select count(*) filter (where sent_at is null)::int as unsent, count(sent_at)::int as sent from outbox`;
    expect(left[0]).toEqual({ unsent: 10, sent: 10 });
    await expect.poll(async () => (await database.sql`select key from idempotency_keys order by key`).map((r) => r.key), { timeout: 20_000, interval: 250 })
      .toEqual(['new', 'recent']);
  } finally {
    await boss.stop({ graceful: false });
  }
});
