// Configuration values, bad and hostile, through the real loaders of every process and
// through the processes themselves: each is refused with one line naming the variable and
// saying why, and no line carries the secret the value held (a URL's password, a token, a
// webhook's query). Valid token lists in both forms are read as they should be.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConsumersConfig } from '@relevo/consumers';
import { loadRelayConfig } from '@relevo/relay';
import { ConfigError, parseEnv, TracingEnv } from '@relevo/runtime';
import { ApiEnv } from '../packages/api/src/main.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

const cli = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));

/** What must never be printed; long enough to stand for a token. */
const SECRET = 'Zq7hunter2Secret0123456789abcdefXY';
const GOOD_TOKENS = 'app:read+write:app-secret-0123456789abcdef0123456789';
const GOOD_PRINCIPAL_SECRET = 'principal-secret-0123456789abcdef0123';
const API_BASE = { DATABASE_URL: 'postgres://relevo@127.0.0.1:5432/relevo', API_TOKENS: GOOD_TOKENS, API_PRINCIPAL_SECRET: GOOD_PRINCIPAL_SECRET };
const DB_BASE = { DATABASE_URL: 'postgres://relevo@127.0.0.1:5432/relevo' };

const dir = mkdtempSync(join(tmpdir(), 'relevo-config-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

type Loader = (env: NodeJS.ProcessEnv) => unknown;
const loaders: Record<string, Loader> = {
  api: (env) => parseEnv(ApiEnv, env),
  relay: (env) => loadRelayConfig(env),
  consumers: (env) => loadConsumersConfig(env),
  tracing: (env) => parseEnv(TracingEnv, env),
};

interface Case {
  name: string;
  loader: keyof typeof loaders;
  env: () => Record<string, string>;
  /** The one line expected, in full. */
  line: string | RegExp;
}

const cases: Case[] = [
  // URLs holding credentials
  { name: 'DATABASE_URL with a mistyped scheme', loader: 'api', env: () => ({ ...API_BASE, DATABASE_URL: `postgresql//relevo:${SECRET}@db/relevo` }),
    line: 'config: DATABASE_URL="postgresql//relevo:***@db/relevo" is invalid: expected a postgres:// or postgresql:// URL' },
  { name: 'DATABASE_URL of another database', loader: 'relay', env: () => ({ DATABASE_URL: `mysql://relevo:${SECRET}@db/relevo` }),
    line: 'config: DATABASE_URL="mysql://relevo:***@db/relevo" is invalid: expected a postgres:// or postgresql:// URL' },
  { name: 'DATABASE_URL as a JDBC URL with password=', loader: 'consumers', env: () => ({ DATABASE_URL: `jdbc:postgresql://db/relevo?user=relevo&password=${SECRET}` }),
    line: 'config: DATABASE_URL="jdbc:postgresql://db/relevo?user=***&password=***" is invalid: expected a postgres:// or postgresql:// URL' },
  // A primary and its standbys: the primary must be asked for, the way this driver checks it
  { name: 'DATABASE_URL naming two hosts without target_session_attrs', loader: 'relay',
    env: () => ({ DATABASE_URL: `postgres://relevo:${SECRET}@db1:5432,db2:5432/relevo` }),
    line: 'config: DATABASE_URL="postgres://relevo:***@db1:5432,db2:5432/relevo" is invalid: it names several hosts: add target_session_attrs=primary, or a connection may go to a standby' },
  { name: 'DATABASE_URL with target_session_attrs=read-write', loader: 'api',
    env: () => ({ ...API_BASE, DATABASE_URL: `postgres://relevo:${SECRET}@db1:5432,db2:5432/relevo?target_session_attrs=read-write` }),
    line: 'config: DATABASE_URL="postgres://relevo:***@db1:5432,db2:5432/relevo?target_session_attrs=***" is invalid: target_session_attrs=read-write lets this driver connect to a standby (it reads only default_transaction_read_only, off on a PostgreSQL 14+ standby): use target_session_attrs=primary' },
  { name: 'DATABASE_URL with target_session_attrs=standby', loader: 'consumers',
    env: () => ({ DATABASE_URL: 'postgres://relevo@db2:5432/relevo?target_session_attrs=standby' }),
    line: 'config: DATABASE_URL="postgres://relevo@db2:5432/relevo?target_session_attrs=***" is invalid: target_session_attrs must be primary: every relevo process writes' },
  { name: "PULSAR_ADMIN_URL with a mistyped scheme", loader: 'relay', env: () => ({ ...DB_BASE, PULSAR_ADMIN_URL: `http//admin:${SECRET}@pulsar:8080` }),
    line: /^config: PULSAR_ADMIN_URL="http\/\/admin:\*\*\*@pulsar:8080" is invalid: / },
  { name: 'BROKER_URL with http credentials', loader: 'relay', env: () => ({ ...DB_BASE, BROKER_URL: `http://relay:${SECRET}@pulsar:6650` }),
    line: 'config: BROKER_URL="http://relay:***@pulsar:6650" is invalid: expected pulsar://host:port or pulsar+ssl://host:port, or several hosts: pulsar://h1:6650,h2:6650' },
  { name: 'RELAY_ID with a #', loader: 'relay', env: () => ({ ...DB_BASE, RELAY_ID: 'relay#2' }),
    line: /^config: RELAY_ID="relay#2" is invalid: must not contain # \(a claim is tagged <relay id>#<run>\)$/ },
  { name: 'ALERT_WEBHOOK_URL on ftp with credentials', loader: 'consumers', env: () => ({ ...DB_BASE, ALERT_WEBHOOK_URL: `ftp://alerts:${SECRET}@hooks.example.com/x` }),
    line: 'config: ALERT_WEBHOOK_URL="ftp://alerts:***@hooks.example.com/x" is invalid: expected an http:// or https:// URL' },
  { name: 'ALERT_WEBHOOK_URL without a scheme, token in its query', loader: 'consumers',
    env: () => ({ ...DB_BASE, ALERT_WEBHOOK_URL: `hooks.example.com/services/x?token=${SECRET}` }),
    line: 'config: ALERT_WEBHOOK_URL="hooks.example.com/services/x?token=***" is invalid: expected an http:// or https:// URL' },
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT without a scheme, api_key in its query', loader: 'tracing',
    env: () => ({ OTEL_EXPORTER_OTLP_ENDPOINT: `collector:4318/?api_key=${SECRET}` }),
    line: 'config: OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318/?api_key=***" is invalid: expected an http(s) URL like http://collector:4318' },
  // API tokens: the value is never shown, nor any part of an entry
  { name: 'a bare token under 32 characters', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: SECRET.slice(0, 20) }),
    line: 'config: API_TOKENS=(20 characters, not shown) is invalid: entry 1 of 1: the secret is too weak: it has 20 characters; use at least 32 (e.g. openssl rand -hex 32)' },
  { name: 'a named token under 32 characters', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: `${GOOD_TOKENS},ci:read:${SECRET.slice(0, 31)}` }),
    line: /^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entry 2 of 2: the secret is too weak: it has 31 characters; use at least 32/ },
  { name: 'an unknown scope', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: `ci:read+admin:${SECRET}` }),
    line: /^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entry 1 of 1: unknown scope; scopes are read, write, operator, joined with \+$/ },
  { name: 'a name and scopes but no secret', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: `${SECRET}:read` }),
    line: /^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entry 1 of 1: expected name:scope\+scope:secret/ },
  { name: 'a name with a space', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: `ci bot:read:${SECRET}` }),
    line: /^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entry 1 of 1: a name is 1 to 64 letters/ },
  { name: 'a secret with a space', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: `ci:read:${SECRET} x` }),
    line: /^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entry 1 of 1: the secret is too weak: use visible ASCII characters only/ },
  { name: 'one secret under two names', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: `a:read:${SECRET},b:write:${SECRET}` }),
    line: /^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entries 1 and 2 have the same secret$/ },
  { name: 'one name twice', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: `a:read:${SECRET},a:write:${SECRET}x` }),
    line: /^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entries 1 and 2 have the same name$/ },
  { name: 'only separators', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS: ' , ' }),
    line: 'config: API_TOKENS=(3 characters, not shown) is invalid: give at least one token as name:scope+scope:secret (scopes: read, write, operator)' },
  { name: 'neither API_TOKENS nor API_TOKENS_FILE', loader: 'api', env: () => ({ DATABASE_URL: API_BASE.DATABASE_URL, API_PRINCIPAL_SECRET: GOOD_PRINCIPAL_SECRET }),
    line: 'config: API_TOKENS is not set: set it (or API_TOKENS_FILE) to comma-separated name:scope+scope:secret entries (scopes: read, write, operator)' },
  { name: 'both API_TOKENS and API_TOKENS_FILE', loader: 'api', env: () => ({ ...API_BASE, API_TOKENS_FILE: file('both', GOOD_TOKENS) }),
    line: /^config: API_TOKENS_FILE=".*both" is invalid: set API_TOKENS or API_TOKENS_FILE, not both$/ },
  { name: 'an API_TOKENS_FILE that does not exist', loader: 'api',
    env: () => ({ DATABASE_URL: API_BASE.DATABASE_URL, API_PRINCIPAL_SECRET: GOOD_PRINCIPAL_SECRET, API_TOKENS_FILE: join(dir, 'missing') }),
    line: /^config: API_TOKENS_FILE=".*missing" is invalid: cannot read it \(ENOENT\)$/ },
  { name: 'an API_TOKENS_FILE with a weak entry', loader: 'api',
    env: () => ({ DATABASE_URL: API_BASE.DATABASE_URL, API_PRINCIPAL_SECRET: GOOD_PRINCIPAL_SECRET, API_TOKENS_FILE: file('weak', `# tokens\n${GOOD_TOKENS}\nci:read:${SECRET.slice(0, 10)}\n`) }),
    line: /^config: API_TOKENS_FILE=".*weak" is invalid: entry 2 of 2: the secret is too weak: it has 10 characters; use at least 32/ },
  { name: 'API_PRINCIPAL_SECRET under 32 characters', loader: 'api', env: () => ({ ...API_BASE, API_PRINCIPAL_SECRET: SECRET.slice(0, 16) }),
    line: 'config: API_PRINCIPAL_SECRET=(16 characters, not shown) is invalid: too weak: it has 16 characters; use at least 32 (e.g. openssl rand -hex 32)' },
  { name: 'no API_PRINCIPAL_SECRET', loader: 'api', env: () => ({ DATABASE_URL: API_BASE.DATABASE_URL, API_TOKENS: GOOD_TOKENS }),
    line: /^config: API_PRINCIPAL_SECRET is not set: set it to a random string of 32 characters or more/ },
];


