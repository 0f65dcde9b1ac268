// Alliance events from the external gestion-de-alianzas topic, recorded against the
// partner they reference. Written by the alliances handler inside its inbox transaction.
import { jsonText, query, runQuery, type Query, type SqlRunner } from './query.ts';
import { assertStorable } from './storable-text.ts';

export interface PartnerAllianceEventInput {
  partnerId: string;
  eventId: string;
  eventType: string;
  alianzaId: string | null;
  data: unknown;
  occurredAt: Date;
  messageId: string;
  schemaVersion: string | null;
}

/** Records an alliance event unless its event id is already recorded; returns its id when recorded. */
export function insertPartnerAllianceEventRow(e: PartnerAllianceEventInput): Query<{ id: bigint }> {
  return query('insert-partner-alliance-event', `insert into partner_alliance_events
      (partner_id, event_id, event_type, alianza_id, data, occurred_at, message_id, schema_version)
    values ($1::uuid, $2, $3, $4, $5::text::jsonb, $6::timestamptz, $7, $8)
    on conflict (event_id) do nothing returning id`, [
    e.partnerId, e.eventId, e.eventType, e.alianzaId, jsonText(e.data), e.occurredAt.toISOString(), e.messageId, e.schemaVersion,
  ]);
}

/** Resolves false when the event is already recorded; UnstorableTextError when a value holds U+0000. */
export async function insertPartnerAllianceEvent(sql: SqlRunner, e: PartnerAllianceEventInput): Promise<boolean> {
  assertStorable({ eventId: e.eventId, eventType: e.eventType, alianzaId: e.alianzaId, data: e.data });
  const rows = await runQuery(sql, insertPartnerAllianceEventRow(e));
  return rows.length === 1;
}

export interface PartnerAllianceEvent {
  id: bigint;
  partner_id: string;
  event_id: string;
  event_type: string;
  alianza_id: string | null;
  data: Record<string, unknown>;
  occurred_at: Date;
  received_at: Date;
}

/** A partner's alliance events after an id, oldest first. */
export function partnerAllianceEventsPage(i: { partnerId: string; after: bigint; limit: number }): Query<PartnerAllianceEvent> {
  return query('partner-alliance-events-page', `select id, partner_id, event_id, event_type, alianza_id, data, occurred_at, received_at
    from partner_alliance_events where partner_id = $1::uuid and id > $2::bigint
    order by id limit $3`, [i.partnerId, i.after.toString(), i.limit]);
}

/** A partner's alliance events, oldest first, paged by id. */
export async function listPartnerAllianceEvents(
  sql: SqlRunner, partnerId: string, opts: { after?: bigint; limit: number },
): Promise<PartnerAllianceEvent[]> {
  return [...await runQuery(sql, partnerAllianceEventsPage({ partnerId, after: opts.after ?? 0n, limit: opts.limit }))];
}
