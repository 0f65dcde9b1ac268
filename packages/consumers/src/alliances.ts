// The external gestion-de-alianzas topic. Each message is decoded with its writer schema
// (fetched from the broker by schema version), then — in ONE transaction — its inbox row is
// claimed and its handler's effect applied. A duplicate finds the inbox row and changes
// nothing; a type without a handler is recorded as unhandled; a handler that keeps throwing
// sends the message to gestion-de-alianzas-dlq (see runner.ts).
import type postgres from 'postgres';
import { claimInbox, insertPartnerAllianceEvent, nulPath, recordDeadLettered, wasDeadLetteredById, type SqlRunner } from '@relevo/db/sql';
import { TOPICS } from '@relevo/events';
import { formatMessageId, type Message } from '@relevo/pulsar';
import { ALLIANCE_EVENT_TYPES } from './alliance-schema.ts';
import type { ConsumerSpec, HandleResult } from './runner.ts';
import { decodeGeneric, schemaVersionOf, type WriterSchemas } from './writer-schemas.ts';

export const ALLIANCES_CONSUMER = 'alliances';
export const ALLIANCES_SUBSCRIPTION = 'relevo-alianzas';
export const ALLIANCES_DLQ = `${TOPICS.alianzas}-dlq`;

/** An envelope read from the external topic (plain JSON values). */
export interface ExternalEvent {
  id: string;
  time: number;
  type: string;
  data: Record<string, unknown>;
  [field: string]: unknown;
}

export interface HandlerContext {
  /** The inbox transaction: write the effect with it, or not at all. */
  tx: SqlRunner;
  messageId: string;
  schemaVersion: string | null;
}

export type AllianceHandler = (event: ExternalEvent, ctx: HandlerContext) => Promise<void>;

export class MalformedEventError extends Error {
  readonly code = 'MALFORMED_EVENT';
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEventError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The one real handler: an alliance event that names a partner is recorded against it. */
export const recordAgainstPartner: AllianceHandler = async (event, ctx) => {
  const partnerId = event.data.partner_id;
  if (partnerId === null || partnerId === undefined) return; // no partner referenced: nothing to record
  if (typeof partnerId !== 'string' || !UUID.test(partnerId)) {
    throw new MalformedEventError(`data.partner_id ${JSON.stringify(partnerId)} of ${event.type} ${event.id} is not a partner id (uuid)`);
  }
  await insertPartnerAllianceEvent(ctx.tx, {
    partnerId: partnerId.toLowerCase(),
    eventId: event.id,
    eventType: event.type,
    alianzaId: typeof event.data.alianza_id === 'string' ? event.data.alianza_id : null,
    data: event.data,
    occurredAt: new Date(event.time),
    messageId: ctx.messageId,
    schemaVersion: ctx.schemaVersion,
  });
};

export function defaultAllianceHandlers(): Map<string, AllianceHandler> {
  return new Map(ALLIANCE_EVENT_TYPES.map((t) => [t, recordAgainstPartner]));
}

function toEnvelope(value: Record<string, unknown>): ExternalEvent {
  const { id, time, type, data } = value;
  const bad = (field: string, expected: string) =>
    new MalformedEventError(`the message is not an alliance envelope: ${field} is ${JSON.stringify(value[field]) ?? 'missing'}, expected ${expected}`);
  if (typeof id !== 'string' || id.length === 0) throw bad('id', 'a string');
  if (typeof time !== 'number' || !Number.isFinite(time)) throw bad('time', 'epoch milliseconds');
  if (typeof type !== 'string' || type.length === 0) throw bad('type', 'a string');
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw bad('data', 'a record');
  return { ...value, id, time, type, data: data as Record<string, unknown> };
}

export interface AlliancesDeps {
  sql: postgres.Sql;
  schemas: WriterSchemas;
  handlers: Map<string, AllianceHandler>;
  topicUrl(topic: string): string;
}

export function alliancesConsumer(deps: AlliancesDeps): ConsumerSpec {
  const decode = async (message: Message): Promise<ExternalEvent> => {
    const { type } = await deps.schemas.typeOf(message);
    return toEnvelope(decodeGeneric(type, message.payload));
  };
  return {
    name: ALLIANCES_CONSUMER,
    topic: deps.topicUrl(TOPICS.alianzas),
    subscription: ALLIANCES_SUBSCRIPTION,
    deadLetterTopic: deps.topicUrl(ALLIANCES_DLQ),
    eventTypes: new Set([...ALLIANCE_EVENT_TYPES, ...deps.handlers.keys()]),
    async handle(message): Promise<HandleResult> {
      const event = await decode(message);
      const messageId = formatMessageId(message.messageId);
      const handler = deps.handlers.get(event.type);
      const outcome = await deps.sql.begin(async (tx) => {
        const claimed = await claimInbox(tx, {
          consumer: ALLIANCES_CONSUMER, messageKey: event.id, topic: TOPICS.alianzas, eventType: event.type, messageId,
          status: handler ? 'processed' : 'unhandled', envelope: event,
        });
        if (!claimed) return 'duplicate';
        if (!handler) return 'unhandled';
        await handler(event, { tx, messageId, schemaVersion: schemaVersionOf(message) });
        return 'processed';
      });
      return { type: event.type, outcome, eventTime: event.time };
    },
    wasDeadLettered: (message) => wasDeadLetteredById(deps.sql, ALLIANCES_CONSUMER, formatMessageId(message.messageId)),
    async onDeadLettered(message, error) {
      // Keyed like a processed message when it decodes, so a replay of the DLQ is claimed again;
      // by its message id when it does not, or when its id or type could not be stored as they are.
      const decoded = message.malformed === undefined ? await decode(message).catch(() => undefined) : undefined;
      const event = decoded && !nulPath({ id: decoded.id, type: decoded.type }, '') ? decoded : undefined;
      await recordDeadLettered(deps.sql, {
        consumer: ALLIANCES_CONSUMER,
        messageKey: event?.id ?? `message:${formatMessageId(message.messageId)}`,
        topic: TOPICS.alianzas,
        eventType: event?.type ?? null,
        messageId: formatMessageId(message.messageId),
        envelope: event ?? null,
        error: error.message,
      });
    },
  };
}