describe('bad configuration values, through the loaders', () => {
  it.each(cases)('$loader: $name', (c) => {
    let error: unknown;
    try {
      loaders[c.loader]!(c.env());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).message.split('\n');
    expect(lines).toHaveLength(1);
    if (typeof c.line === 'string') expect(lines[0]).toBe(c.line);
    else expect(lines[0]).toMatch(c.line);
    expect(lines[0]).not.toContain(SECRET.slice(0, 10));
    expect(lines[0]).not.toContain(GOOD_TOKENS.split(':')[2]);
  });
});

describe('a DATABASE_URL naming a primary and its standbys', () => {
  it('is read by every process when it asks for the primary', () => {
    const DATABASE_URL = 'postgres://relevo@db1:5432,db2:5432/relevo?target_session_attrs=primary';
    expect(loadRelayConfig({ DATABASE_URL }).DATABASE_URL).toBe(DATABASE_URL);
    expect(loadConsumersConfig({ DATABASE_URL }).DATABASE_URL).toBe(DATABASE_URL);
    expect(parseEnv(ApiEnv, { ...API_BASE, DATABASE_URL }).DATABASE_URL).toBe(DATABASE_URL);
  });
});

describe('token lists that are read', () => {
  it('API_TOKENS_FILE: one entry a line, comments and blank lines skipped, commas too', () => {
    const path = file('tokens', `# relevo API tokens\n\n${GOOD_TOKENS}\n  ops:read+operator:ops-secret-0123456789abcdef012345678  \nci:write:ci-secret-0123456789abcdef012345678,audit:read:audit-secret-0123456789abcdef0123\n`);
    const config = parseEnv(ApiEnv, { DATABASE_URL: API_BASE.DATABASE_URL, API_PRINCIPAL_SECRET: GOOD_PRINCIPAL_SECRET, API_TOKENS_FILE: path });
    expect(config.API_TOKENS.map((t) => [t.name, t.scopes.join('+')])).toEqual([
      ['app', 'read+write'], ['ops', 'read+operator'], ['ci', 'write'], ['audit', 'read'],
    ]);
  });

  it('a bare secret, as API_TOKENS held before names and scopes, keeps every scope', () => {
    const config = parseEnv(ApiEnv, { ...API_BASE, API_TOKENS: `${SECRET},${GOOD_TOKENS}` });
    expect(config.API_TOKENS[0]).toEqual({ name: null, scopes: ['read', 'write', 'operator'], secret: SECRET });
    expect(config.API_TOKENS[1]).toMatchObject({ name: 'app', scopes: ['read', 'write'] });
  });
});

