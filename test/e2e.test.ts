// The whole path: HTTP API → one transaction → outbox → relay (woken after commit) →
// Pulsar → a consumer decoding the event contract's envelope, for all six event types.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, parseApiTokens } from '@relevo/api';
import { connectDatabase, createCommitAnnouncer, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type Consumer, type PulsarClient } from '@relevo/pulsar';
import { ProducerPool, createRelayMetrics, startRelayWorker, topicUrl, type RelayWorker } from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { collect, createTestNamespace, serviceUrl, subscribeEarliest } from './support/pulsar.ts';

const SHARDS = 2;
const TOKEN = 'e2e-token-0123456789abcdef0123456789ab';
const log = createLogger('e2e-test', process.env.TEST_LOG_LEVEL ?? 'silent');

describe('end to end', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let worker: RelayWorker;
  let partnersConsumer: Consumer;
  let complianceConsumer: Consumer;
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 8 });
    const namespace = await createTestNamespace();
    client = createClient({ serviceUrl });
    partnersConsumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.partners));
    complianceConsumer = await subscribeEarliest(client, topicUrl(namespace, TOPICS.compliance));
    worker = await startRelayWorker({
      databaseUrl: tdb.url, sql: database.sql, log, metrics: createRelayMetrics(database.sql, SHARDS),
      producers: new ProducerPool({ client, namespace, idleMs: 5_000 }),
      shards: SHARDS, batchSize: 100, runBudgetMs: 2_000, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 1_000,
    });
    app = createApp({
      database, tokens: parseApiTokens(`e2e:read+write:${TOKEN}`), principalSecret: 'e2e-principal-secret-0123456789abcdef', clock: () => new Date(), log, maxBodyBytes: 65_536,
      onCommitted: createCommitAnnouncer(database.sql),
    });
  });

  afterAll(async () => {
    await partnersConsumer?.close();
    await complianceConsumer?.close();
    await worker?.stop();
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(json)).toBeLessThan(300);
    return json;
  };

  it('delivers all six event types to their topics in the envelope of the event contract, field for field', async () => {
    const partner = await call('POST', '/v1/partners', { nombre: 'Acme Corp', email: 'contact@acme.com' });
    const id = partner.id as string;
    await call('PATCH', `/v1/partners/${id}`, { nombre: 'Acme S.A.', estado: 'SUSPENDIDO' });
    await call('POST', `/v1/partners/${id}/kyc`, { estado_kyc: 'VERIFICADO', motivo: 'documentos en regla' });
    const integration = await call('POST', `/v1/partners/${id}/integrations`, { tipo: 'webhook', nombre: 'ERP' });
    const iid = integration.id as string;
    await call('POST', `/v1/integrations/${iid}/revoke`, { motivo: 'fin de contrato' });
    await call('DELETE', `/v1/partners/${id}`);

    const received = await collect(partnersConsumer, TOPICS.partners, 6);
    const common = { specversion: 'v1', datacontenttype: 'AVRO', service_name: 'gestion-de-integraciones' };
    expect(received.map((r) => r.event)).toEqual([
      { ...common, id: expect.any(String), time: expect.any(Number), type: 'PartnerCreado',
        data: { partner_id: id, version: 1, nombre: 'Acme Corp', email: 'contact@acme.com', estado: 'ACTIVO', estado_kyc: 'PENDIENTE' } },
      { ...common, id: expect.any(String), time: expect.any(Number), type: 'PartnerActualizado',
        data: { partner_id: id, version: 2, nombre: 'Acme S.A.', email: 'contact@acme.com', estado: 'SUSPENDIDO', estado_kyc: 'PENDIENTE', campos_actualizados: ['estado', 'nombre'] } },
      { ...common, id: expect.any(String), time: expect.any(Number), type: 'KYCVerificado',
        data: { partner_id: id, version: 3, estado_kyc: 'VERIFICADO', motivo: 'documentos en regla' } },
      { ...common, id: expect.any(String), time: expect.any(Number), type: 'IntegracionCreada',
        data: { partner_id: id, version: 4, integracion_id: iid, tipo: 'webhook', nombre: 'ERP' } },
      { ...common, id: expect.any(String), time: expect.any(Number), type: 'IntegracionRevocada',
        data: { partner_id: id, version: 5, integracion_id: iid, motivo: 'fin de contrato' } },
      { ...common, id: expect.any(String), time: expect.any(Number), type: 'PartnerEliminado',
        data: { partner_id: id, version: 6 } },
    ]);
    for (const { message, event } of received) {
      expect(message.partitionKey).toBe(id);
      expect(message.eventTime).toBe(event.time);
      expect(message.properties).toMatchObject({ ce_id: event.id, ce_type: event.type, ce_subject: id });
    }

    const [kyc] = await collect(complianceConsumer, TOPICS.compliance, 1);
    expect(kyc!.event).toEqual(received[2]!.event);
  });
});
