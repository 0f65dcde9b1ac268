import { PulsarError } from './errors.ts';

/** Expands short names ("t", "tenant/ns/t") to persistent://tenant/ns/t like the Java client. */
export function fullTopicName(topic: string): string {
  if (topic.includes('://')) return topic;
  const parts = topic.split('/');
  if (parts.length === 1) return `persistent://public/default/${topic}`;
  if (parts.length === 3) return `persistent://${topic}`;
  throw new PulsarError('InvalidTopicName', `invalid topic name ${JSON.stringify(topic)}`);
}

export function partitionTopic(topic: string, partition: number): string {
  return `${topic}-partition-${partition}`;
}

export interface BrokerAddress {
  /** Normalized "pulsar://host:port" or "pulsar+ssl://host:port". */
  url: string;
  host: string;
  port: number;
  tls: boolean;
}

export function parseBrokerUrl(url: string): BrokerAddress {
  // A host name or IPv4 address, or an IPv6 address in brackets; then an optional port.
  const m = /^(pulsar|pulsar\+ssl):\/\/(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]\s,]+))(?::(\d{1,5}))?\/?$/.exec(url.trim());
  const port = m?.[4] ? Number(m[4]) : undefined;
  if (!m || (port !== undefined && (port < 1 || port > 65535))) {
    throw new PulsarError('InvalidArgument', `not a pulsar:// or pulsar+ssl:// URL: ${url}`);
  }
  const tls = m[1] === 'pulsar+ssl';
  const host = m[2] ?? m[3]!;
  const p = port ?? (tls ? 6651 : 6650);
  return { url: `${m[1]}://${m[2] ? `[${host}]` : host}:${p}`, host, port: p, tls };
}

/** A service URL may list several hosts: pulsar://a:6650,b:6650. */
export function parseServiceUrl(serviceUrl: string): BrokerAddress[] {
  const m = /^(pulsar(?:\+ssl)?):\/\/(.+)$/.exec(serviceUrl.trim());
  if (!m) throw new PulsarError('InvalidArgument', `not a pulsar:// or pulsar+ssl:// URL: ${serviceUrl}`);
  return m[2]!.split(',').map((hostPort) => parseBrokerUrl(`${m[1]}://${hostPort.trim()}`));
}