describe('bad configuration values, through the processes', () => {
  let tdb: TestDatabase;
  beforeAll(async () => { tdb = await createTestDatabase('relevo_config_values'); });
  afterAll(async () => { await tdb?.drop(); });

  const run = async (args: string[], env: Record<string, string>) => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 30_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const badUrl = `postgresql//relevo:${SECRET}@db/relevo`;

  it.each([
    ['api', { API_TOKENS: GOOD_TOKENS, API_PRINCIPAL_SECRET: GOOD_PRINCIPAL_SECRET }],
    ['relay', {}],
    ['consumers', {}],
    ['db migrate', {}],
    ['outbox status', {}],
    ['audit', {}],
  ] as const)('relevo %s with a DATABASE_URL holding a password: exit 2, the password masked', async (command, extra) => {
    const r = await run(command.split(' '), { ...extra, DATABASE_URL: badUrl });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['config: DATABASE_URL="postgresql//relevo:***@db/relevo" is invalid: expected a postgres:// or postgresql:// URL']);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('relevo api with a weak token: exit 2, the token not shown', async () => {
    const r = await run(['api'], { DATABASE_URL: tdb.url, API_TOKENS: `ci:read:${SECRET.slice(0, 12)}`, API_PRINCIPAL_SECRET: GOOD_PRINCIPAL_SECRET });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^config: API_TOKENS=\(\d+ characters, not shown\) is invalid: entry 1 of 1: the secret is too weak/)]);
    expect(r.stdout + r.stderr).not.toContain(SECRET.slice(0, 12));
  });

  it('relevo outbox status against a database it cannot reach: exit 1, the password masked', async () => {
    const r = await run(['outbox', 'status'], { DATABASE_URL: `postgres://relevo:${SECRET}@127.0.0.1:1/relevo` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^relevo: cannot reach the database: /);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});
