// redact(): a table of texts holding a credential, each masked with the rest of the text
// kept, and of texts that must come through unchanged; then the logger, whose every line
// goes through it.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redact } from '../src/index.ts';

const SECRET = 'hunter2-s3cret';

const masked: { name: string; text: string; expected: string }[] = [
  { name: 'postgres URL password', text: `postgres://relevo:${SECRET}@db:5432/relevo`, expected: 'postgres://relevo:***@db:5432/relevo' },
  { name: 'a mistyped scheme (no colon)', text: `postgresql//relevo:${SECRET}@db/relevo`, expected: 'postgresql//relevo:***@db/relevo' },
  { name: 'a password holding / and :', text: `postgres://u:a/b:${SECRET}@db/x`, expected: 'postgres://u:***@db/x' },
  { name: 'a password holding @', text: `postgres://u:p@${SECRET}@db/x`, expected: 'postgres://u:***@db/x' },
  { name: 'a percent-encoded password', text: `postgres://u:p%40${SECRET}@db/x`, expected: 'postgres://u:***@db/x' },
  { name: 'user:password@host without a scheme', text: `could not parse u:${SECRET}@db:5432/x`, expected: 'could not parse u:***@db:5432/x' },
  { name: 'a URL inside a JSON string', text: `{"url":"postgres://u:${SECRET}@db/x","n":1}`, expected: '{"url":"postgres://u:***@db/x","n":1}' },
  { name: 'token= in a query', text: `GET https://hooks.example.com/alert?token=${SECRET}&x=1`, expected: 'GET https://hooks.example.com/alert?token=***&x=***' },
  { name: "a webhook's credentials and every query value", text: `https://relevo:${SECRET}@hooks.example.com/h?sig=${SECRET}&v=2#k=${SECRET}`,
    expected: 'https://relevo:***@hooks.example.com/h?sig=***&v=***#k=***' },
  { name: 'access_token= outside a URL', text: `headers: access_token=${SECRET}, other=1`, expected: 'headers: access_token=***, other=1' },
  { name: 'password= in a libpq string', text: `host=db user=relevo password=${SECRET} dbname=x`, expected: 'host=db user=relevo password=*** dbname=x' },
  { name: 'a Bearer credential', text: `authorization: Bearer ${SECRET}`, expected: 'authorization: Bearer ***' },
  { name: 'a lower-case bearer credential', text: `authorization=bearer ${SECRET}`, expected: 'authorization=bearer ***' },
  { name: 'a Basic credential', text: 'Authorization: Basic dGVzdDp0ZXN0', expected: 'Authorization: Basic ***' },
  { name: 'secret JSON members', text: `{"password":"${SECRET}","api_key":"${SECRET}","pulsar_token":"a\\"b"}`,
    expected: '{"password":"***","api_key":"***","pulsar_token":"***"}' },
];

const unchanged = [
  'postgres://postgres@127.0.0.1:5432/relevo',
  'expected pulsar:// or pulsar+ssl://',
  'config: API_TOKENS is not set: set it to comma-separated name:scope+scope:secret entries',
  'the bearer token is not valid; send Authorization: Bearer <token>',
  '{"email":"a@example.com","time":"2026-01-01T10:00:00.000Z","msg":"request"}',
  'message id 7:1:-1:-1 sent at 10:00:00',
  'see http://127.0.0.1:8080/admin/v2/brokers/health',
];

describe('redact', () => {
  it.each(masked)('masks $name', ({ text, expected }) => {
    expect(redact(text)).toBe(expected);
  });

  it.each(unchanged)('leaves %j as it is', (text) => {
    expect(redact(text)).toBe(text);
  });

  it('is idempotent', () => {
    for (const { text } of masked) expect(redact(redact(text))).toBe(redact(text));
  });
});

describe('createLogger', () => {
  it('writes no credential, in the message, a field, a nested object or an error', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    const log = createLogger('redact-test', 'info', sink);
    const url = `postgres://relevo:${SECRET}@db:5432/relevo`;
    log.error({ err: new Error(`connect failed for ${url}`) }, 'database down');
    log.warn({ webhook: `https://hooks.example.com/x?token=${SECRET}`, headers: { authorization: `Bearer ${SECRET}` } }, 'alert not sent');
    log.info({ config: { password: SECRET } }, `starting with ${url}`);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain(SECRET);
      expect(() => JSON.parse(line)).not.toThrow();
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'database down', err: { message: 'connect failed for postgres://relevo:***@db:5432/relevo' } });
    expect(JSON.parse(lines[1]!)).toMatchObject({ webhook: 'https://hooks.example.com/x?token=***', headers: { authorization: '***' } });
    expect(JSON.parse(lines[2]!)).toMatchObject({ msg: 'starting with postgres://relevo:***@db:5432/relevo', config: { password: '***' } });
  });
});
