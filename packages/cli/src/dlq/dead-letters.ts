// The consumers' dead letters as the broker holds them: each dead-letter topic's `relevo-dlq`
// subscription keeps every message until an operator replays or purges it, so its backlog is
// what is still to be dealt with. Read through the admin API (peek, message by entry, the
// cursor's state): reading never moves the subscription. Acting on one message acknowledges
// it there, by its id, from a consumer of that subscription.
import { DLQ_PROPERTIES as DLQ } from '@relevo/consumers';
import { DEAD_LETTER_SUBSCRIPTION, DEAD_LETTER_TOPICS, type DeadLetterTopic } from '@relevo/events';
import { parseMessageId, type AdminMessage, type Consumer, type CursorState, type Message, type PulsarAdmin, type PulsarClient } from '@relevo/pulsar';
import { CliError } from '../errors.ts';

/** What a replay adds to the message its consumer's handler gets, and logs. */
export const REPLAY = {
  from: 'relevo_dlq_replayed_from',
  reason: 'relevo_dlq_replay_reason',
  at: 'relevo_dlq_replayed_at',
} as const;

export interface DlqContext {
  admin: PulsarAdmin;
  namespace: string;
  /** The binary-protocol client, opened on first use (schemas, acknowledgements). */
  client(): PulsarClient;
}

export interface DeadLetter {
  /** "ledger:entry" of the message on its dead-letter topic. */
  id: string;
  topic: DeadLetterTopic;
  message: AdminMessage;
}

export const topicUrl = (ctx: DlqContext, topic: string) => `persistent://${ctx.namespace}/${topic}`;

/** The dead-letter topics, all or the one `--topic` names (by topic or by consumer); anything else is bad input. */
export function selectTopics(name: string | undefined): DeadLetterTopic[] {
  if (name === undefined) return [...DEAD_LETTER_TOPICS];
  const found = DEAD_LETTER_TOPICS.filter((t) => t.deadLetterTopic === name || t.consumer === name);
  if (found.length === 0) {
    throw new CliError('USAGE', `--topic: "${name}" is not a dead-letter topic or consumer; one of: ${DEAD_LETTER_TOPICS.map((t) => t.deadLetterTopic).join(', ')}`);
  }
  return found;
}

/** "ledger:entry" (as `dlq list` shows it), or a full "ledger:entry:partition:batch" message id. */
export function parseDeadLetterId(value: string): { ledgerId: bigint; entryId: bigint } {
  const m = /^(\d+):(\d+)(?::-1:-1)?$/.exec(value);
  if (!m) throw new CliError('USAGE', `"${value}" is not a dead-letter id (ledger:entry, as \`relevo dlq list\` shows it)`);
  return { ledgerId: BigInt(m[1]!), entryId: BigInt(m[2]!) };
}

/**
 * Unacknowledged messages on the topic's `relevo-dlq` subscription; 0 when the topic does not
 * exist (nothing was ever dead-lettered there). A topic written before the subscription
 * existed gets it now, from its earliest message, so nothing dead-lettered earlier is missed.
 */
export async function pendingCount(ctx: DlqContext, topic: DeadLetterTopic): Promise<number> {
  const url = topicUrl(ctx, topic.deadLetterTopic);
  const backlogs = await ctx.admin.subscriptionBacklogs(url);
  if (!backlogs) return 0;
  if (backlogs[DEAD_LETTER_SUBSCRIPTION] !== undefined) return backlogs[DEAD_LETTER_SUBSCRIPTION];
  await ctx.admin.createSubscription(url, DEAD_LETTER_SUBSCRIPTION);
  return (await ctx.admin.subscriptionBacklogs(url))?.[DEAD_LETTER_SUBSCRIPTION] ?? 0;
}

/** The pending dead letters of a topic, oldest first, at most `limit`. */
export async function pendingDeadLetters(ctx: DlqContext, topic: DeadLetterTopic, limit: number): Promise<DeadLetter[]> {
  const count = Math.min(await pendingCount(ctx, topic), limit);
  const out: DeadLetter[] = [];
  for (let position = 1; position <= count; position++) {
    const message = await ctx.admin.peekMessage(topicUrl(ctx, topic.deadLetterTopic), DEAD_LETTER_SUBSCRIPTION, position);
    if (!message) break; // acknowledged meanwhile
    out.push({ id: message.messageId, topic, message });
  }
  return out;
}

/** A dead letter by id, on the topics given; NOT_FOUND when none holds it. */
export async function findDeadLetter(ctx: DlqContext, topics: DeadLetterTopic[], id: string): Promise<DeadLetter> {
  const { ledgerId, entryId } = parseDeadLetterId(id);
  for (const topic of topics) {
    const message = await ctx.admin.getMessage(topicUrl(ctx, topic.deadLetterTopic), ledgerId, entryId);
    if (message) return { id: `${ledgerId}:${entryId}`, topic, message };
  }
  throw new CliError('NOT_FOUND', `no dead letter ${id} on ${topics.map((t) => t.deadLetterTopic).join(', ')}`);
}

