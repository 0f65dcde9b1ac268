// PULSAR_TOKEN over a clear-text URL: `relevo consumers` and `relevo relay` refuse to start,
// naming the URL variable and never printing the token, unless PULSAR_ALLOW_INSECURE_TOKEN=true.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import { spawnRelevo, waitForOutput, type Subprocess } from './support.ts';

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl';
const DB = 'postgres://postgres@127.0.0.1:5432/unused';

describe('a Pulsar token and clear-text URLs', () => {
  const running: Subprocess[] = [];
  let tdb: TestDatabase;

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_hostile_config');
  });

  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await tdb?.drop();
  });

  it.each<[string, string, Record<string, string>, RegExp[]]>([
    ['consumers', 'a pulsar:// broker', { BROKER_URL: 'pulsar://127.0.0.1:6650' }, [/^config: BROKER_URL="pulsar:\/\/127\.0\.0\.1:6650" is invalid: PULSAR_TOKEN would cross the network in clear text: use pulsar\+ssl:\/\/ or https:\/\/, or set PULSAR_ALLOW_INSECURE_TOKEN=true/]],
    ['relay', 'an http:// admin URL', { BROKER_URL: 'pulsar+ssl://127.0.0.1:6651', PULSAR_ADMIN_URL: 'http://127.0.0.1:8080' }, [/^config: PULSAR_ADMIN_URL="http:\/\/127\.0\.0\.1:8080" is invalid: PULSAR_TOKEN would cross/]],
    ['relay', 'both', { BROKER_URL: 'pulsar://127.0.0.1:6650', PULSAR_ADMIN_URL: 'http://127.0.0.1:8080' }, [/^config: BROKER_URL=/, /^config: PULSAR_ADMIN_URL=/]],
    ['consumers', 'an opt-in that is not a boolean', { BROKER_URL: 'pulsar://127.0.0.1:6650', PULSAR_ALLOW_INSECURE_TOKEN: 'maybe' }, [/^config: PULSAR_ALLOW_INSECURE_TOKEN="maybe" is invalid: expected true or false/]],
  ])('`relevo %s` with PULSAR_TOKEN and %s exits 2 with one line per variable, without the token', async (command, _what, env, lines) => {
    const p = spawnRelevo([command], { DATABASE_URL: DB, PULSAR_TOKEN: TOKEN, ...env });
    running.push(p);
    expect(await p.exited).toBe(2);
    const out = p.output().trim().split('\n');
    expect(out).toHaveLength(lines.length);
    lines.forEach((l, i) => expect(out[i]).toMatch(l));
    expect(p.output()).not.toContain(TOKEN);
  }, 30_000);

  it('`relevo consumers` starts with PULSAR_TOKEN over pulsar:// when PULSAR_ALLOW_INSECURE_TOKEN=true', async () => {
    const p = spawnRelevo(['consumers'], {
      DATABASE_URL: tdb.url, PULSAR_NAMESPACE: await createTestNamespace(), PULSAR_TOKEN: TOKEN, PULSAR_ALLOW_INSECURE_TOKEN: 'true', CONSUMERS: 'alliances',
    });
    running.push(p);
    await waitForOutput(p, /"msg":"consumers ready"/);
    expect(p.output()).not.toContain(TOKEN);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 60_000);
});
