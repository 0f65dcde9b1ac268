// The relay's drain rate on the test cluster (scripts/pulsar.ts --profile=cluster: two brokers,
// one bookie, ZooKeeper) against the dev broker, side by side: the same backlog drained by
// `relevo relay` into the dev broker, the cluster (one topic), and the cluster with
// eventos-partners in 4 partitions spread over both brokers, round after round, so that the
// machine's other load falls on each alike. Starts the cluster if it is not running, and stops
// it afterwards if it started it.
import { createAdmin } from '@relevo/pulsar';
import { topicUrl } from '@relevo/relay';
import { TOPICS } from '@relevo/events';
import { clusterAdminUrl, clusterServiceUrl, startCluster, stopCluster } from '../scripts/pulsar-cluster.ts';
import { createClusterNamespace, dropClusterNamespace, spreadOverBrokers } from '../test/support/cluster.ts';
import { runE2E, type BrokerTarget, type E2EResult } from './e2e.ts';
import { log, median } from './support.ts';

export interface ClusterComparison {
  rows: number;
  rounds: number;
  cluster_start_seconds: number;
  /** Steady events/s (first row sent → empty) of each round, and their median. */
  standalone: { runs: E2EResult[]; median_steady_events_per_s: number };
  cluster: { runs: E2EResult[]; median_steady_events_per_s: number };
  cluster_4_partitions: { runs: E2EResult[]; median_steady_events_per_s: number };
  cluster_ratio: number;
  cluster_4_partitions_ratio: number;
}

const onCluster = { BROKER_URL: clusterServiceUrl, PULSAR_ADMIN_URL: clusterAdminUrl };

const cluster: BrokerTarget = { env: onCluster, createNamespace: () => createClusterNamespace(), dropNamespace: dropClusterNamespace };

/** eventos-partners created with 4 partitions, and spread over both brokers, before the relay starts. */
const clusterPartitioned: BrokerTarget = {
  env: { ...onCluster, PULSAR_PARTITIONS_EVENTOS_PARTNERS: '4' },
  async createNamespace() {
    const namespace = await createClusterNamespace(16);
    const topic = topicUrl(namespace, TOPICS.partners);
    await createAdmin(clusterAdminUrl).createPartitionedTopic(topic, 4);
    await spreadOverBrokers(namespace, [0, 1, 2, 3].map((p) => `${topic}-partition-${p}`));
    return namespace;
  },
  dropNamespace: dropClusterNamespace,
};

export async function runClusterComparison(opts: { rows: number; rounds: number }): Promise<ClusterComparison> {
  const start = await startCluster();
  log(`cluster: ${start.started.length ? `started in ${start.seconds.toFixed(1)} s` : 'already running'}`);
  try {
    const runs = { standalone: [] as E2EResult[], cluster: [] as E2EResult[], cluster_4_partitions: [] as E2EResult[] };
    for (let round = 0; round < opts.rounds; round++) {
      runs.standalone.push(await runE2E({ rows: opts.rows }));
      runs.cluster.push(await runE2E({ rows: opts.rows, broker: cluster }));
      runs.cluster_4_partitions.push(await runE2E({ rows: opts.rows, broker: clusterPartitioned }));
      log(`cluster round ${round + 1}: ${Object.entries(runs).map(([k, v]) => `${k} ${v.at(-1)!.steady_events_per_s}/s`).join(', ')}`);
    }
    const summary = (r: E2EResult[]) => ({ runs: r, median_steady_events_per_s: Math.round(median(r.map((x) => x.steady_events_per_s))) });
    const standalone = summary(runs.standalone);
    const one = summary(runs.cluster);
    const four = summary(runs.cluster_4_partitions);
    return {
      rows: opts.rows, rounds: opts.rounds, cluster_start_seconds: +start.seconds.toFixed(1),
      standalone, cluster: one, cluster_4_partitions: four,
      cluster_ratio: +(one.median_steady_events_per_s / standalone.median_steady_events_per_s).toFixed(2),
      cluster_4_partitions_ratio: +(four.median_steady_events_per_s / standalone.median_steady_events_per_s).toFixed(2),
    };
  } finally {
    if (start.started.length > 0) await stopCluster();
  }
}
