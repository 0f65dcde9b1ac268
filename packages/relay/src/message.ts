// Outbox row → Pulsar message. Pure: the relay passes rows in and sends what comes out.
import type { ClaimedRow } from '@relevo/db/sql';
import { encodeEvent, type IntegrationEvent } from '@relevo/events';
import type { OutgoingMessage } from '@relevo/pulsar';

/**
 * CloudEvents attributes in binary-mode style (as the Kafka binding's `ce_` headers), so a
 * consumer can route or filter without decoding the Avro body, plus W3C trace context.
 */
export type PropertySource = Pick<ClaimedRow, 'id' | 'aggregate_id' | 'aggregate_version' | 'schema_fingerprint' | 'headers'>;

/**
 * `trace` replaces the row's own trace headers: the relay passes its publish span's context,
 * so a consumer's span becomes that span's child.
 */
export function messageProperties(row: PropertySource, event: IntegrationEvent, trace: Record<string, string> = row.headers): Record<string, string> {
  const props: Record<string, string> = {
    ce_id: event.id,
    ce_specversion: event.specversion,
    ce_type: event.type,
    ce_source: event.service_name,
    ce_time: new Date(event.time).toISOString(),
    ce_datacontenttype: event.datacontenttype,
    ce_subject: row.aggregate_id,
    relevo_aggregate_version: String(row.aggregate_version),
    relevo_outbox_id: String(row.id),
    relevo_schema_fingerprint: row.schema_fingerprint,
  };
  for (const key of ['traceparent', 'tracestate'] as const) {
    const value = trace[key];
    if (value) props[key] = value;
  }
  return props;
}

export function toOutgoingMessage(row: ClaimedRow, trace?: Record<string, string>): OutgoingMessage {
  const event = row.payload as IntegrationEvent;
  return {
    payload: encodeEvent(row.topic, event),
    sequenceId: row.publish_sequence,
    partitionKey: row.aggregate_id,
    eventTime: row.occurred_at.getTime(),
    properties: messageProperties(row, event, trace),
  };
}
