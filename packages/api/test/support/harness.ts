// One app per test file over its own fresh database, driven with app.request().
import { connectDatabase, type Database } from '@relevo/db';
import type { ClaimedRow } from '@relevo/db/sql';
import { createLogger } from '@relevo/runtime';
import { createApp, type App, type AppDeps } from '../../src/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/database.ts';

import { PRINCIPAL_SECRET, TOKEN, TOKENS } from './tokens.ts';

export { OTHER_TOKEN, TOKEN } from './tokens.ts';

export interface Harness {
  testDb: TestDatabase;
  database: Database;
  app: App;
  committed: string[][];
  /** A second app on the same database with other deps (hooks, limits). */
  appWith(overrides: Partial<AppDeps>): App;
  close(): Promise<void>;
}

export async function createHarness(): Promise<Harness> {
  const testDb = await createTestDatabase('relevo_api_test');
  const database = connectDatabase(testDb.url, { max: 12 });
  const committed: string[][] = [];
  const base: AppDeps = {
    database,
    tokens: TOKENS,
    principalSecret: PRINCIPAL_SECRET,
    log: createLogger('api-test', 'silent'),
    onCommitted: (ids) => { committed.push(ids); },
  };
  return {
    testDb,
    database,
    app: createApp(base),
    committed,
    appWith: (overrides) => createApp({ ...base, ...overrides }),
    async close() {
      await database.close();
      await testDb.drop();
    },
  };
}

export interface Req {
  method?: string;
  body?: unknown;
  /** Sent verbatim instead of JSON.stringify(body). */
  raw?: string;
  headers?: Record<string, string>;
  token?: string | null;
}

/** A Response whose JSON body is untyped, for terse assertions. */
export type ApiResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export function call(app: App, path: string, r: Req = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (r.token !== null) headers.authorization = `Bearer ${r.token ?? TOKEN}`;
  const hasBody = r.body !== undefined || r.raw !== undefined;
  if (hasBody) headers['content-type'] = 'application/json';
  Object.assign(headers, r.headers ?? {});
  const init: RequestInit = { method: r.method ?? (hasBody ? 'POST' : 'GET'), headers };
  if (hasBody) init.body = r.raw ?? JSON.stringify(r.body);
  return app.request(path, init) as Promise<ApiResponse>;
}

export async function counts(database: Database): Promise<{ partners: number; integrations: number; outbox: number; idempotency: number }> {
  const [row] = await database.sql<{ partners: number; integrations: number; outbox: number; idempotency: number }[]>`
    select (select count(*)::int from partners) as partners,
           (select count(*)::int from integrations) as integrations,
           (select count(*)::int from outbox) as outbox,
           (select count(*)::int from idempotency_keys) as idempotency`;
  return row!;
}

/** An outbox row as the write path stored it: the claim's columns without the relay's. */
export type OutboxRow = Pick<ClaimedRow, 'id' | 'event_id' | 'aggregate_id' | 'aggregate_version' | 'event_type' | 'topic' | 'headers'> & { payload: any };

export async function outboxRows(database: Database, aggregateId?: string): Promise<OutboxRow[]> {
  const { sql } = database;
  const where = aggregateId ? sql`where aggregate_id = ${aggregateId}` : sql``;
  return [...await sql<OutboxRow[]>`select id, event_id, aggregate_id, aggregate_version, event_type, topic, payload, headers from outbox ${where} order by id`];
}

let seq = 0;
export const uniqueEmail = (tag = 'p') => `${tag}-${process.pid}-${++seq}@example.com`;

export async function newPartner(app: App, fields: Record<string, unknown> = {}): Promise<any> {
  const res = await call(app, '/v1/partners', { body: { nombre: 'Partner', email: uniqueEmail(), ...fields } });
  if (res.status !== 201) throw new Error(`create partner: ${res.status} ${await res.text()}`);
  return res.json();
}
