// Topic resolution over the binary protocol: PARTITIONED_METADATA, then LOOKUP following redirects
// (carrying the authoritative flag) until a broker says Connect. When the answer asks for
// proxy_through_service_url, the logical broker is reached through the service URL's address.
// The service URL's hosts are tried in turn (hosts.ts): the first question of each resolution
// goes to the host that answered last, and to the next one at once when it cannot be reached.
// A client that started on pulsar+ssl:// stays on TLS: an answer naming a pulsar:// broker is refused,
// not followed (packages/pulsar/test/insecure-token.test.ts).
import type { Connection } from './connection.ts';
import type { ConnectionPool } from './connection-pool.ts';
import { PulsarError, ProtocolError, serverError } from './errors.ts';
import { HostRing } from './hosts.ts';
import { LookupType, encodeGetSchema, encodeLookup, encodePartitionedMetadata, type Incoming, type SchemaData } from './protocol/commands.ts';
import { simpleFrame } from './protocol/frame.ts';
import { parseBrokerUrl, type BrokerAddress } from './topic.ts';

const MAX_REDIRECTS = 20;
const SERVER_TOPIC_NOT_FOUND = 11;

export interface ResolvedTopic {
  logical: BrokerAddress;
  physical: BrokerAddress;
}

/**
 * A service host that cannot answer right now (refused, dropped, silent, shutting down): the
 * question goes to the next host. Errors about the question itself (a bad topic, no
 * permission) would be the same on every host and are not retried elsewhere.
 */
const HOST_DOWN = new Set(['ConnectionError', 'ConnectionClosed', 'Timeout', 'ServiceNotReady']);

function hostUnreachable(err: unknown): boolean {
  return err instanceof PulsarError && HOST_DOWN.has(err.code);
}

export class LookupService {
  private readonly pool: ConnectionPool;
  private readonly service: HostRing<BrokerAddress>;

  constructor(pool: ConnectionPool, service: BrokerAddress[]) {
    this.pool = pool;
    this.service = new HostRing(service);
  }

  private get useTls(): boolean {
    return this.service.preferred.tls;
  }

  /** fn on a connection to one service host after another, until one answers. */
  private onServiceHost<R>(fn: (cnx: Connection, host: BrokerAddress) => Promise<R>): Promise<R> {
    return this.service.attempt(async (host) => fn(await this.pool.get(host, host), host), hostUnreachable);
  }

  partitions(topic: string): Promise<number> {
    return this.onServiceHost(async (cnx) => {
      const res = (await cnx.request((id) => simpleFrame((w) => encodePartitionedMetadata(w, id, topic)))).partitionMetadataResponse;
      if (!res) throw new ProtocolError('unexpected answer to PARTITIONED_METADATA');
      if (res.failed) throw serverError(res.error ?? 0, res.message ?? `partition metadata for ${topic} failed`);
      return res.partitions;
    });
  }

  private async ask(cnx: Connection, topic: string, authoritative: boolean): Promise<NonNullable<Incoming['lookupTopicResponse']>> {
    const res = (await cnx.request((id) => simpleFrame((w) => encodeLookup(w, id, topic, authoritative)))).lookupTopicResponse;
    if (!res) throw new ProtocolError('unexpected answer to LOOKUP');
    if (res.response === LookupType.Failed) throw serverError(res.error ?? 0, res.message ?? `lookup of ${topic} failed`);
    return res;
  }

  /**
   * The first question goes to a service host; the redirects it leads to are to the brokers
   * themselves, and a redirect to one that is gone (killed, its ownership not yet expired)
   * fails the lookup for the caller to retry after its backoff.
   */
  async lookup(topic: string): Promise<ResolvedTopic> {
    let { service, res } = await this.onServiceHost(async (cnx, host) => ({ service: host, res: await this.ask(cnx, topic, false) }));
    for (let i = 0; i < MAX_REDIRECTS; i++) {
      const url = this.useTls ? res.brokerServiceUrlTls : res.brokerServiceUrl;
      if (!url) throw new PulsarError('LookupError', `lookup of ${topic} returned no ${this.useTls ? 'TLS ' : ''}broker URL`);
      const logical = parseBrokerUrl(url);
      if (this.useTls && !logical.tls) {
        throw new PulsarError('LookupError', `lookup of ${topic} answered ${logical.url}, a plaintext broker URL, to a pulsar+ssl:// client: refused`);
      }
      const physical = res.proxyThroughServiceUrl ? service : logical;
      if (res.response === LookupType.Connect) return { logical, physical };
      res = await this.ask(await this.pool.get(logical, physical), topic, res.authoritative);
    }
    throw new PulsarError('LookupError', `lookup of ${topic} redirected more than ${MAX_REDIRECTS} times`);
  }

  /** undefined when the topic has no schema (or no such version). */
  getSchema(topic: string, version?: Uint8Array): Promise<SchemaData | undefined> {
    return this.onServiceHost(async (cnx) => {
      const res = (await cnx.request((id) => simpleFrame((w) => encodeGetSchema(w, id, topic, version)))).getSchemaResponse;
      if (!res) throw new ProtocolError('unexpected answer to GET_SCHEMA');
      if (res.errorCode === SERVER_TOPIC_NOT_FOUND) return undefined;
      if (res.errorCode !== undefined) throw serverError(res.errorCode, res.errorMessage ?? '');
      return res.schema;
    });
  }
}