type Position = [bigint, bigint];
const position = (text: string): Position => {
  const [l, e] = text.split(':');
  return [BigInt(l!), BigInt(e!)];
};
const after = (a: Position, b: Position) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

/** Whether the cursor has acknowledged the entry: at or before its mark-delete position, or in one of its (from..to] ranges. */
export function acknowledged(cursor: CursorState, id: string): boolean {
  const at = position(id);
  if (!after(at, position(cursor.markDeletePosition))) return true;
  for (const m of cursor.individuallyDeletedMessages.matchAll(/\((-?\d+:-?\d+)\.\.(-?\d+:-?\d+)\]/g)) {
    if (after(at, position(m[1]!)) && !after(at, position(m[2]!))) return true;
  }
  return false;
}

/** CONFLICT unless the dead letter still waits on `relevo-dlq`: one that was replayed or purged is not acted on twice. */
export async function requirePending(ctx: DlqContext, dead: DeadLetter): Promise<void> {
  await pendingCount(ctx, dead.topic);
  const cursor = await ctx.admin.cursorState(topicUrl(ctx, dead.topic.deadLetterTopic), DEAD_LETTER_SUBSCRIPTION);
  if (!cursor || acknowledged(cursor, dead.id)) {
    throw new CliError('CONFLICT', `dead letter ${dead.id} on ${dead.topic.deadLetterTopic} was already replayed or purged: it is no longer pending`);
  }
}

/** Acknowledges dead letters on their topics' `relevo-dlq` subscriptions, by id (nothing needs to be received first). */
export function acknowledger(ctx: DlqContext) {
  const consumers = new Map<string, Promise<Consumer>>();
  return {
    async ack(dead: DeadLetter): Promise<void> {
      const url = topicUrl(ctx, dead.topic.deadLetterTopic);
      let consumer = consumers.get(url);
      if (!consumer) {
        // Shared, and a queue of one: other dead letters it is handed go back when it closes.
        consumer = ctx.client().subscribe({ topic: url, subscription: DEAD_LETTER_SUBSCRIPTION, type: 'Shared', receiverQueueSize: 1 });
        consumers.set(url, consumer);
      }
      const { ledgerId, entryId } = parseDeadLetterId(dead.id);
      await (await consumer).ack({ ledgerId, entryId, partition: -1, batchIndex: -1 });
    },
    async close(): Promise<void> {
      await Promise.all([...consumers.values()].map(async (c) => (await c.catch(() => undefined))?.close().catch(() => undefined)));
    },
  };
}

/** Pulsar's 8-byte schema version from the decimal the runner wrote (hex when it was not 8 bytes). */
function schemaVersionBytes(text: string | undefined): Uint8Array | undefined {
  if (!text) return undefined;
  if (/^\d+$/.test(text)) {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(text));
    return b;
  }
  return Buffer.from(text, 'hex');
}

/**
 * The message as its consumer first received it, rebuilt from the dead letter: its original
 * topic and message id, payload, key, event time and writer schema version, with the dead
 * letter's properties kept and, for a replay, the replay's own (`extra`).
 */
export function originalMessage(dead: DeadLetter, originTopicUrl: string, extra: Record<string, string> = {}): Message {
  const p = dead.message.properties;
  const originalId = p[DLQ.messageId];
  const schemaVersion = schemaVersionBytes(p[DLQ.schemaVersion]);
  return {
    topic: originTopicUrl,
    messageId: originalId ? parseMessageId(originalId) : { ledgerId: -1n, entryId: -1n, partition: -1, batchIndex: -1 },
    payload: dead.message.payload,
    properties: { ...p, ...extra },
    ...(dead.message.partitionKey !== undefined ? { partitionKey: dead.message.partitionKey } : {}),
    ...(dead.message.eventTime !== undefined ? { eventTime: dead.message.eventTime } : {}),
    publishTime: dead.message.publishTime,
    sequenceId: 0n,
    producerName: dead.message.producerName ?? '',
    ...(schemaVersion ? { schemaVersion } : {}),
    redeliveryCount: Number(p[DLQ.redeliveries] ?? 0),
  };
}

/** The summary of a dead letter every command prints. */
export function describe(dead: DeadLetter) {
  const p = dead.message.properties;
  return {
    id: dead.id,
    dead_letter_topic: dead.topic.deadLetterTopic,
    consumer: dead.topic.consumer,
    original_topic: p[DLQ.topic] ?? null,
    original_message_id: p[DLQ.messageId] ?? null,
    subscription: p[DLQ.subscription] ?? null,
    event_type: p.ce_type ?? null,
    event_id: p.ce_id ?? null,
    redeliveries: p[DLQ.redeliveries] !== undefined ? Number(p[DLQ.redeliveries]) : null,
    dead_lettered_at: p[DLQ.at] ?? new Date(dead.message.publishTime).toISOString(),
    error: p[DLQ.error] ?? null,
  };
}
