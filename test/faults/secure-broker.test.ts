// relevo's client against a REAL broker with TLS and JWT (HS256) token authentication: the 'secure'
// standalone profile of scripts/pulsar.ts (pulsar+ssl://127.0.0.1:6661, admin https://127.0.0.1:8453),
// started and stopped here. The shared dev broker (6650/8080) is not touched.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, PulsarError, type ClientOptions, type PulsarClient } from '@relevo/pulsar';
import { topicUrl } from '@relevo/relay';
import {
  secureAdminRequest, secureBrokerMaterial, signHs256, startBroker, stopBroker, type SecureBrokerMaterial,
} from '../../scripts/pulsar.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { collect, subscribeEarliest } from '../support/pulsar.ts';
import { spawnRelay } from '../support/relay-process.ts';
import { commitWaker } from '../support/waker.ts';
import { createPartners, unsentCount } from '../support/writes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let m: SecureBrokerMaterial;
/** A namespace of this run, on which the unprivileged role relevo-client may produce and consume. */
let namespace: string;

async function admin(method: string, path: string, body?: unknown): Promise<string> {
  const res = await secureAdminRequest(method, path, body === undefined ? {} : { body });
  if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.body}`);
  return res.body;
}

beforeAll(async () => {
  const started = Date.now();
  await startBroker({ profile: 'secure', quiet: true, timeoutMs: 170_000 });
  console.log(`secure broker healthy after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  m = secureBrokerMaterial();
  namespace = `public/secure-${randomBytes(4).toString('hex')}`;
  await admin('PUT', `/admin/v2/namespaces/${namespace}`);
  await admin('POST', `/admin/v2/namespaces/${namespace}/permissions/relevo-client`, ['produce', 'consume']);
});

afterAll(async () => {
  await stopBroker({ profile: 'secure', quiet: true });
});

function topic(prefix: string): string {
  return `persistent://${namespace}/${prefix}-${randomBytes(6).toString('hex')}`;
}

function secureClient(o: Partial<ClientOptions> = {}): PulsarClient {
  return createClient({ serviceUrl: m.serviceUrl, token: m.tokens.admin, tls: { ca: m.ca }, ...o });
}

/** Produces three messages and consumes them back through one client; returns the payloads. */
async function roundTrip(client: PulsarClient, t = topic('rt')): Promise<string[]> {
  try {
    const consumer = await client.subscribe({ topic: t, subscription: 'rt', initialPosition: 'earliest' });
    const producer = await client.createProducer({ topic: t });
    for (const text of ['one', 'two', 'three']) await producer.send({ payload: Buffer.from(text) });
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const msg = await consumer.receive(10_000);
      got.push(Buffer.from(msg.payload).toString('utf8'));
      await consumer.ack(msg);
    }
    return got;
  } finally {
    await client.close();
  }
}

/** The error createProducer fails with, and how long it took. */
async function refusal(o: Partial<ClientOptions>): Promise<{ err: PulsarError; ms: number }> {
  const client = createClient({ serviceUrl: m.serviceUrl, operationTimeoutMs: 20_000, connectionTimeoutMs: 10_000, ...o });
  const started = Date.now();
  try {
    const err = await client.createProducer({ topic: topic('refused') }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PulsarError);
    return { err: err as PulsarError, ms: Date.now() - started };
  } finally {
    await client.close();
  }
}

