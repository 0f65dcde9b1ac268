// The token is a credential: it is sent over TLS only unless allowInsecureToken says otherwise,
// to the binary protocol and to the admin API alike. (A lookup that would move a pulsar+ssl://
// client to a plaintext broker is refused: tls-auth.test.ts.)
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdmin, createClient, PulsarError } from '../src/index.ts';

const servers: Array<net.Server | Server> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A plaintext endpoint that answers CONNECT and records every byte it receives. */
async function recordingBroker(): Promise<{ url: string; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // CONNECTED, then nothing more: enough for the token to be seen or not.
      socket.write(Buffer.from([0, 0, 0, 13, 0, 0, 0, 9, 8, 3, 0x1a, 5, 0x0a, 1, 0x78, 0x10, 19]));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `pulsar://127.0.0.1:${(server.address() as net.AddressInfo).port}`, received: () => Buffer.concat(chunks) };
}

describe('a token over a plaintext connection', () => {
  it('is refused with InsecureToken, and never reaches the wire', async () => {
    const broker = await recordingBroker();
    let asked = 0;
    for (const token of ['s3cret-token', async () => { asked++; return 's3cret-token'; }]) {
      const client = createClient({ serviceUrl: broker.url, token, operationTimeoutMs: 2_000, connectionTimeoutMs: 2_000 });
      try {
        const err = await client.createProducer({ topic: 'plain' }).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(PulsarError);
        expect(err).toMatchObject({ code: 'InsecureToken', message: expect.stringContaining('in clear text') });
      } finally {
        await client.close();
      }
    }
    expect(asked).toBe(0);
    expect(broker.received().includes('s3cret-token')).toBe(false);
  });

  it('is sent when allowInsecureToken says the network is trusted', async () => {
    const broker = await recordingBroker();
    const client = createClient({ serviceUrl: broker.url, token: 's3cret-token', allowInsecureToken: true, operationTimeoutMs: 500, connectionTimeoutMs: 2_000 });
    try {
      await client.createProducer({ topic: 'plain' }).catch(() => undefined);
      expect(broker.received().includes('s3cret-token')).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe('a token to a plaintext admin URL', () => {
  it('is refused at once, unless allowed; https:// takes it', async () => {
    const headers: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      headers.push(req.headers.authorization);
      res.writeHead(200).end('true');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    expect(() => createAdmin(url, { token: 's3cret-token' })).toThrow(expect.objectContaining({ code: 'InsecureToken' }));
    expect(await createAdmin(url, { token: 's3cret-token', allowInsecureToken: true }).deduplicationStatus('public/default')).toBe(true);
    expect(await createAdmin(url).deduplicationStatus('public/default')).toBe(true);
    expect(headers).toEqual(['Bearer s3cret-token', undefined]);
    expect(() => createAdmin('https://pulsar.example.test:8443', { token: 's3cret-token' })).not.toThrow();
  });
});
