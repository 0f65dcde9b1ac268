// The few admin REST calls relevo needs, over fetch.
import { PulsarError } from './errors.ts';
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

export function createAdmin(adminUrl: string, token?: string): PulsarAdmin {
  const base = adminUrl.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;

  async function call(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method, headers, signal: AbortSignal.timeout(30_000),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      // fetch only says "fetch failed"; the reason (refused, certificate, …) is in its cause.
      const cause = (e as { cause?: unknown }).cause;
      const reason = cause instanceof Error ? `${(e as Error).message}: ${cause.message}` : (e as Error).message;
      throw new PulsarError('AdminError', `${method} ${path}: ${reason}`, { cause: e });
    }
    return res;
  }

  async function fail(res: Response, what: string): Promise<never> {
    const text = await res.text().catch(() => '');
    throw new PulsarError('AdminError', `${what}: HTTP ${res.status} ${text}`.trim());
  }

  return {
    async createPartitionedTopic(topic, partitions) {
      const { domain, rest } = topicPath(topic);
      const res = await call('PUT', `/admin/v2/${domain}/${rest}/partitions`, partitions);
      if (!res.ok) await fail(res, `create partitioned topic ${topic}`);
    },

    async deduplicationStatus(namespace) {
      const res = await call('GET', `/admin/v2/namespaces/${namespace}/deduplication`);
      if (!res.ok) await fail(res, `deduplication policy of ${namespace}`);
      const text = (await res.text()).trim();
      if (text === 'true' || text === 'false') return text === 'true';
      const conf = await call('GET', '/admin/v2/brokers/configuration/runtime');
      if (!conf.ok) await fail(conf, 'broker runtime configuration');
      const values = (await conf.json()) as Record<string, string>;
      return values.brokerDeduplicationEnabled === 'true';
    },

    async getSchema(topic) {
      const { rest } = topicPath(topic);
      const res = await call('GET', `/admin/v2/schemas/${rest}/schema`);
      if (res.status === 404) return undefined;
      if (!res.ok) await fail(res, `schema of ${topic}`);
      const s = (await res.json()) as { version: number; type: string; data: string; properties?: Record<string, string> };
      return { version: s.version, type: s.type, schema: s.data, properties: s.properties ?? {} };
    },

    async deleteSchema(topic) {
      const { rest } = topicPath(topic);
      const res = await call('DELETE', `/admin/v2/schemas/${rest}/schema`);
      if (!res.ok && res.status !== 404) await fail(res, `delete schema of ${topic}`);
    },
  };
}
