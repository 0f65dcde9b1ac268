import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '@relevo/domain';
import {
  EventSchemaError, ROUTES, TOPIC_SCHEMAS, TOPICS, decodeEvent, encodeEvent, toIntegrationEvent, validateEvent,
} from '../src/index.ts';

const pid = '7d0e3a52-0a57-4b8e-9d49-4b7a9c2f8e11';
const iid = '1f6b2b34-52a3-4a5e-8a3c-6d2c1b0e9f00';
const samples: DomainEvent[] = [
  { type: 'PartnerCreado', partner_id: pid, version: 1, nombre: 'Acme Corp', email: 'contact@acme.com', estado: 'ACTIVO', estado_kyc: 'PENDIENTE' },
  { type: 'PartnerActualizado', partner_id: pid, version: 2, nombre: 'Acme', email: 'contact@acme.com', estado: 'SUSPENDIDO', estado_kyc: 'PENDIENTE', campos_actualizados: ['estado', 'nombre'] },
  { type: 'PartnerEliminado', partner_id: pid, version: 6 },
  { type: 'KYCVerificado', partner_id: pid, version: 3, estado_kyc: 'RECHAZADO', motivo: 'documento vencido' },
  { type: 'IntegracionCreada', partner_id: pid, version: 4, integracion_id: iid, tipo: 'webhook', nombre: 'ERP' },
  { type: 'IntegracionRevocada', partner_id: pid, version: 5, integracion_id: iid, motivo: 'fin de contrato' },
];

describe('integration event codec', () => {
  it.each(samples.map((e) => [e.type, e] as const))('%s round-trips through every topic it is routed to', (_t, domain) => {
    const event = toIntegrationEvent(domain, '0b8f6a3e-6f5c-4f0e-a1f3-2e4b8c7d9a10', new Date(1_700_000_000_123));
    expect(event).toMatchObject({
      specversion: 'v1', datacontenttype: 'AVRO', service_name: 'gestion-de-integraciones', time: 1_700_000_000_123, type: domain.type,
    });
    for (const topic of ROUTES[domain.type]) {
      const bytes = encodeEvent(topic, event);
      expect(decodeEvent(topic, bytes)).toEqual(event);
      expect(decodeEvent(topic, bytes, TOPIC_SCHEMAS[topic].json)).toEqual(event);
    }
  });

  it('keeps every encoded body intact while later ones fill and outgrow the shared buffers', () => {
    // 1 KiB to 600 KiB names: bodies end at, straddle and exceed the 256 KiB slabs.
    const sizes = [...Array.from({ length: 600 }, (_, i) => 1_000 + (i % 7) * 97), 300_000, 5, 600_000, 2_000];
    const events = sizes.map((n, i) => toIntegrationEvent({ ...samples[0]!, nombre: String(i % 10).repeat(n) } as DomainEvent, `e${i}`, new Date(i)));
    const bodies = events.map((e) => encodeEvent(TOPICS.partners, e));
    bodies.forEach((b, i) => expect(decodeEvent(TOPICS.partners, b)).toEqual(events[i]));
    const spans = new Set(bodies.map((b) => b.buffer));
    expect(spans.size).toBeGreaterThan(2);
    expect(spans.size).toBeLessThan(bodies.length / 10);
  });

  it('names the fields that do not fit the schema', () => {
    const event = toIntegrationEvent(samples[0]!, 'x', new Date());
    (event.data as Record<string, unknown>).version = 'one';
    (event.data as Record<string, unknown>).email = undefined;
    const err = (() => { try { validateEvent(TOPICS.partners, event); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(EventSchemaError);
    expect((err as EventSchemaError).paths).toEqual(expect.arrayContaining(['data.gestion_de_integraciones.v1.PartnerCreadoData.version', 'data.gestion_de_integraciones.v1.PartnerCreadoData.email']));
  });

  it('refuses to encode an event that does not fit, naming its fields', () => {
    const event = toIntegrationEvent(samples[0]!, 'x', new Date());
    (event.data as Record<string, unknown>).version = 1.5;
    const err = (() => { try { encodeEvent(TOPICS.partners, event); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(EventSchemaError);
    expect((err as EventSchemaError).paths).toEqual(['data.gestion_de_integraciones.v1.PartnerCreadoData.version']);
  });

  it('refuses an event type on a topic it is not routed to', () => {
    const event = toIntegrationEvent(samples[0]!, 'x', new Date());
    expect(() => encodeEvent(TOPICS.compliance, event)).toThrow(/not routed to topic administracion-financiera-compliance/);
  });

  it('gives each topic a stable schema fingerprint', () => {
    expect(TOPIC_SCHEMAS[TOPICS.partners].fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(TOPIC_SCHEMAS[TOPICS.partners].fingerprint).not.toBe(TOPIC_SCHEMAS[TOPICS.compliance].fingerprint);
    expect(TOPIC_SCHEMAS[TOPICS.compliance].eventTypes).toEqual(['KYCVerificado']);
  });
});
