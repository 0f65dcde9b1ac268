// `relevo outbox …` as an operator runs it: a subprocess against a real database.
import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createPartners, updatePartner } from './support/writes.ts';

const cli = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));

interface Result { code: number; stdout: string; stderr: string }

describe('relevo outbox', () => {
  let tdb: TestDatabase;
  let database: Database;
  let parkedPartner: string;
  let sentPartner: string;
  let ids: { parked: string; waiting: string; sent: string };

  const run = async (...args: string[]): Promise<Result> => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, 'outbox', ...args], {
        env: { ...process.env, DATABASE_URL: tdb.url, NO_COLOR: '1' },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const counts = async () => database.sql`select count(*)::int as n, count(sent_at)::int as sent, count(parked_at)::int as parked, count(skipped_at)::int as skipped from outbox`;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url);
    [parkedPartner, sentPartner] = await createPartners(database, 3) as [string, string];
    await updatePartner(database, parkedPartner);
    const [p] = await database.sql`update outbox set attempts = 8, parked_at = now(), last_error = 'IncompatibleSchema: field removed'
      where aggregate_id = ${parkedPartner} and aggregate_version = 1 returning id`;
    const [w] = await database.sql`select id from outbox where aggregate_id = ${parkedPartner} and aggregate_version = 2`;
    const [s] = await database.sql`update outbox set sent_at = now(), broker_message_id = '7:1:-1:-1' where aggregate_id = ${sentPartner} returning id`;
    ids = { parked: String(p!.id), waiting: String(w!.id), sent: String(s!.id) };
  });

  afterAll(async () => {
    await database?.close();
    await tdb?.drop();
  });

  it('status counts rows by state and names parked partners', async () => {
    const human = await run('status');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/pending 2\s+backoff 0\s+parked 1\s+sent in the last 60 min 1\s+skipped 0/);
    expect(human.stdout).toContain(parkedPartner);
    const json = JSON.parse((await run('status', '--json')).stdout);
    expect(json.totals).toEqual({ pending: 2, backoff: 0, parked: 1, sent: 1, skipped: 0 });
    expect(json.sent_window_seconds).toBe(3600);
    expect(json.parked_partners[0]).toMatchObject({ aggregate_id: parkedPartner, parked: 1 });
  });

  it('list filters by state and pages with a cursor', async () => {
    const parked = JSON.parse((await run('list', '--state', 'parked', '--json')).stdout);
    expect(parked.rows.map((r: { id: string }) => r.id)).toEqual([ids.parked]);
    const page1 = JSON.parse((await run('list', '--oldest', '--limit', '2', '--json')).stdout);
    expect(page1.rows).toHaveLength(2);
    const page2 = JSON.parse((await run('list', '--oldest', '--limit', '2', '--cursor', page1.next_cursor, '--json')).stdout);
    expect(page2.rows.map((r: { id: string }) => BigInt(r.id) > BigInt(page1.next_cursor)).every(Boolean)).toBe(true);
  });

  it('show explains why a row is not sent and decodes its Avro bytes', async () => {
    const waiting = JSON.parse((await run('show', ids.waiting, '--json')).stdout)[0];
    expect(waiting.why_unsent).toContain(`waiting behind outbox row ${ids.parked}`);
    expect(waiting.wire.decoded).toMatchObject({ type: 'PartnerActualizado', data: { partner_id: parkedPartner, version: 2 } });
    expect(waiting.wire.properties).toMatchObject({ ce_type: 'PartnerActualizado', ce_subject: parkedPartner });
    const parked = (await run('show', ids.parked)).stdout;
    expect(parked).toMatch(/why unsent parked .* after 8 attempts: IncompatibleSchema: field removed/);
    const sent = (await run('show', ids.sent)).stdout;
    expect(sent).toContain('as 7:1:-1:-1');
  });

  it.each([
    [['show', '999999'], 3, /no outbox row with id 999999/],
    [['show', 'nope'], 2, /neither an outbox id nor an event id/],
    [['list', '--since', 'yesterday'], 2, /--since: "yesterday" is not a time/],
    [['list', '--state', 'lost'], 2, /--state: "lost" is not one of/],
    [['list', '--oldest', '--newest'], 2, /cannot go together/],
    [['list', '--bogus'], 2, /Unknown option '--bogus'/],
    [['retry'], 2, /usage: relevo outbox retry/],
    [['retry', '1', '--parked'], 2, /not both/],
    [['skip', '1'], 2, /--reason is required/],
    [['skip', '1', '--reason', 'fixed\u001b[2J\u001b]0;pwned\u0007'], 2, /--reason must not contain control characters/],
    [['skip', '1', '--reason', 'fixed', '--by', 'alice smith'], 2, /--by: use visible ASCII characters/],
    [['retry', '9223372036854775808'], 2, /"9223372036854775808" is not an outbox id \(a positive integer up to 9223372036854775807\)/],
    [['show', '99999999999999999999'], 2, /is not an outbox id/],
    [['list', '--cursor', '9223372036854775808'], 2, /is not an outbox id/],
    [['purge'], 2, /--sent-before/],
    [['frobnicate'], 2, /unknown outbox command "frobnicate"/],
  ])('%j → exit %i, one clear line, nothing changed', async (args, code, message) => {
    const before = await counts();
    const r = await run(...args);
    expect(r.code).toBe(code);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await counts()).toEqual(before);
  });

  it('refuses to skip or retry a row that is not parked', async () => {
    expect((await run('skip', ids.waiting, '--reason', 'x')).code).toBe(4);
    expect((await run('retry', ids.sent)).code).toBe(4);
  });

  it('skip releases the partner; retry re-queues parked rows', async () => {
    const skipped = await run('skip', ids.parked, '--reason', 'schema fixed by hand upstream', '--by', 'alice', '--json');
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ skipped_by: 'cli:alice' });
    const [row] = await database.sql`select skipped_at, skip_reason, skipped_by from outbox where id = ${ids.parked}`;
    expect(row).toMatchObject({ skipped_at: expect.any(Date), skip_reason: 'schema fixed by hand upstream', skipped_by: 'cli:alice' });
    expect((await run('show', ids.parked)).stdout).toMatch(/skipped +\S+ \(.*\) by cli:alice: schema fixed by hand upstream/);
    const waiting = JSON.parse((await run('show', ids.waiting, '--json')).stdout)[0];
    expect(waiting.why_unsent).toMatch(/waiting for the relay/);

    await database.sql`update outbox set parked_at = now(), attempts = 8 where id = ${ids.waiting}`;
    const retried = JSON.parse((await run('retry', '--parked', '--aggregate', parkedPartner, '--json')).stdout);
    // Without --by the OS user is recorded.
    expect(retried).toEqual({ retried: 1, retried_by: `cli:${userInfo().username}` });
    const [again] = await database.sql`select parked_at, attempts, retried_by, retried_at from outbox where id = ${ids.waiting}`;
    expect(again).toEqual({ parked_at: null, attempts: 0, retried_by: `cli:${userInfo().username}`, retried_at: expect.any(Date) });
    expect((await run('show', ids.waiting)).stdout).toContain(`by cli:${userInfo().username}`);
  });

  it('purge deletes only sent rows older than the cut-off', async () => {
    await database.sql`update outbox set sent_at = now() - interval '10 days' where id = ${ids.sent}`;
    const r = JSON.parse((await run('purge', '--sent-before', '7d', '--json')).stdout);
    expect(r.deleted).toBe(1);
    const [left] = await database.sql`select count(*)::int as n from outbox where id = ${ids.sent}`;
    expect(left!.n).toBe(0);
  });

  it('prints stored text with escape sequences and bidi overrides as visible escapes, never raw', async () => {
    // Text the API and the CLI now refuse can still be stored: a broker's error message, a
    // row written before the refusal existed. Printed raw, ESC/CSI sequences act on the terminal.
    const hostile = 'Timeout\u001b[2J\u001b]0;owned\u0007 \u009b31m red \u202egnp.exe\r\nfake line';
    const [bad] = await database.sql`select id, event_type from outbox where sent_at is null and parked_at is null order by id desc limit 1`;
    await database.sql`update outbox set attempts = 8, parked_at = now(), last_error = ${hostile}, event_type = ${`Partner\u001b[8mActualizado`}
      where id = ${bad!.id}`;
    try {
      for (const args of [['show', String(bad!.id)], ['status'], ['list', '--state', 'parked']]) {
        const r = await run(...args);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout, args.join(' ')).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
        expect(r.stdout).toContain('Partner\\x1b[8mActualizado');
      }
      const shown = (await run('show', String(bad!.id))).stdout;
      expect(shown).toContain('last error: Timeout\\x1b[2J\\x1b]0;owned\\x07 \\x9b31m red \\u202egnp.exe\\x0d\\x0afake line');
      // --json keeps the exact text (escaped as JSON), with C1 and bidi characters escaped too.
      const json = await run('show', String(bad!.id), '--json');
      expect(json.stdout).not.toMatch(/[\u0080-\u009f\u202a-\u202e]/);
      expect(JSON.parse(json.stdout)[0].row.last_error).toBe(hostile);
    } finally {
      await database.sql`update outbox set attempts = 0, parked_at = null, last_error = null, event_type = ${bad!.event_type} where id = ${bad!.id}`;
    }
  });
});
