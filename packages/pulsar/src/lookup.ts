// Topic resolution over the binary protocol: PARTITIONED_METADATA, then LOOKUP following redirects
// (carrying the authoritative flag) until a broker says Connect. When the answer asks for
// proxy_through_service_url, the logical broker is reached through the service URL's address.
// A client that started on pulsar+ssl:// stays on TLS: an answer naming a pulsar:// broker is refused,
// not followed (packages/pulsar/test/insecure-token.test.ts).
import type { Connection } from './connection.ts';
import type { ConnectionPool } from './connection-pool.ts';
import { PulsarError, ProtocolError, serverError } from './errors.ts';
import { LookupType, encodeGetSchema, encodeLookup, encodePartitionedMetadata, type SchemaData } from './protocol/commands.ts';
import { simpleFrame } from './protocol/frame.ts';
import { parseBrokerUrl, type BrokerAddress } from './topic.ts';

const MAX_REDIRECTS = 20;
const SERVER_TOPIC_NOT_FOUND = 11;

export interface ResolvedTopic {
  logical: BrokerAddress;
  physical: BrokerAddress;
}

export class LookupService {
  private readonly pool: ConnectionPool;
  private readonly service: BrokerAddress[];
  private next = 0;

  constructor(pool: ConnectionPool, service: BrokerAddress[]) {
    this.pool = pool;
    this.service = service;
  }

  private get useTls(): boolean {
    return this.service[0]!.tls;
  }

  private serviceAddress(): BrokerAddress {
    const a = this.service[this.next % this.service.length]!;
    this.next++;
    return a;
  }

  serviceConnection(): Promise<Connection> {
    const a = this.serviceAddress();
    return this.pool.get(a, a);
  }

  async partitions(topic: string): Promise<number> {
    const cnx = await this.serviceConnection();
    const res = (await cnx.request((id) => simpleFrame((w) => encodePartitionedMetadata(w, id, topic)))).partitionMetadataResponse;
    if (!res) throw new ProtocolError('unexpected answer to PARTITIONED_METADATA');
    if (res.failed) throw serverError(res.error ?? 0, res.message ?? `partition metadata for ${topic} failed`);
    return res.partitions;
  }

  async lookup(topic: string): Promise<ResolvedTopic> {
    const service = this.serviceAddress();
    let cnx = await this.pool.get(service, service);
    let authoritative = false;
    for (let i = 0; i < MAX_REDIRECTS; i++) {
      const res = (await cnx.request((id) => simpleFrame((w) => encodeLookup(w, id, topic, authoritative)))).lookupTopicResponse;
      if (!res) throw new ProtocolError('unexpected answer to LOOKUP');
      if (res.response === LookupType.Failed) throw serverError(res.error ?? 0, res.message ?? `lookup of ${topic} failed`);
      const url = this.useTls ? res.brokerServiceUrlTls : res.brokerServiceUrl;
      if (!url) throw new PulsarError('LookupError', `lookup of ${topic} returned no ${this.useTls ? 'TLS ' : ''}broker URL`);
      const logical = parseBrokerUrl(url);
      if (this.useTls && !logical.tls) {
        throw new PulsarError('LookupError', `lookup of ${topic} answered ${logical.url}, a plaintext broker URL, to a pulsar+ssl:// client: refused`);
      }
      const physical = res.proxyThroughServiceUrl ? service : logical;
      if (res.response === LookupType.Connect) return { logical, physical };
      authoritative = res.authoritative;
      cnx = await this.pool.get(logical, physical);
    }
    throw new PulsarError('LookupError', `lookup of ${topic} redirected more than ${MAX_REDIRECTS} times`);
  }

  /** undefined when the topic has no schema (or no such version). */
  async getSchema(topic: string, version?: Uint8Array): Promise<SchemaData | undefined> {
    const cnx = await this.serviceConnection();
    const res = (await cnx.request((id) => simpleFrame((w) => encodeGetSchema(w, id, topic, version)))).getSchemaResponse;
    if (!res) throw new ProtocolError('unexpected answer to GET_SCHEMA');
    if (res.errorCode === SERVER_TOPIC_NOT_FOUND) return undefined;
    if (res.errorCode !== undefined) throw serverError(res.errorCode, res.errorMessage ?? '');
    return res.schema;
  }
}
