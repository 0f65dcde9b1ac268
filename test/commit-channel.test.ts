// The commit announcement as the API sends it, read by a real LISTEN: a lone commit is
// announced at once and alone; commits that finish while a NOTIFY is in flight share the
// next one; more keys than one NOTIFY holds are split, none lost.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { AnnouncerConnection, OUTBOX_COMMIT_CHANNEL, connectSql, createCommitAnnouncer, parseCommitPayload, shardKeyOf } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let tdb: TestDatabase;
let sql: ReturnType<typeof connectSql>;
let listener: ReturnType<typeof connectSql>;
let payloads: string[];

beforeAll(async () => {
  tdb = await createTestDatabase();
  sql = connectSql(tdb.url, { max: 2, applicationName: 'relevo-test-announcer' });
  listener = connectSql(tdb.url, { max: 1, applicationName: 'relevo-test-listener' });
  await listener.listen(OUTBOX_COMMIT_CHANNEL, (payload) => payloads.push(payload));
});

beforeEach(() => {
  payloads = [];
});

afterAll(async () => {
  await listener?.end({ timeout: 5 });
  await sql?.end({ timeout: 5 });
  await tdb?.drop();
});

const partners = (n: number) => Array.from({ length: n }, () => randomUUID());
const receivedKeys = () => payloads.flatMap((p): (number | string)[] => parseCommitPayload(p) ?? [`unparsable: ${p}`]);
const settle = async (expected: number) => expect.poll(() => payloads.length, { timeout: 5_000, interval: 20 }).toBe(expected);

it('announces a lone commit at once, in a NOTIFY of its own', async () => {
  const [id] = partners(1);
  await createCommitAnnouncer(sql)([id!]);
  await settle(1);
  expect(payloads).toEqual([String(shardKeyOf(id!))]);
});

it('gathers the commits that finish while a NOTIFY is in flight into the next one', async () => {
  const announce = createCommitAnnouncer(sql);
  const ids = partners(50);
  await Promise.all(ids.map((id) => announce([id])));
  await settle(2);
  expect(parseCommitPayload(payloads[0]!)).toEqual([shardKeyOf(ids[0]!)]);
  expect(new Set(receivedKeys())).toEqual(new Set(ids.map(shardKeyOf)));
});

it('splits more keys than one NOTIFY can carry, losing none', async () => {
  const ids = partners(1_500);
  await createCommitAnnouncer(sql)(ids);
  await settle(3);
  for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8_000);
  expect(new Set(receivedKeys())).toEqual(new Set(ids.map(shardKeyOf)));
});

it('rejects when the NOTIFY fails, so the caller can log it', async () => {
  const closed = connectSql(tdb.url, { max: 1 });
  await closed.end();
  await expect(createCommitAnnouncer(closed)(partners(1))).rejects.toThrow();
});

it('opens a new connection after a NOTIFY failed on its own one, so a broken connection does not silence the announcements', async () => {
  const opened: ReturnType<typeof connectSql>[] = [];
  const own = new AnnouncerConnection(() => {
    const connection = connectSql(tdb.url, { max: 1, applicationName: 'relevo-test-own-announcer' });
    opened.push(connection);
    return connection;
  });
  try {
    // A connection that fails every statement from now on, as one stuck reconnecting does.
    await opened[0]!.end();
    const [lost, next] = partners(2);
    // The second is asked for while the first NOTIFY is in flight: it goes out after that one
    // failed, on the new connection.
    const failing = own.announce([lost!]);
    const following = own.announce([next!]);
    await expect(failing).rejects.toThrow();
    await following;
    await settle(1);
    expect(payloads).toEqual([String(shardKeyOf(next!))]);
    expect(opened).toHaveLength(2);
  } finally {
    await own.close();
  }
});
