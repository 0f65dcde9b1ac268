// Paths a single standalone broker never takes — LOOKUP redirects with the authoritative flag,
// proxy_through_service_url, and a broker that stops answering SENDs — exercised against scripted
// endpoints that answer just enough of the protocol.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.ts';
import { FrameDecoder, simpleFrame } from '../src/protocol/frame.ts';
import { CommandType } from '../src/protocol/commands.ts';
import { fields } from './helpers.ts';

interface Seen {
  connect: { proxyToBrokerUrl?: string };
  lookups: Array<{ topic: string; authoritative: boolean }>;
}

type LookupAnswer = (topic: string, authoritative: boolean) => { url: string; redirect?: boolean; authoritative?: boolean; proxyThrough?: boolean };

const servers: net.Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function scriptedBroker(lookup: LookupAnswer): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    const mine: Seen = { connect: {}, lookups: [] };
    seen.push(mine);
    const send = (type: number, body: Parameters<typeof simpleFrame>[0]) => socket.write(simpleFrame((w) => w.uint(1, type).message(type, body)));
    const decoder = new FrameDecoder((frame) => {
      const base = fields(frame.command);
      const type = base.get(1) as number;
      const body = fields(base.get(type) as Buffer);
      switch (type) {
        case CommandType.CONNECT: {
          const proxy = body.get(6) as Buffer | undefined;
          if (proxy) mine.connect.proxyToBrokerUrl = proxy.toString();
          send(CommandType.CONNECTED, (c) => c.string(1, 'scripted').int32(2, 19));
          return;
        }
        case CommandType.PARTITIONED_METADATA:
          send(CommandType.PARTITIONED_METADATA_RESPONSE, (c) => c.uint(1, 0).uint(2, body.get(2) as number).uint(3, 0));
          return;
        case CommandType.LOOKUP: {
          const topic = (body.get(1) as Buffer).toString();
          const authoritative = body.get(3) === 1;
          mine.lookups.push({ topic, authoritative });
          const a = lookup(topic, authoritative);
          send(CommandType.LOOKUP_RESPONSE, (c) => c.string(1, a.url).uint(3, a.redirect ? 0 : 1).uint(4, body.get(2) as number)
            .bool(5, a.authoritative ?? false).bool(8, a.proxyThrough ?? false));
          return;
        }
        case CommandType.PRODUCER:
          send(CommandType.PRODUCER_SUCCESS, (c) => c.uint(1, body.get(3) as number).string(2, 'scripted-producer'));
          return;
        case CommandType.CLOSE_PRODUCER:
          send(CommandType.SUCCESS, (c) => c.uint(1, body.get(2) as number));
          return;
        default:
          // SENDs are swallowed: this broker never confirms anything.
      }
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

describe('topic lookup', () => {
  it('follows a redirect to the owning broker, passing on the authoritative flag', async () => {
    let ownerUrl = '';
    const owner = await scriptedBroker(() => ({ url: ownerUrl }));
    ownerUrl = `pulsar://127.0.0.1:${owner.port}`;
    const service = await scriptedBroker(() => ({ url: ownerUrl, redirect: true, authoritative: true }));
    const client = createClient({ serviceUrl: `pulsar://127.0.0.1:${service.port}`, operationTimeoutMs: 5_000 });
    const producer = await client.createProducer({ topic: 'redirected' });
    expect(producer.producerName).toBe('scripted-producer');
    expect(service.seen.flatMap((s) => s.lookups)).toEqual([{ topic: 'persistent://public/default/redirected', authoritative: false }]);
    expect(owner.seen.flatMap((s) => s.lookups)).toEqual([{ topic: 'persistent://public/default/redirected', authoritative: true }]);
    await client.close();
  });

  it('reaches the owning broker through the service URL when told to proxy', async () => {
    const proxy = await scriptedBroker(() => ({ url: 'pulsar://broker-7.internal:6650', proxyThrough: true }));
    const client = createClient({ serviceUrl: `pulsar://127.0.0.1:${proxy.port}`, operationTimeoutMs: 5_000 });
    const producer = await client.createProducer({ topic: 'proxied' });
    expect(producer.producerName).toBe('scripted-producer');
    // One connection for lookups, one to the proxy on behalf of broker-7.
    expect(proxy.seen.map((s) => s.connect.proxyToBrokerUrl)).toEqual([undefined, 'broker-7.internal:6650']);
    await client.close();
  });
});

describe('send timeout', () => {
  it('fails pending messages with Timeout when the broker never confirms them', async () => {
    let self = '';
    const broker = await scriptedBroker(() => ({ url: self }));
    self = `pulsar://127.0.0.1:${broker.port}`;
    const client = createClient({ serviceUrl: self, operationTimeoutMs: 5_000 });
    const producer = await client.createProducer({ topic: 'silent', batching: false, sendTimeoutMs: 200 });
    const results = await Promise.allSettled([producer.send({ payload: Buffer.from('a') }), producer.send({ payload: Buffer.from('b') })]);
    expect(results.map((r) => r.status === 'rejected' && (r.reason as { code: string }).code)).toEqual(['Timeout', 'Timeout']);
    await client.close();
  });
});
