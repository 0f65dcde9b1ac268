// Alerts against the real broker: a local HTTP server stands in for ALERT_WEBHOOK_URL and
// must receive exactly the matching events — once each, despite a webhook that fails at first.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { DEFAULT_RULES, parseAlertRules, type Alert } from '@relevo/consumers';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import {
  actualizado, integrationEvent, kyc, metricValue, nackFirstDeliveries, ownProducer, partnerCreado, publishOwn, revocada,
  serviceUrl, startInProcess,
} from './support.ts';

describe('alerts consumer', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let server: Server;
  let url: string;
  const received: { alert: Alert; attempt: number }[] = [];
  const attempts = new Map<string, number>();

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_consumers_alerts');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        const alert = JSON.parse(body) as Alert;
        const n = (attempts.get(alert.id) ?? 0) + 1;
        attempts.set(alert.id, n);
        // Every alert fails twice (503, then a dropped connection) before it is accepted.
        if (n === 1) return void res.writeHead(503).end();
        if (n === 2) return void req.socket.destroy();
        expect(req.headers['content-type']).toBe('application/json');
        expect(req.headers['idempotency-key']).toBe(alert.id);
        received.push({ alert, attempt: n });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  it('posts exactly the matching events, with rule, severity and envelope, retrying a failing webhook', async () => {
    const namespace = await createTestNamespace();
    const rules = parseAlertRules(JSON.stringify({
      rules: [{ name: 'partner-suspendido', type: 'PartnerActualizado', when: { estado: 'SUSPENDIDO' }, severity: 'info' }],
    }), 'rules.json');
    const lostAcks = nackFirstDeliveries();
    const consumers = await startInProcess(tdb.url, namespace, {
      enabled: ['alerts'], rules, beforeAck: lostAcks.beforeAck,
      webhook: { url, retries: 3, backoffMs: 20, timeoutMs: 2_000 },
    });
    try {
      const [p1, p2, p3, p4] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const rejected = integrationEvent(kyc(p1, 'RECHAZADO'));
      const revoked = integrationEvent(revocada(p2));
      const suspended = integrationEvent(actualizado(p3, 'SUSPENDIDO'));
      const quiet = [
        integrationEvent(partnerCreado(p1)), integrationEvent(kyc(p4, 'VERIFICADO')), integrationEvent(actualizado(p4, 'ACTIVO')),
        ...Array.from({ length: 20 }, () => integrationEvent(partnerCreado())),
      ];
      const producer = await ownProducer(client, namespace, TOPICS.partners);
      await publishOwn(producer, TOPICS.partners, [...quiet.slice(0, 10), rejected, ...quiet.slice(10), revoked, suspended]);
      // A second copy of a matching event (another producer): no second alert.
      const again = await ownProducer(client, namespace, TOPICS.partners);
      await publishOwn(again, TOPICS.partners, [rejected]);
      // Compliance carries KYCVerificado too; alerts read eventos-partners only, so no double alert.
      const compliance = await ownProducer(client, namespace, TOPICS.compliance);
      await publishOwn(compliance, TOPICS.compliance, [rejected]);

      await expect.poll(() => received.length, { timeout: 30_000, interval: 100 }).toBe(3);
      // Every message is settled: handled at least twice (a lost ack, then the redelivery; a nack
      // redelivers a whole batch entry, so some are handled more often) — and no alert more arrives.
      await expect.poll(() => metricValue(consumers.metrics, 'relevo_consumer_messages_total', {}), { timeout: 30_000, interval: 100 })
        .toBeGreaterThanOrEqual((quiet.length + 4) * 2);
      await expect.poll(() => lostAcks.nacked, { timeout: 10_000 }).toBe(quiet.length + 4);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(received).toHaveLength(3);
      const byRule = Object.fromEntries(received.map(({ alert }) => [alert.rule, alert]));
      expect(Object.keys(byRule).sort()).toEqual(['integracion-revocada', 'kyc-rechazado', 'partner-suspendido']);
      expect(byRule['kyc-rechazado']).toMatchObject({
        id: `${rejected.id}:kyc-rechazado`, severity: 'critical', topic: TOPICS.partners,
        event: { id: rejected.id, type: 'KYCVerificado', data: { partner_id: p1, estado_kyc: 'RECHAZADO' } },
      });
      expect(byRule['integracion-revocada']).toMatchObject({ severity: 'warning', event: { id: revoked.id, type: 'IntegracionRevocada' } });
      expect(byRule['partner-suspendido']).toMatchObject({ severity: 'info', event: { id: suspended.id } });
      expect(received.every((r) => r.attempt === 3)).toBe(true);
      expect(await metricValue(consumers.metrics, 'relevo_alerts_total', { outcome: 'sent' })).toBe(3);
      await Promise.all([producer.close(), again.close(), compliance.close()]);
    } finally {
      await consumers.close();
    }
  }, 90_000);

  it('without a webhook, alerts are only logged; the default rules are in force', () => {
    expect(DEFAULT_RULES.map((r) => `${r.type}:${JSON.stringify(r.when)}:${r.severity}`)).toEqual([
      'KYCVerificado:{"estado_kyc":"RECHAZADO"}:critical', 'IntegracionRevocada:{}:warning',
    ]);
  });
});
