import { PulsarError } from './errors.ts';
import type { MessageId } from './types.ts';

/** "ledger:entry:partition:batchIndex" — batchSize is not part of the identity and is not encoded. */
export function formatMessageId(id: MessageId): string {
  return `${id.ledgerId}:${id.entryId}:${id.partition}:${id.batchIndex}`;
}

const PATTERN = /^(-?\d+):(-?\d+):(-?\d+):(-?\d+)$/;

export function parseMessageId(s: string): MessageId {
  const m = PATTERN.exec(s);
  if (!m) throw new PulsarError('InvalidArgument', `not a message id: ${JSON.stringify(s)}`);
  return { ledgerId: BigInt(m[1]!), entryId: BigInt(m[2]!), partition: Number(m[3]), batchIndex: Number(m[4]) };
}

/** Identity of the stored entry a message lives in (batch entries share it). */
export function entryKey(id: MessageId): string {
  return `${id.ledgerId}:${id.entryId}`;
}

export function toMessageId(m: { messageId: MessageId } | MessageId): MessageId {
  return 'messageId' in m ? m.messageId : m;
}
