import { randomBytes } from 'node:crypto';
import { adminUrl, serviceUrl } from '../../../scripts/pulsar.ts';
import { ProtoReader } from '../src/protocol/proto.ts';
import { createAdmin, createClient, type ClientOptions, type Consumer, type Message, type PulsarClient } from '../src/index.ts';

export { adminUrl, serviceUrl };
export const admin = createAdmin(adminUrl);

export function uniqueTopic(prefix = 't'): string {
  return `persistent://public/default/${prefix}-${randomBytes(6).toString('hex')}`;
}

export function newClient(o: Partial<ClientOptions> = {}): PulsarClient {
  return createClient({ serviceUrl, operationTimeoutMs: 30_000, ...o });
}

export function text(m: Message): string {
  return Buffer.from(m.payload).toString('utf8');
}

/** Receives exactly n messages (acking each unless told not to). */
export async function receiveN(consumer: Consumer, n: number, opts: { ack?: boolean; timeoutMs?: number } = {}): Promise<Message[]> {
  const out: Message[] = [];
  while (out.length < n) {
    const m = await consumer.receive(opts.timeoutMs ?? 20_000);
    out.push(m);
    if (opts.ack ?? true) await consumer.ack(m);
  }
  return out;
}

/** Resolves with the error code when nothing more arrives within ms ("Timeout" is what callers expect). */
export async function nothingMore(consumer: Consumer, ms = 1_000): Promise<string> {
  try {
    const m = await consumer.receive(ms);
    return `unexpected message ${text(m)}`;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/** The fields of one protobuf message, for scripted endpoints: last value wins, nested messages stay bytes. */
export function fields(buf: Uint8Array): Map<number, Buffer | number> {
  const r = new ProtoReader(buf);
  const out = new Map<number, Buffer | number>();
  while (!r.done) {
    const [f, w] = r.tag();
    out.set(f, w === 2 ? r.bytes() : r.uint53());
  }
  return out;
}
