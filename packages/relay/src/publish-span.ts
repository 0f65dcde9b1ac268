// The relay's span for one row: a producer span, child of the trace context the API wrote
// into the row, ended when the broker's receipt (or the failure) comes back.
import type { ClaimedRow } from '@relevo/db/sql';
import { SpanKind, contextFromHeaders, startSpan, type Span } from '@relevo/runtime';

export function startPublishSpan(row: ClaimedRow, shard: number): Span {
  return startSpan(`send ${row.topic}`, SpanKind.PRODUCER, contextFromHeaders(row.headers), {
    'messaging.system': 'pulsar',
    'messaging.operation.type': 'send',
    'messaging.destination.name': row.topic,
    'relevo.outbox.id': row.id.toString(),
    'relevo.shard': shard,
    'relevo.publish_sequence': row.publish_sequence.toString(),
    'cloudevents.event_id': row.event_id,
    'cloudevents.event_type': row.event_type,
  });
}
