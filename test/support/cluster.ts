// The cluster profile's brokers for the fault tests: admin calls that go to whichever broker
// answers (following its redirect to a topic's owner), a namespace per test, who owns a topic.
import { randomBytes } from 'node:crypto';
import { clusterBrokers, type ClusterBroker } from '../../scripts/pulsar-cluster.ts';

/** An admin REST call to the first broker that answers; fetch follows the owner's redirects. */
export async function clusterAdmin(method: string, path: string, body?: unknown): Promise<Response> {
  let last: unknown;
  for (const broker of clusterBrokers) {
    try {
      return await fetch(`${broker.adminUrl}${path}`, {
        method,
        signal: AbortSignal.timeout(30_000),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no cluster broker answered ${method} ${path}: ${(last as Error).message}`);
}

async function ok(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text}`);
  return text;
}

/** A namespace of its own; `bundles` hash ranges of topics, each owned by one broker at a time (the broker's default: 4). */
export async function createClusterNamespace(bundles?: number): Promise<string> {
  const ns = `public/cluster-${randomBytes(4).toString('hex')}`;
  await ok(await clusterAdmin('PUT', `/admin/v2/namespaces/${ns}`, bundles ? { bundles: { numBundles: bundles } } : undefined), `create namespace ${ns}`);
  return ns;
}

const restPath = (topicUrl: string) => topicUrl.replace('://', '/');

/** The broker that owns the topic now (a lookup may assign it). Asked again while its bundle is being moved. */
export async function ownerOf(topicUrl: string): Promise<ClusterBroker> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await clusterAdmin('GET', `/lookup/v2/topic/${restPath(topicUrl)}`);
    if (res.status >= 500 && Date.now() < deadline) {
      await res.text();
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    const { brokerUrl } = JSON.parse(await ok(res, `lookup ${topicUrl}`)) as { brokerUrl: string };
    const broker = clusterBrokers.find((b) => b.serviceUrl === brokerUrl);
    if (!broker) throw new Error(`${topicUrl} is owned by ${brokerUrl}, not a broker of the cluster`);
    return broker;
  }
}

const bundleOf = async (topicUrl: string) =>
  (await ok(await clusterAdmin('GET', `/lookup/v2/topic/${restPath(topicUrl)}/bundle`), `bundle of ${topicUrl}`)).trim();

/**
 * Spreads the topics over both brokers: when one broker owns them all (the load manager gives
 * new bundles to the least loaded broker), the bundle of the first moves to the other one.
 * Returns each topic's owner.
 */
export async function spreadOverBrokers(namespace: string, topicUrls: string[]): Promise<ClusterBroker[]> {
  let owners = await Promise.all(topicUrls.map(ownerOf));
  if (new Set(owners.map((o) => o.name)).size > 1) return owners;
  const other = clusterBrokers.find((b) => b.name !== owners[0]!.name)!;
  const destination = new URL(other.adminUrl).host;
  await ok(await clusterAdmin('PUT', `/admin/v2/namespaces/${namespace}/${await bundleOf(topicUrls[0]!)}/unload?destinationBroker=${destination}`),
    `move the bundle of ${topicUrls[0]} to ${other.name}`);
  owners = await Promise.all(topicUrls.map(ownerOf));
  return owners;
}

export async function unloadTopic(topicUrl: string): Promise<void> {
  await ok(await clusterAdmin('PUT', `/admin/v2/${restPath(topicUrl)}/unload`), `unload ${topicUrl}`);
}

/** Splits the namespace bundle that holds the topic in two and unloads both halves; returns the namespace's bundle count. */
export async function splitBundleOf(namespace: string, topicUrl: string): Promise<number> {
  const bundle = await bundleOf(topicUrl);
  await ok(await clusterAdmin('PUT', `/admin/v2/namespaces/${namespace}/${bundle}/split?unload=true`), `split ${namespace}/${bundle}`);
  const bundles = JSON.parse(await ok(await clusterAdmin('GET', `/admin/v2/namespaces/${namespace}/bundles`), 'bundles')) as { numBundles: number };
  return bundles.numBundles;
}

/** Deletes the namespace's topics (partitioned ones with their partitions), then the namespace. */
export async function dropClusterNamespace(namespace: string): Promise<void> {
  const partitioned = JSON.parse(await ok(await clusterAdmin('GET', `/admin/v2/persistent/${namespace}/partitioned`), 'partitioned topics')) as string[];
  for (const topic of partitioned) await clusterAdmin('DELETE', `/admin/v2/${restPath(topic)}/partitions?force=true`);
  const topics = JSON.parse(await ok(await clusterAdmin('GET', `/admin/v2/namespaces/${namespace}/topics`), 'topics')) as string[];
  for (const topic of topics) await clusterAdmin('DELETE', `/admin/v2/${restPath(topic)}?force=true`);
  await clusterAdmin('DELETE', `/admin/v2/namespaces/${namespace}?force=true`);
}
