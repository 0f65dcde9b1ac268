// The relay's outbox gauges on a real database: the first scrape already carries the
// backlog, parked and oldest-unsent values of that moment, all three from the same query.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectDatabase, type Database } from '@relevo/db';
import { createRelayMetrics } from '@relevo/relay';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createPartners, parkRow } from './support/writes.ts';

let tdb: TestDatabase;
let database: Database;

beforeAll(async () => {
  tdb = await createTestDatabase('relevo_relay_metrics');
  database = connectDatabase(tdb.url);
});

afterAll(async () => {
  await database?.close();
  await tdb?.drop();
});

/** Sum over the shards of one gauge in Prometheus text, or undefined when it has no sample. */
function total(text: string, name: string): number | undefined {
  const samples = [...text.matchAll(new RegExp(`^${name}\\{shard="\\d+"\\} (\\S+)$`, 'gm'))].map((m) => Number(m[1]));
  return samples.length === 0 ? undefined : samples.reduce((a, b) => a + b, 0);
}

it('reports the outbox as it is at each scrape, from the first one', async () => {
  await createPartners(database, 5);
  const [first] = await database.sql<{ id: string }[]>`select id::text from outbox order by id limit 1`;
  await parkRow(database.sql, first!.id, 'Timeout: test');
  const metrics = createRelayMetrics(database.sql, 4);

  let text = await metrics.registry.metrics();
  expect(total(text, 'relevo_outbox_backlog')).toBe(5);
  expect(total(text, 'relevo_outbox_parked')).toBe(1);
  expect(total(text, 'relevo_outbox_oldest_unsent_age_seconds')).toBeGreaterThan(0);

  await database.sql`update outbox set sent_at = now() where parked_at is null`;
  text = await metrics.registry.metrics();
  expect(total(text, 'relevo_outbox_backlog')).toBe(1);
  expect(total(text, 'relevo_outbox_parked')).toBe(1);
  expect(total(text, 'relevo_outbox_oldest_unsent_age_seconds')).toBe(0);
});
