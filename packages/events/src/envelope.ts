import type { DomainEvent, EventType } from '@relevo/domain';

export const SPEC_VERSION = 'v1';
export const DATA_CONTENT_TYPE = 'AVRO';
export const SERVICE_NAME = 'gestion-de-integraciones';

/** The event contract's CloudEvents-style integration event, as stored in the outbox (JSON) and encoded to Avro. */
export interface IntegrationEvent<T extends EventType = EventType> {
  id: string;
  /** Milliseconds since the epoch (Avro timestamp-millis). */
  time: number;
  specversion: typeof SPEC_VERSION;
  type: T;
  datacontenttype: typeof DATA_CONTENT_TYPE;
  service_name: typeof SERVICE_NAME;
  data: Omit<Extract<DomainEvent, { type: T }>, 'type'>;
}

/** Maps a domain event to its integration event (domain → integration, as the event contract's mapeadores). */
export function toIntegrationEvent(event: DomainEvent, id: string, occurredAt: Date): IntegrationEvent {
  const { type, ...data } = event;
  return {
    id,
    time: occurredAt.getTime(),
    specversion: SPEC_VERSION,
    type,
    datacontenttype: DATA_CONTENT_TYPE,
    service_name: SERVICE_NAME,
    data,
  } as IntegrationEvent;
}