describe('TLS + JWT against a real broker', () => {
  it('produces and consumes over pulsar+ssl:// with the CA and a valid token', async () => {
    expect(await roundTrip(secureClient())).toEqual(['one', 'two', 'three']);
  });

  it('does the same with a token supplier function', async () => {
    let calls = 0;
    const token = async () => {
      calls++;
      return m.tokens.admin;
    };
    expect(await roundTrip(secureClient({ token }))).toEqual(['one', 'two', 'three']);
    expect(calls).toBeGreaterThanOrEqual(1);
  });

  it('verifies the certificate by host name as well (SAN localhost)', async () => {
    expect(await roundTrip(secureClient({ serviceUrl: 'pulsar+ssl://localhost:6661' }))).toEqual(['one', 'two', 'three']);
  });

  it('answers the broker\'s AUTH_CHALLENGE with a fresh token when the token expires, on the same connection', async () => {
    // pulsar/secure.conf checks for expired tokens every 2 s. Each token lives 3 s.
    const key = readFileSync(join(m.dir, 'secret.key'));
    let calls = 0;
    const token = async () => {
      calls++;
      return signHs256({ sub: 'admin', exp: Math.floor(Date.now() / 1000) + 3 }, key);
    };
    const client = secureClient({ token });
    const t = topic('refresh');
    const publisherAddress = async () => {
      const stats = JSON.parse(await admin('GET', `/admin/v2/persistent/${t.slice('persistent://'.length)}/stats`)) as { publishers: Array<{ address: string }> };
      return stats.publishers.map((p) => p.address);
    };
    try {
      const consumer = await client.subscribe({ topic: t, subscription: 'refresh', initialPosition: 'earliest' });
      const producer = await client.createProducer({ topic: t });
      const before = await publisherAddress();
      expect(before).toHaveLength(1);
      for (let i = 0; i < 8; i++) {
        await producer.send({ payload: Buffer.from(`m${i}`) });
        const msg = await consumer.receive(10_000);
        expect(Buffer.from(msg.payload).toString()).toBe(`m${i}`);
        await consumer.ack(msg);
        await sleep(1000);
      }
      // Tokens were refreshed (CONNECT + at least one AUTH_RESPONSE) and the broker kept the connection.
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(await publisherAddress()).toEqual(before);
    } finally {
      await client.close();
    }
  });

  it('lets an ordinary role in only where it has permissions', async () => {
    expect(await roundTrip(secureClient({ token: m.tokens.client }))).toEqual(['one', 'two', 'three']);
    // public/default grants relevo-client nothing.
    const denied = createClient({ serviceUrl: m.serviceUrl, token: m.tokens.client, tls: { ca: m.ca } });
    try {
      const e = await denied.createProducer({ topic: `persistent://public/default/denied-${randomBytes(4).toString('hex')}` })
        .then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(PulsarError);
      expect((e as PulsarError).code).toBe('AuthorizationError');
    } finally {
      await denied.close();
    }
  });

  it.each([
    ['no token', undefined],
    ['a token signed with another key', 'forged'],
    ['an expired token', 'expired'],
    ['a string that is no JWT', 'garbage'],
  ] as const)('refuses a client with %s: AuthenticationError, at once', async (_, which) => {
    const token = which === undefined ? undefined : which === 'garbage' ? 'not-a-jwt' : m.tokens[which];
    const { err, ms } = await refusal({ tls: { ca: m.ca }, ...(token ? { token } : {}) });
    expect(err.code).toBe('AuthenticationError');
    expect(ms).toBeLessThan(5_000);
  });

  it('refuses a token supplier that fails, as AuthenticationError', async () => {
    const { err, ms } = await refusal({ tls: { ca: m.ca }, token: async () => { throw new Error('vault unreachable'); } });
    expect(err.code).toBe('AuthenticationError');
    expect(err.message).toContain('vault unreachable');
    expect(ms).toBeLessThan(5_000);
  });

  it('fails with TlsError without the CA (rejectUnauthorized defaults to true)', async () => {
    for (const tls of [undefined, { rejectUnauthorized: true }]) {
      const { err, ms } = await refusal({ token: m.tokens.admin, ...(tls ? { tls } : {}) });
      expect(err.code).toBe('TlsError');
      expect(err.message).toMatch(/certificate/i);
      expect(ms).toBeLessThan(5_000);
    }
  });

  it('fails with TlsError when another CA is trusted instead', async () => {
    // The server certificate is not a CA: trusting it alone does not make the chain verify.
    const other = readFileSync(join(m.dir, 'server.crt'), 'utf8');
    const { err } = await refusal({ token: m.tokens.admin, tls: { ca: other } });
    expect(err.code).toBe('TlsError');
  });

  it('fails cleanly, within the operation timeout, when pulsar:// is pointed at the TLS port', async () => {
    const { err, ms } = await refusal({ serviceUrl: 'pulsar://127.0.0.1:6661', token: m.tokens.admin, allowInsecureToken: true, operationTimeoutMs: 3_000 });
    expect(err.code).toBe('ConnectionClosed');
    expect(err.message).toContain('pulsar+ssl://');
    expect(ms).toBeLessThan(6_000);
  });

  it('fails cleanly, within the operation timeout, when pulsar+ssl:// is pointed at the plain port', async () => {
    const { err, ms } = await refusal({ serviceUrl: 'pulsar+ssl://127.0.0.1:6660', token: m.tokens.admin, tls: { ca: m.ca }, operationTimeoutMs: 3_000 });
    expect(['ConnectionError', 'ConnectionClosed', 'TlsError']).toContain(err.code);
    expect(ms).toBeLessThan(6_000);
  });

  it('still requires the token on the plain port, where the client sends it only when told the network is trusted', async () => {
    expect(await roundTrip(createClient({ serviceUrl: m.plainServiceUrl, token: m.tokens.admin, allowInsecureToken: true }))).toEqual(['one', 'two', 'three']);
    const { err } = await refusal({ serviceUrl: m.plainServiceUrl });
    expect(err.code).toBe('AuthenticationError');
    expect((await refusal({ serviceUrl: m.plainServiceUrl, token: m.tokens.admin })).err.code).toBe('InsecureToken');
  });

  it('serves the admin API over https only with a token', async () => {
    expect((await secureAdminRequest('GET', '/admin/v2/brokers/health')).status).toBe(200);
    expect((await secureAdminRequest('GET', '/admin/v2/brokers/health', { token: m.tokens.forged })).status).toBe(401);
    expect((await secureAdminRequest('GET', '/admin/v2/brokers/health', { token: m.tokens.expired })).status).toBe(401);
  });
});

