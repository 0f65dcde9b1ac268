// `relevo outbox replay` and `tail` as subprocesses against the real database and broker.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { topicUrl } from '@relevo/relay';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { collect, createTestNamespace, serviceUrl, subscribeEarliest } from './support/pulsar.ts';
import { createPartners, updatePartner } from './support/writes.ts';

const cli = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));

describe('relevo outbox replay and tail', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;
  let env: NodeJS.ProcessEnv;
  let partner: string;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
    env = { ...process.env, DATABASE_URL: tdb.url, BROKER_URL: serviceUrl, PULSAR_NAMESPACE: namespace, NO_COLOR: '1' };
    [partner] = await createPartners(database, 3) as [string];
    await updatePartner(database, partner);
    await updatePartner(database, partner);
    await database.sql`update outbox set sent_at = now() - interval '1 hour', broker_message_id = '5:' || id || ':-1:-1'`;
  });

  afterAll(async () => {
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const run = async (...args: string[]) => {
    try {
      const r = await promisify(execFile)(process.execPath, [cli, 'outbox', ...args], { env });
      return { code: 0, ...r };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('--dry-run counts what would go and publishes nothing', async () => {
    const r = await run('replay', '--aggregate', partner, '--dry-run', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).would_replay).toBe(3);
    const [row] = await database.sql`select count(*)::int as n from outbox where sent_at > now() - interval '1 minute'`;
    expect(row!.n).toBe(0);
  });

  it('re-publishes a partner\'s sent events in order as new messages marked as replays, resumable with --after', async () => {
    const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners), 'replay-check');
    const ids = (await database.sql`select id from outbox where aggregate_id = ${partner} order by id`).map((r) => String(r.id));
    const first = JSON.parse((await run('replay', '--aggregate', partner, '--to-id', ids[0]!, '--json')).stdout);
    expect(first).toEqual({ replayed: 1, last_id: ids[0], interrupted: false });
    const rest = JSON.parse((await run('replay', '--aggregate', partner, '--after', first.last_id, '--json')).stdout);
    expect(rest).toEqual({ replayed: 2, last_id: ids[2], interrupted: false });
    const received = await collect(consumer, TOPICS.partners, 3, 10_000);
    await consumer.close();
    expect(received.map((r) => Number((r.event.data as { version: number }).version))).toEqual([1, 2, 3]);
    for (const { message } of received) {
      expect(message.properties).toMatchObject({ relevo_replay: 'true', ce_subject: partner });
      expect(message.properties.relevo_replay_of).toMatch(/^5:\d+:-1:-1$/);
      expect(message.partitionKey).toBe(partner);
    }
  });

  it('refuses a replay with no selection or a backwards id range', async () => {
    expect((await run('replay')).code).toBe(2);
    expect((await run('replay', '--from-id', '9', '--to-id', '2')).stderr).toMatch(/--from-id must not be after --to-id/);
  });

  it('tail follows rows as they are marked sent, then stops on SIGINT', async () => {
    const child = spawn(process.execPath, [cli, 'outbox', 'tail', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await expect.poll(() => stderr, { timeout: 30_000 }).toContain('tail: following');
    const [fresh] = await createPartners(database, 1);
    await database.sql`update outbox set sent_at = now(), broker_message_id = '9:9:-1:-1' where aggregate_id = ${fresh!}`;
    await expect.poll(() => lines.length, { timeout: 10_000 }).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'PartnerCreado', partner: fresh, message_id: '9:9:-1:-1' });
    child.kill('SIGINT');
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
  });
});
