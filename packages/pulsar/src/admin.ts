// The few admin REST calls relevo needs. The admin URL may name several brokers
// (http://h1:8080,h2:8080): a call goes to them in turn until one answers (hosts.ts), and
// follows the redirects a broker answers with for a topic another broker owns.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PulsarError, isPlaintextUrl } from './errors.ts';
import { HostRing, parseAdminUrls } from './hosts.ts';
import { fullTopicName } from './topic.ts';

export interface AdminSchema {
  version: number;
  type: string;
  /** Avro JSON text for AVRO/JSON schemas. */
  schema: string;
  properties: Record<string, string>;
}

/** A stored message as the admin API returns it (peek, or by ledger and entry). */
export interface AdminMessage {
  /** "ledger:entry", as the broker names the entry. */
  messageId: string;
  payload: Buffer;
  properties: Record<string, string>;
  publishTime: number;
  eventTime?: number;
  partitionKey?: string;
  producerName?: string;
  /** The entry holds a batch of this many messages (payload is then the batch, undecoded). */
  batchSize?: number;
}

/** Where a durable subscription stands: what it acknowledged, as the broker's internal stats say it. */
export interface CursorState {
  /** "ledger:entry": everything at or before it is acknowledged. */
  markDeletePosition: string;
  /** Acknowledged ranges after it, "[(l:e1..l:e2],(…]]": open at the start, closed at the end. */
  individuallyDeletedMessages: string;
}

export interface PulsarAdmin {
  createPartitionedTopic(topic: string, partitions: number): Promise<void>;
  /** The topic's partition count: 0 when it is not partitioned (or does not exist yet). */
  partitionCount(topic: string): Promise<number>;
  /** The namespace's deduplication policy if it has one, else the broker's brokerDeduplicationEnabled. */
  deduplicationStatus(namespace: string): Promise<boolean>;
  getSchema(topic: string): Promise<AdminSchema | undefined>;
  deleteSchema(topic: string): Promise<void>;
  /** Unacknowledged messages per subscription of a topic; undefined when the topic does not exist. */
  subscriptionBacklogs(topic: string): Promise<Record<string, number> | undefined>;
  /** A durable subscription from the topic's earliest message; a no-op when it exists. */
  createSubscription(topic: string, subscription: string): Promise<void>;
  /** The n-th (from 1) unacknowledged message of a subscription, undefined past its backlog. */
  peekMessage(topic: string, subscription: string, position: number): Promise<AdminMessage | undefined>;
  /** A stored message by its entry; undefined when the topic has no such entry. */
  getMessage(topic: string, ledgerId: bigint, entryId: bigint): Promise<AdminMessage | undefined>;
  cursorState(topic: string, subscription: string): Promise<CursorState | undefined>;
}

