// `pnpm demo`: the event contract's test_events script, against the real processes. Starts what is not running (broker,
// database, api, relay), drives the six business operations through the HTTP API and prints
// each event as it arrives on Pulsar, decoded, with its commit → broker latency. Then stops
// what it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { migrateDatabase } from '@relevo/db';
import { TOPICS, decodeEvent } from '@relevo/events';
import { createClient, type Consumer } from '@relevo/pulsar';
import { adminUrl, serviceUrl, startBroker, stopBroker } from './pulsar.ts';

const cli = fileURLToPath(new URL('../packages/cli/src/main.ts', import.meta.url));
const adminDb = process.env.DEMO_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const token = 'demo-token-0123456789abcdef0123456789';
const port = 3900 + Math.floor(Math.random() * 50);
const started: ChildProcess[] = [];

function brokerUp(): Promise<boolean> {
  return fetch(`${adminUrl}/admin/v2/brokers/health`).then((r) => r.ok, () => false);
}

function startProcess(command: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [cli, command], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  started.push(child);
  return child;
}

async function waitFor(url: string, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready at ${url}`);
}

async function call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${JSON.stringify(json)}`);
  console.log(`→ ${method} ${path} ${res.status} (version ${String(json.version)})`);
  return json;
}

async function printEvents(consumer: Consumer, topic: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const message = await consumer.receive(30_000);
    const event = decodeEvent(topic, message.payload);
    const latency = message.publishTime - event.time;
    console.log(`← ${topic} ${event.type} (commit → broker ${latency} ms)\n${JSON.stringify(event, null, 2)}`);
    await consumer.ack(message);
  }
}

async function main(): Promise<void> {
  const brokerWasUp = await brokerUp();
  if (!brokerWasUp) await startBroker();
  const dbName = `relevo_demo_${randomBytes(3).toString('hex')}`;
  const admin = postgres(adminDb, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${dbName}"`);
  const databaseUrl = adminDb.replace(/\/[^/]*$/, `/${dbName}`);
  const namespace = `public/demo-${dbName.slice(-6)}`;
  await fetch(`${adminUrl}/admin/v2/namespaces/${namespace}`, { method: 'PUT' });
  const client = createClient({ serviceUrl });
  try {
    await migrateDatabase(databaseUrl);
    const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', RELAY_SHARDS: '2' };
    startProcess('api', { ...env, PORT: String(port), API_METRICS_PORT: '0', API_TOKENS: `demo:read+write:${token}`, API_PRINCIPAL_SECRET: 'demo-principal-secret-0123456789abcdef' });
    startProcess('relay', { ...env, BROKER_URL: serviceUrl, PULSAR_ADMIN_URL: adminUrl, PULSAR_NAMESPACE: namespace, METRICS_PORT: String(port + 100) });
    await waitFor(`http://127.0.0.1:${port}/health/ready`, 'api');
    await waitFor(`http://127.0.0.1:${port + 100}/health/ready`, 'relay');
    const own = await client.subscribe({ topic: `persistent://${namespace}/${TOPICS.partners}`, subscription: 'demo', initialPosition: 'earliest' });
    const compliance = await client.subscribe({ topic: `persistent://${namespace}/${TOPICS.compliance}`, subscription: 'demo', initialPosition: 'earliest' });

    const partner = await call('POST', '/v1/partners', { nombre: 'Acme Corp', email: 'contact@acme.com' });
    const id = String(partner.id);
    await call('PATCH', `/v1/partners/${id}`, { nombre: 'Acme Corp S.A.' });
    await call('POST', `/v1/partners/${id}/kyc`, { estado_kyc: 'VERIFICADO', motivo: 'documentación completa' });
    const integration = await call('POST', `/v1/partners/${id}/integrations`, { tipo: 'webhook', nombre: 'ERP' });
    await call('POST', `/v1/integrations/${String(integration.id)}/revoke`, { motivo: 'fin de contrato' });
    await call('DELETE', `/v1/partners/${id}`);

    await printEvents(own, TOPICS.partners, 6);
    await printEvents(compliance, TOPICS.compliance, 1);
    console.log('demo: all six event types published, decoded and received');
  } finally {
    for (const child of started) child.kill('SIGTERM');
    await Promise.all(started.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await client.close();
    await admin.unsafe(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
    if (!brokerWasUp) await stopBroker();
  }
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
