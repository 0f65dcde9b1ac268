// Partitioned topics, when the configuration asks for them (PULSAR_PARTITIONS_<TOPIC>): the relay
// creates each such topic with its partitions before any producer of it exists, because a
// producer would have the broker create it unpartitioned. A topic the configuration says
// nothing of is used as it is, partitioned or not (the client reads its partition metadata).
import type { OwnTopic } from '@relevo/events';
import type { PulsarAdmin } from '@relevo/pulsar';
import type { Logger } from '@relevo/runtime';
import { topicUrl } from './producers.ts';

/** The topic exists with another partition count than the configuration's: the relay does not start. */
export class TopicPartitionsError extends Error {
  readonly code = 'TOPIC_PARTITIONS_MISMATCH';
  constructor(message: string) {
    super(message);
    this.name = 'TopicPartitionsError';
  }
}

/**
 * Creates each wanted topic partitioned, or checks that it is already so with that count. A
 * topic is never re-partitioned here: with more partitions a partner's key hashes to another
 * partition, and its next events could be read before the ones still waiting on the old one
 * (docs/cluster.md says how to change the count). Guarded by test/relay-partitions.test.ts.
 */
export async function ensurePartitions(admin: PulsarAdmin, namespace: string, wanted: ReadonlyMap<OwnTopic, number>, log: Logger): Promise<void> {
  for (const [topic, partitions] of wanted) {
    const url = topicUrl(namespace, topic);
    let has = await admin.partitionCount(url);
    if (has === 0) {
      try {
        await admin.createPartitionedTopic(url, partitions);
        log.info({ topic: url, partitions }, 'created the partitioned topic');
        continue;
      } catch (err) {
        // Another relay may have created it meanwhile; or it exists unpartitioned.
        has = await admin.partitionCount(url);
        if (has === 0) {
          throw new TopicPartitionsError(`${url} cannot be created with ${partitions} partitions (does it exist unpartitioned?): ${(err as Error).message}`);
        }
      }
    }
    if (has !== partitions) {
      throw new TopicPartitionsError(`${url} has ${has} partitions, the configuration asks for ${partitions}: change one of them (docs/cluster.md)`);
    }
  }
}
