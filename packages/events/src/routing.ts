import type { EventType } from '@relevo/domain';

/** The event contract's topics: our own events, what compliance needs, and the external one we consume. */
export const TOPICS = {
  partners: 'eventos-partners',
  compliance: 'administracion-financiera-compliance',
  alianzas: 'gestion-de-alianzas',
} as const;

export type OwnTopic = typeof TOPICS.partners | typeof TOPICS.compliance;

/**
 * Where each event goes. One outbox row is written per (event, topic); all rows of one
 * event share its CloudEvent id.
 *
 * | event               | eventos-partners | administracion-financiera-compliance |
 * |---------------------|------------------|--------------------------------------|
 * | PartnerCreado       | yes              |                                      |
 * | PartnerActualizado  | yes              |                                      |
 * | PartnerEliminado    | yes              |                                      |
 * | KYCVerificado       | yes              | yes                                  |
 * | IntegracionCreada   | yes              |                                      |
 * | IntegracionRevocada | yes              |                                      |
 */
export const ROUTES: Readonly<Record<EventType, readonly OwnTopic[]>> = {
  PartnerCreado: [TOPICS.partners],
  PartnerActualizado: [TOPICS.partners],
  PartnerEliminado: [TOPICS.partners],
  KYCVerificado: [TOPICS.partners, TOPICS.compliance],
  IntegracionCreada: [TOPICS.partners],
  IntegracionRevocada: [TOPICS.partners],
};

export const OWN_TOPICS: readonly OwnTopic[] = [TOPICS.partners, TOPICS.compliance];

/** The event types a topic carries: the branches of its envelope's data union. */
export function eventTypesOf(topic: OwnTopic): EventType[] {
  return (Object.keys(ROUTES) as EventType[]).filter((t) => ROUTES[t].includes(topic));
}
