// The few admin REST calls relevo needs.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PulsarError, isPlaintextUrl } from './errors.ts';
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

export function createAdmin(adminUrl: string, options: AdminOptions = {}): PulsarAdmin {
  const base = adminUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (options.token && isPlaintextUrl(base) && !options.allowInsecureToken) {
    throw new PulsarError('InsecureToken', `refusing to send the token to ${base} in clear text: use https://, or allow it explicitly (allowInsecureToken)`);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;

  // node:http(s) rather than fetch: fetch cannot be given a CA without another dependency.
  function call(method: string, path: string, body?: unknown): Promise<AdminResponse> {
    const url = new URL(base + path);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<AdminResponse>((resolve, reject) => {
      // node:http(s) follows no redirects, so the token never goes to a host the URL did not name.
      const req = send(url, { method, headers, timeout: timeoutMs, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks);
          resolve({ status, ok: status >= 200 && status < 300, text: body.toString('utf8'), body, headers: res.headers });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    }).catch((e: unknown) => {
      throw new PulsarError('AdminError', `${method} ${path}: ${(e as Error).message}`, { cause: e });
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
