// The dead-letter topics of relevo's consumers, part of what operators see on the broker:
// where each consumer sends a message it gave up on, and the subscription that keeps those
// dead letters until an operator replays or purges them (`relevo dlq`). The consumers build
// the same names (packages/consumers); test/consumers/dead-letters.test.ts checks both agree.
import { OWN_TOPICS, TOPICS } from './routing.ts';

/** Holds every dead-lettered message until it is replayed or purged: a topic without a subscription keeps nothing for long. */
export const DEAD_LETTER_SUBSCRIPTION = 'relevo-dlq';

export interface DeadLetterTopic {
  /** The consumer's name, as in the consumers' metrics and logs. */
  consumer: string;
  /** The topic it consumes (short name). */
  topic: string;
  subscription: string;
  /** Its dead-letter topic (short name, in the same namespace). */
  deadLetterTopic: string;
}

export const DEAD_LETTER_TOPICS: readonly DeadLetterTopic[] = [
  ...OWN_TOPICS.map((topic) => ({ consumer: `audit:${topic}`, topic, subscription: 'relevo-audit', deadLetterTopic: `${topic}-relevo-audit-dlq` })),
  { consumer: 'alliances', topic: TOPICS.alianzas, subscription: 'relevo-alianzas', deadLetterTopic: `${TOPICS.alianzas}-dlq` },
  { consumer: 'alerts', topic: TOPICS.partners, subscription: 'relevo-alerts', deadLetterTopic: `${TOPICS.partners}-relevo-alerts-dlq` },
];
