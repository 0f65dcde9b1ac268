// TLS and token authentication at the connection level, against a local TLS endpoint that checks
// the CONNECT handshake (the end-to-end run against a real TLS + JWT broker is
// test/faults/secure-broker.test.ts).
// Certificates are minted per run with openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, PulsarError } from '../src/index.ts';
import { FrameDecoder, simpleFrame } from '../src/protocol/frame.ts';
import { CommandType } from '../src/protocol/commands.ts';
import { fields } from './helpers.ts';

let dir: string;
let ca: string;
let servers: tls.Server[] = [];
let port: number;
/** Same handler on another loopback address, which the certificate does not name. */
let otherHostPort: number;
const seen: Array<{ method?: string; token?: string }> = [];
/** supports_auth_refresh of the last CONNECT's FeatureFlags (field 10). */
let supportsAuthRefresh: number | undefined;
let challengeAnswer: Promise<string> | undefined;
let answerChallenge: (token: string) => void = () => {};
/** Connections the plaintext broker named by a downgrading lookup answer was offered. */
let plainConnections = 0;
let plainPort: number;
let plainServer: net.Server;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function authToken(authData: Buffer | number | undefined): string | undefined {
  return Buffer.isBuffer(authData) ? authData.toString('utf8') : undefined;
}

function serve(socket: tls.TLSSocket): void {
  socket.on('error', () => {});
  let downgrade = false;
  const decoder = new FrameDecoder((frame) => {
    const base = fields(frame.command);
    const type = base.get(1) as number;
    const body = fields(base.get(type) as Buffer);
    if (type === 2) {
      const token = authToken(body.get(3));
      downgrade = token === 'downgrade';
      seen.push({ method: (body.get(5) as Buffer | undefined)?.toString(), ...(token ? { token } : {}) });
      const flags = body.get(10);
      supportsAuthRefresh = Buffer.isBuffer(flags) ? fields(flags).get(1) as number | undefined : undefined;
      if (token === 'bad-token') {
        socket.write(simpleFrame((w) => w.uint(1, CommandType.ERROR).message(CommandType.ERROR, (e) => e.uint(1, 0).uint(2, 3).string(3, 'token rejected'))));
        return;
      }
      socket.write(simpleFrame((w) => w.uint(1, CommandType.CONNECTED).message(CommandType.CONNECTED, (c) => c.string(1, 'tls-fake').int32(2, 19))));
      if (token === 'expiring-token') {
        socket.write(simpleFrame((w) => w.uint(1, CommandType.AUTH_CHALLENGE).message(CommandType.AUTH_CHALLENGE, (c) => c.string(1, 'tls-fake').message(2, (a) => a.string(1, 'token')))));
      }
    } else if (type === 37) {
      answerChallenge(authToken(fields(body.get(2) as Buffer).get(2)) ?? '');
    } else if (type === 21 && downgrade) {
      socket.write(simpleFrame((w) => w.uint(1, CommandType.PARTITIONED_METADATA_RESPONSE).message(CommandType.PARTITIONED_METADATA_RESPONSE, (c) => c.uint(1, 0).uint(2, body.get(2) as number).uint(3, 0))));
    } else if (type === 23 && downgrade) {
      // The TLS URL field names a plaintext broker.
      socket.write(simpleFrame((w) => w.uint(1, CommandType.LOOKUP_RESPONSE).message(CommandType.LOOKUP_RESPONSE, (c) => c.string(2, `pulsar://127.0.0.1:${plainPort}`).uint(3, 1).uint(4, body.get(2) as number))));
    } else if (type === 21) {
      // Answer the first request with a refusal, proving a full request/response round trip over TLS.
      const requestId = body.get(2) as number;
      socket.write(simpleFrame((w) => w.uint(1, CommandType.PARTITIONED_METADATA_RESPONSE).message(CommandType.PARTITIONED_METADATA_RESPONSE, (c) => c.uint(2, requestId).uint(3, 1).uint(4, 4).string(5, 'not allowed here'))));
    }
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relevo-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=relevo test CA');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext');
  ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  const listen = async (host: string): Promise<number> => {
    const server = tls.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) }, serve);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, host, r));
    return (server.address() as { port: number }).port;
  };
  port = await listen('127.0.0.1');
  plainServer = net.createServer((s) => {
    plainConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => plainServer.listen(0, '127.0.0.1', r));
  plainPort = (plainServer.address() as net.AddressInfo).port;
  otherHostPort = await listen('127.0.0.2');
});

afterAll(async () => {
  await Promise.all([...servers, plainServer].map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

async function createProducerError(o: { token?: string | (() => Promise<string>); ca?: string; host?: string }): Promise<PulsarError> {
  const client = createClient({
    serviceUrl: o.host ? `pulsar+ssl://${o.host}:${otherHostPort}` : `pulsar+ssl://127.0.0.1:${port}`, operationTimeoutMs: 5_000, connectionTimeoutMs: 5_000,
    ...(o.token ? { token: o.token } : {}), ...(o.ca ? { tls: { ca: o.ca } } : {}),
  });
  try {
    const err = await client.createProducer({ topic: 'persistent://public/default/tls' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PulsarError);
    return err as PulsarError;
  } finally {
    await client.close();
  }
}

describe('TLS and token authentication', () => {
  it('connects over TLS with a custom CA and sends the token in CONNECT', async () => {
    seen.length = 0;
    const err = await createProducerError({ token: 'jwt-abc', ca });
    expect(err.code).toBe('AuthorizationError');
    expect(err.message).toBe('not allowed here');
    expect(seen).toEqual([{ method: 'token', token: 'jwt-abc' }]);
  });

  it('asks a token supplier for each connection and answers auth challenges with a fresh token', async () => {
    seen.length = 0;
    challengeAnswer = new Promise((r) => { answerChallenge = r; });
    const tokens = ['expiring-token', 'refreshed-token'];
    const err = await createProducerError({ token: async () => tokens.shift() ?? 'spare', ca });
    expect(err.code).toBe('AuthorizationError');
    expect(seen).toEqual([{ method: 'token', token: 'expiring-token' }]);
    expect(await challengeAnswer).toBe('refreshed-token');
  });

  it('tells the broker it answers auth challenges (else a broker drops the connection when the token expires)', async () => {
    supportsAuthRefresh = undefined;
    await createProducerError({ token: 'jwt-abc', ca });
    expect(supportsAuthRefresh).toBe(1);
  });

  it('surfaces a refused token as AuthenticationError', async () => {
    const err = await createProducerError({ token: 'bad-token', ca });
    expect(err.code).toBe('AuthenticationError');
    expect(err.message).toBe('token rejected');
  });

  it('refuses a server certificate that the configured CA did not sign', async () => {
    const err = await createProducerError({ token: 'jwt-abc' });
    expect(err.code).toBe('TlsError');
    expect(err.message).toMatch(/certificate/i);
  });

  it('refuses a lookup answer that moves it to a plaintext broker, which it never contacts', async () => {
    const err = await createProducerError({ token: 'downgrade', ca });
    expect(err.code).toBe('LookupError');
    expect(err.message).toMatch(new RegExp(`answered pulsar://127\\.0\\.0\\.1:${plainPort}, a plaintext broker URL, to a pulsar\\+ssl:// client: refused`));
    expect(plainConnections).toBe(0);
  });

  it('checks the certificate against the host name', async () => {
    const err = await createProducerError({ token: 'jwt-abc', ca, host: '127.0.0.2' });
    expect(err.code).toBe('TlsError');
    expect(err.message).toMatch(/127\.0\.0\.2/);
  });
});
