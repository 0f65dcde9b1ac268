// A local TCP server that speaks garbage: every flavour of bad frame must surface as a
// PulsarError with code ProtocolError (never a hang, never a crash of the process).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, PulsarError } from '../src/index.ts';
import { simpleFrame } from '../src/protocol/frame.ts';
import { CommandType } from '../src/protocol/commands.ts';

const CONNECTED = simpleFrame((w) => w.uint(1, CommandType.CONNECTED).message(CommandType.CONNECTED, (c) => c.string(1, 'fake-broker').int32(2, 19)));

type Script = (socket: net.Socket, chunkNo: number) => void;

const servers: net.Server[] = [];

async function garbageServer(script: Script): Promise<number> {
  const server = net.createServer((socket) => {
    let n = 0;
    socket.on('data', () => script(socket, n++));
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function createProducerAgainst(port: number): Promise<unknown> {
  const client = createClient({ serviceUrl: `pulsar://127.0.0.1:${port}`, operationTimeoutMs: 5_000, connectionTimeoutMs: 5_000 });
  try {
    return await client.createProducer({ topic: 'persistent://public/default/garbage' }).then(() => undefined, (e: unknown) => e);
  } finally {
    await client.close();
  }
}

describe('a broker that sends garbage', () => {
  it.each<[string, Script, RegExp]>([
    ['an HTTP answer instead of a frame', (s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'), /frame size .* out of range/],
    ['a truncated frame, then EOF', (s) => s.end(Buffer.from([0, 0, 0, 100, 0, 0, 0, 10, 8, 3])), /middle of a frame/],
    ['a frame whose command is not protobuf', (s) => s.write(Buffer.from([0, 0, 0, 9, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff])), /varint|protobuf|field/],
    ['a command size larger than its frame', (s) => s.write(Buffer.from([0, 0, 0, 8, 0, 0, 0, 200, 8, 3, 0, 0])), /does not fit/],
    ['a command other than CONNECTED during the handshake', (s) => s.write(simpleFrame((w) => w.uint(1, CommandType.SEND_RECEIPT).message(CommandType.SEND_RECEIPT, (c) => c.uint(1, 0).uint(2, 0)))), /before CONNECTED/],
  ])('rejects createProducer with ProtocolError for %s', async (_name, script, reason) => {
    const port = await garbageServer(script);
    const err = await createProducerAgainst(port);
    expect(err).toBeInstanceOf(PulsarError);
    expect((err as PulsarError).code).toBe('ProtocolError');
    expect((err as PulsarError).message).toMatch(reason);
  });

  it('times out with code Timeout when the server never answers', async () => {
    const port = await garbageServer(() => {});
    const client = createClient({ serviceUrl: `pulsar://127.0.0.1:${port}`, operationTimeoutMs: 300, connectionTimeoutMs: 300 });
    await expect(client.createProducer({ topic: 'garbage' })).rejects.toMatchObject({ code: 'Timeout' });
    await client.close();
  });
});
