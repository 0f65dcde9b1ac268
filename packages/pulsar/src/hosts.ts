// A service URL may name several equivalent hosts, as Pulsar's own clients take it:
// pulsar://h1:6650,h2:6650 for the binary protocol, http://h1:8080,h2:8080 for the admin API.
// Any broker of a cluster answers a lookup (redirecting to the topic's owner), so with every
// broker listed no single one is a point of failure, and no proxy is needed in front.
import { PulsarError } from './errors.ts';

/**
 * Hosts tried in turn. A call goes first to the host that answered last (at the start, the
 * first one listed); when that host cannot be reached the call moves on at once to the next,
 * in the listed order and wrapping around, each host at most once per call. Only when none
 * answers does the call fail, with the last host's error, for the caller to retry later.
 * (`packages/pulsar/test/hosts.test.ts`, and against the cluster with its first host dead,
 * `test/faults/pulsar-cluster.test.ts`.)
 */
export class HostRing<T> {
  readonly hosts: readonly T[];
  private current = 0;

  constructor(hosts: readonly T[]) {
    if (hosts.length === 0) throw new PulsarError('InvalidArgument', 'no hosts');
    this.hosts = hosts;
  }

  /** The host the next call goes to first. */
  get preferred(): T {
    return this.hosts[this.current]!;
  }

  /** Runs fn on one host after another until one answers; `unreachable` says which errors move on to the next. */
  async attempt<R>(fn: (host: T) => Promise<R>, unreachable: (err: unknown) => boolean): Promise<R> {
    const start = this.current;
    let lastError: unknown;
    for (let i = 0; i < this.hosts.length; i++) {
      const index = (start + i) % this.hosts.length;
      try {
        const result = await fn(this.hosts[index]!);
        this.current = index;
        return result;
      } catch (err) {
        if (!unreachable(err)) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }
}

/**
 * `http(s)://h1:p1,h2:p2[/base]` → one base URL per host (`http://h1:p1/base`, …). Each host is
 * checked as a URL of its own; the scheme and any base path are shared.
 */
export function parseAdminUrls(adminUrl: string): string[] {
  const m = /^(https?):\/\/([^/?#]+)(\/[^?#]*)?$/.exec(adminUrl.trim());
  if (!m) throw new PulsarError('InvalidArgument', `not an http:// or https:// admin URL: ${adminUrl}`);
  const path = (m[3] ?? '').replace(/\/+$/, '');
  return m[2]!.split(',').map((host) => {
    const hostPort = host.trim();
    let url: URL;
    try {
      url = new URL(`${m[1]}://${hostPort}`);
    } catch {
      throw new PulsarError('InvalidArgument', `admin URL ${adminUrl}: ${JSON.stringify(hostPort)} is not a host[:port]`);
    }
    if (hostPort === '' || url.username || url.password) {
      throw new PulsarError('InvalidArgument', `admin URL ${adminUrl}: ${JSON.stringify(hostPort)} is not a host[:port]`);
    }
    return `${url.origin}${path}`;
  });
}