function adminMessage(res: AdminResponse): AdminMessage {
  const h = res.headers;
  const one = (name: string) => {
    const v = h[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const time = (name: string) => {
    const v = one(name);
    return v ? Date.parse(v) : undefined;
  };
  const batch = one('x-pulsar-num-batch-message');
  return {
    messageId: one('x-pulsar-message-id') ?? '',
    payload: res.body,
    properties: JSON.parse(one('x-pulsar-property') ?? '{}') as Record<string, string>,
    publishTime: time('x-pulsar-publish-time') ?? 0,
    ...(time('x-pulsar-event-time') !== undefined ? { eventTime: time('x-pulsar-event-time')! } : {}),
    ...(one('x-pulsar-partition-key') !== undefined ? { partitionKey: one('x-pulsar-partition-key')! } : {}),
    ...(one('x-pulsar-producer-name') !== undefined ? { producerName: one('x-pulsar-producer-name')! } : {}),
    ...(batch !== undefined ? { batchSize: Number(batch) } : {}),
  };
}

/** "persistent://tenant/ns/topic" → "persistent/tenant/ns/topic" as the REST paths spell it. */
function topicPath(topic: string): { domain: string; rest: string } {
  const m = /^(persistent|non-persistent):\/\/([^/]+)\/([^/]+)\/(.+)$/.exec(fullTopicName(topic));
  if (!m) throw new PulsarError('InvalidTopicName', `invalid topic ${topic}`);
  return { domain: m[1]!, rest: `${m[2]}/${m[3]}/${encodeURIComponent(m[4]!)}` };
}

export interface AdminOptions {
  token?: string;
  /** Send the token to an http:// admin URL (clear text) too; without it such an admin refuses to be created. */
  allowInsecureToken?: boolean;
  /** CA bundle an https admin URL's certificate is checked against (the broker's private CA). */
  ca?: string | Buffer;
  timeoutMs?: number;
}

interface AdminResponse {
  status: number;
  ok: boolean;
  text: string;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** Redirects followed per call: a broker sends a topic's calls to its owner, which answers them. */
const MAX_REDIRECTS = 5;
/** The broker's redirects keep the method and body (307/308); others are answers. */
const REDIRECTS = new Set([307, 308]);

/** Failures of one admin host that move the call on to the next: it is down, unreachable or silent. */
const HOST_DOWN = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

class AdminHostDown extends PulsarError {
  constructor(message: string, cause: unknown) {
    super('AdminError', message, { cause });
    this.name = 'AdminHostDown';
  }
}

export function createAdmin(adminUrl: string, options: AdminOptions = {}): PulsarAdmin {
  const bases = parseAdminUrls(adminUrl);
  const hosts = new HostRing(bases);
  const timeoutMs = options.timeoutMs ?? 30_000;
  /** The token goes over TLS only, unless allowed (packages/pulsar/test/insecure-token.test.ts), redirects included. */
  const refuseInsecure = (url: string) => {
    if (options.token && isPlaintextUrl(url) && !options.allowInsecureToken) {
      throw new PulsarError('InsecureToken', `refusing to send the token to ${url} in clear text: use https://, or allow it explicitly (allowInsecureToken)`);
    }
  };
  for (const base of bases) refuseInsecure(base);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;

  // node:http(s) rather than fetch: fetch cannot be given a CA without another dependency.
  function send(url: URL, method: string, body: string | undefined): Promise<AdminResponse & { location?: string }> {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, timeout: timeoutMs, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks);
          resolve({
            status, ok: status >= 200 && status < 300, text: body.toString('utf8'), body, headers: res.headers,
            ...(res.headers.location ? { location: res.headers.location } : {}),
          });
        });
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** One call on one admin host, following its redirects (the topic's owner may be another broker). */
  async function callOn(base: string, method: string, path: string, body: string | undefined): Promise<AdminResponse> {
    let url = new URL(base + path);
    for (let i = 0; ; i++) {
      let res: AdminResponse & { location?: string };
      try {
        res = await send(url, method, body);
      } catch (e) {
        const message = `${method} ${url.href}: ${(e as Error).message}`;
        // Only the first host's own failure moves the call on; a redirect's target is the owner's.
        if (i === 0 && HOST_DOWN.has((e as NodeJS.ErrnoException).code ?? '')) throw new AdminHostDown(message, e);
        throw new PulsarError('AdminError', message, { cause: e });
      }
      // A broker that is starting or stopping answers 503: another may not be.
      if (i === 0 && res.status === 503) throw new AdminHostDown(`${method} ${url.href}: HTTP 503 ${res.text}`.trim(), undefined);
      if (!REDIRECTS.has(res.status) || !res.location) return res;
      if (i >= MAX_REDIRECTS) throw new PulsarError('AdminError', `${method} ${path}: more than ${MAX_REDIRECTS} redirects`);
      url = new URL(res.location, url);
      refuseInsecure(url.href);
    }
  }

  function call(method: string, path: string, body?: unknown): Promise<AdminResponse> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return hosts.attempt((base) => callOn(base, method, path, text), (e) => e instanceof AdminHostDown).catch((e: unknown) => {
      throw e instanceof AdminHostDown ? new PulsarError('AdminError', `no admin host answered (${adminUrl}): ${e.message}`, { cause: e }) : e;
    });
  }

  function fail(res: AdminResponse, what: string): never {
    throw new PulsarError('AdminError', `${what}: HTTP ${res.status} ${res.text}`.trim());
  }

  return {
    async createPartitionedTopic(topic, partitions) {
      const { domain, rest } = topicPath(topic);
      const res = await call('PUT', `/admin/v2/${domain}/${rest}/partitions`, partitions);
      if (!res.ok) fail(res, `create partitioned topic ${topic}`);
    },

    async partitionCount(topic) {
      const { domain, rest } = topicPath(topic);
      const res = await call('GET', `/admin/v2/${domain}/${rest}/partitions`);
      if (res.status === 404) return 0;
      if (!res.ok) fail(res, `partitions of ${topic}`);
      return (JSON.parse(res.text) as { partitions?: number }).partitions ?? 0;
    },

    async deduplicationStatus(namespace) {
      const res = await call('GET', `/admin/v2/namespaces/${namespace}/deduplication`);
      if (!res.ok) fail(res, `deduplication policy of ${namespace}`);
      const text = res.text.trim();
      if (text === 'true' || text === 'false') return text === 'true';
      const conf = await call('GET', '/admin/v2/brokers/configuration/runtime');
      if (!conf.ok) fail(conf, 'broker runtime configuration');
      const values = JSON.parse(conf.text) as Record<string, string>;
      return values.brokerDeduplicationEnabled === 'true';
    },

    async getSchema(topic) {
      const { rest } = topicPath(topic);
      const res = await call('GET', `/admin/v2/schemas/${rest}/schema`);
      if (res.status === 404) return undefined;
      if (!res.ok) fail(res, `schema of ${topic}`);
      const s = JSON.parse(res.text) as { version: number; type: string; data: string; properties?: Record<string, string> };
      return { version: s.version, type: s.type, schema: s.data, properties: s.properties ?? {} };
    },

    async deleteSchema(topic) {
      const { rest } = topicPath(topic);
      const res = await call('DELETE', `/admin/v2/schemas/${rest}/schema`);
      if (!res.ok && res.status !== 404) fail(res, `delete schema of ${topic}`);
    },

    async subscriptionBacklogs(topic) {
      const { domain, rest } = topicPath(topic);
      const res = await call('GET', `/admin/v2/${domain}/${rest}/stats`);
      if (res.status === 404) return undefined;
      if (!res.ok) fail(res, `stats of ${topic}`);
      const stats = JSON.parse(res.text) as { subscriptions?: Record<string, { msgBacklog?: number }> };
      return Object.fromEntries(Object.entries(stats.subscriptions ?? {}).map(([name, sub]) => [name, sub.msgBacklog ?? 0]));
    },

    async createSubscription(topic, subscription) {
      const { domain, rest } = topicPath(topic);
      // MessageId.earliest, as the REST API takes it.
      const res = await call('PUT', `/admin/v2/${domain}/${rest}/subscription/${encodeURIComponent(subscription)}`,
        { ledgerId: -1, entryId: -1, partitionIndex: -1 });
      if (!res.ok && res.status !== 409) fail(res, `create subscription ${subscription} on ${topic}`);
    },

    async peekMessage(topic, subscription, position) {
      const { domain, rest } = topicPath(topic);
      const res = await call('GET', `/admin/v2/${domain}/${rest}/subscription/${encodeURIComponent(subscription)}/position/${position}`);
      if (res.status === 404 || res.status === 412) return undefined;
      if (!res.ok) fail(res, `peek message ${position} of ${subscription} on ${topic}`);
      return adminMessage(res);
    },

    async getMessage(topic, ledgerId, entryId) {
      const { domain, rest } = topicPath(topic);
      const res = await call('GET', `/admin/v2/${domain}/${rest}/ledger/${ledgerId}/entry/${entryId}`);
      // The broker answers a ledger it does not hold with 404, and one it cannot read with 500.
      if (res.status === 404 || res.status === 500) return undefined;
      if (!res.ok) fail(res, `message ${ledgerId}:${entryId} of ${topic}`);
      return adminMessage(res);
    },

    async cursorState(topic, subscription) {
      const { domain, rest } = topicPath(topic);
      const res = await call('GET', `/admin/v2/${domain}/${rest}/internalStats`);
      if (res.status === 404) return undefined;
      if (!res.ok) fail(res, `internal stats of ${topic}`);
      const stats = JSON.parse(res.text) as { cursors?: Record<string, CursorState> };
      const cursor = stats.cursors?.[subscription];
      return cursor ? { markDeletePosition: cursor.markDeletePosition, individuallyDeletedMessages: cursor.individuallyDeletedMessages } : undefined;
    },

  };
}
