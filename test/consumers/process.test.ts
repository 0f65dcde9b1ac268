// `relevo consumers` as an operator runs it: a real subprocess. SIGKILL mid-stream loses
// nothing (after a restart every event is in the audit table exactly once); SIGTERM stops
// cleanly; /metrics and the health probes answer; a bad rules file stops start-up.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { TOPICS } from '@relevo/events';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace } from '../support/pulsar.ts';
import {
  integrationEvent, kyc, ownProducer, partnerCreado, publishOwn, serviceUrl, spawnRelevo, waitForOutput, type Subprocess,
} from './support.ts';

describe('relevo consumers (process)', () => {
  let tdb: TestDatabase;
  let database: Database;
  let client: PulsarClient;
  let namespace: string;
  const running: Subprocess[] = [];

  const start = async (env: Record<string, string> = {}) => {
    const p = spawnRelevo(['consumers'], { DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, CONSUMER_NACK_DELAY_MS: '200', ...env });
    running.push(p);
    await waitForOutput(p, /"msg":"consumers ready"/);
    return p;
  };

  beforeAll(async () => {
    tdb = await createTestDatabase('relevo_consumers_process');
    database = connectDatabase(tdb.url);
    client = createClient({ serviceUrl });
    namespace = await createTestNamespace();
  });

  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await client?.close();
    await database?.close();
    await tdb?.drop();
  });

  const audited = async () => {
    const [row] = await database.sql<{ n: number; distinct: number }[]>`
      select count(*)::int as n, count(distinct (event_id, topic))::int as distinct from audit_events`;
    return row!;
  };

  it('loses nothing when SIGKILLed mid-stream: after a restart every event is audited exactly once', async () => {
    const first = await start();
    const producer = await ownProducer(client, namespace, TOPICS.partners);
    const compliance = await ownProducer(client, namespace, TOPICS.compliance);
    const total = 3_000;
    const events = Array.from({ length: total }, (_, i) => integrationEvent(i % 10 === 0 ? kyc(randomUUID(), 'VERIFICADO') : partnerCreado()));
    const kycs = events.filter((e) => e.type === 'KYCVerificado');
    const publishing = (async () => {
      for (let i = 0; i < total; i += 100) {
        const chunk = events.slice(i, i + 100);
        await publishOwn(producer, TOPICS.partners, chunk);
        await publishOwn(compliance, TOPICS.compliance, chunk.filter((e) => e.type === 'KYCVerificado'));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await expect.poll(async () => (await audited()).n, { timeout: 30_000, interval: 20 }).toBeGreaterThan(300);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    const atKill = (await audited()).n;
    expect(atKill).toBeLessThan(total + kycs.length);
    await publishing;

    await start();
    await expect.poll(async () => (await audited()).n, { timeout: 60_000, interval: 200 }).toBe(total + kycs.length);
    expect(await audited()).toEqual({ n: total + kycs.length, distinct: total + kycs.length });
    const [missing] = await database.sql`select count(*)::int as n from unnest(${events.map((e) => e.id)}::uuid[]) as e(id)
      where not exists (select 1 from audit_events a where a.event_id = e.id and a.topic = ${TOPICS.partners})`;
    expect(missing!.n).toBe(0);
    await Promise.all([producer.close(), compliance.close()]);
  }, 180_000);

  it('serves /metrics and the health probes, and stops cleanly on SIGTERM', async () => {
    const p = running.at(-1)!;
    const port = Number(/"metrics":"http:\/\/127\.0\.0\.1:(\d+)\/metrics"/.exec(p.output())![1]);
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    expect(await (await fetch(`${base}/health/ready`)).json()).toEqual({ status: 'ok' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/relevo_consumer_messages_total\{consumer="audit:eventos-partners",topic="eventos-partners",type="PartnerCreado",outcome="stored"\} \d+/);
    expect(metrics).toMatch(/relevo_consumer_event_to_receipt_seconds_bucket\{le="0.5",consumer="audit:eventos-partners",topic="eventos-partners",type="PartnerCreado"\} \d+/);
    // Logs are JSON lines.
    const lines = p.output().trim().split('\n');
    expect(lines.every((l) => JSON.parse(l).component === 'consumers')).toBe(true);

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/"msg":"consumer stopped"/);
    expect(p.output()).toMatch(/"msg":"stopped cleanly"/);
  }, 60_000);

  it('refuses to start with a malformed rules file, naming the file, line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relevo-rules-'));
    const file = join(dir, 'rules.json');
    writeFileSync(file, '{\n  "rules": [\n    { "name": "x", "type": "KYCVerificado", "severity": "loud" }\n  ]\n}\n');
    const p = spawnRelevo(['consumers'], { DATABASE_URL: tdb.url, PULSAR_NAMESPACE: namespace, ALERT_RULES: file });
    running.push(p);
    expect(await p.exited).toBe(2);
    expect(p.output().trim()).toBe(`config: ALERT_RULES="${file}" is invalid: line 3, rules[0].severity: expected one of info, warning, critical`);
  }, 30_000);

  it('refuses bad settings with one line per variable', async () => {
    const p = spawnRelevo(['consumers'], { DATABASE_URL: 'mysql://x', CONSUMER_MAX_REDELIVERIES: '-1', CONSUMERS: 'audit,billing' });
    running.push(p);
    expect(await p.exited).toBe(2);
    const out = p.output().trim().split('\n');
    expect(out).toHaveLength(3);
    expect(out.join('\n')).toMatch(/config: DATABASE_URL="mysql:\/\/x" is invalid/);
    expect(out.join('\n')).toMatch(/config: CONSUMER_MAX_REDELIVERIES="-1" is invalid/);
    expect(out.join('\n')).toMatch(/config: CONSUMERS="audit,billing" is invalid/);
  }, 30_000);
});
