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

export interface PulsarAdmin {
  createPartitionedTopic(topic: string, partitions: number): Promise<void>;
  /** The namespace's deduplication policy if it has one, else the broker's brokerDeduplicationEnabled. */
  deduplicationStatus(namespace: string): Promise<boolean>;
  getSchema(topic: string): Promise<AdminSchema | undefined>;
  deleteSchema(topic: string): Promise<void>;
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
          resolve({ status, ok: status >= 200 && status < 300, text: Buffer.concat(chunks).toString('utf8') });
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
  };
}