describe('relevo relay against the secure broker', () => {
  let tdb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 4 });
  });

  afterAll(async () => {
    await database?.close();
    await tdb?.drop();
  });

  it('publishes an outbox row over pulsar+ssl:// with PULSAR_TOKEN and PULSAR_TLS_CA_FILE', async () => {
    const relay = spawnRelay({
      DATABASE_URL: tdb.url,
      BROKER_URL: m.serviceUrl,
      PULSAR_ADMIN_URL: m.adminUrl,
      PULSAR_TOKEN: m.tokens.admin,
      PULSAR_TLS_CA_FILE: m.caFile,
      PULSAR_NAMESPACE: namespace,
      LOG_LEVEL: 'info',
    });
    try {
      const [partner] = await createPartners(database, 1, commitWaker(database));
      const deadline = Date.now() + 60_000;
      while ((await unsentCount(database)) > 0) {
        if (relay.child.exitCode !== null) throw new Error(`relay exited with ${relay.child.exitCode}:\n${relay.output()}`);
        if (Date.now() > deadline) throw new Error(`the outbox row was not published; relay output:\n${relay.output()}`);
        await sleep(250);
      }
      const client = secureClient();
      try {
        const consumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
        const received = await collect(consumer, TOPICS.partners, 1, 10_000);
        expect(received).toHaveLength(1);
        expect((received[0]!.event.data as { partner_id: string }).partner_id).toBe(partner);
      } finally {
        await client.close();
      }
    } finally {
      relay.child.kill('SIGTERM');
    }
    expect(await relay.exited).toBe(0);
    // The admin call (is deduplication on?) goes to the https admin port with the same CA.
    expect(relay.output()).not.toContain('could not ask the broker');
    expect(relay.output()).toContain('broker deduplication is on');
  });
});
