// The shard layout as relays record and follow it, against the real Postgres: the first
// request over shards drained before layouts existed, a layout change that lost its
// activation, and claims and retries closed while a layout is pending.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDatabase, connectSql, ensureShards, nextRetryAt, queryRunner, readLayout, requestLayout, runQuery, shardRange, type Database,
} from '@relevo/db';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { ProducerPool, createRelayMetrics, drainShard } from '@relevo/relay';
import { createLogger } from '@relevo/runtime';
import { createTestDatabase, type TestDatabase } from './support/database.ts';
import { createTestNamespace, serviceUrl } from './support/pulsar.ts';
import { createPartners } from './support/writes.ts';

const log = createLogger('relay-layout-test', process.env.TEST_LOG_LEVEL ?? 'silent');

describe('shard layouts', () => {
  let tdb: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    database = connectDatabase(tdb.url, { max: 4 });
  });

  afterAll(async () => {
    await database?.close();
    await tdb?.drop();
  });

  const layouts = () => database.sql<{ generation: number; shards: number; state: string }[]>`
    select generation, shards, state from relay_layout order by generation`;

  it('records shards drained before any layout as the active one, and another request as pending', async () => {
    // Relays that ran before layouts were recorded left eight shards' sequences (and maybe rows in hand).
    await runQuery(database.sql, ensureShards({ shards: 8 }));
    const layout = await requestLayout(database.sql, 4, 'upgraded-relay');
    expect({ active: layout.active.shards, pending: layout.pending?.shards }).toEqual({ active: 8, pending: 4 });
    expect(await layouts()).toEqual([{ generation: 1, shards: 8, state: 'active' }, { generation: 2, shards: 4, state: 'pending' }]);
  });

  it('closes no retry loop while a layout is pending: a due backoff row asks for no wake', async () => {
    const [partner] = await createPartners(database, 1);
    await database.sql`update outbox set attempts = 1, next_attempt_at = now() - interval '1 second' where aggregate_id = ${partner!}`;
    const all = { from: 0, to: 2 ** 31 };
    const [pending] = await runQuery(database.sql, nextRetryAt({ range: all, generation: 1 }));
    expect(pending!.at).toBeNull();
    await database.sql`update outbox set skipped_at = now() where aggregate_id = ${partner!}`;
    expect(shardRange(0, 1)).toEqual(all);
  });

  it('activates the pending layout from the next settled run when the one that closed the last shard stopped first', async () => {
    // Every shard of generation 1 closed; the activation that should have followed was lost.
    await database.sql`insert into relay_layout_closed (generation, shard) select 1, s from generate_series(0, 7) s on conflict do nothing`;
    expect((await readLayout(database.sql))?.pending?.generation).toBe(2);
    const namespace = await createTestNamespace();
    const client: PulsarClient = createClient({ serviceUrl });
    const session: postgres.Sql = connectSql(tdb.url, { max: 1 });
    const producers = new ProducerPool({ client, namespace, idleMs: 1_000 });
    try {
      const [lock] = await session<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await drainShard({
        session: queryRunner(session), lockPid: lock!.pid, pool: queryRunner(database.sql), producers, log,
        metrics: createRelayMetrics(database.sql, 8), relayId: 'layout-test', generation: 1, shards: 8, batchSize: 100,
        maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 200,
      }, 3, 1_000);
      expect(await layouts()).toEqual([{ generation: 1, shards: 8, state: 'retired' }, { generation: 2, shards: 4, state: 'active' }]);
    } finally {
      await producers.closeAll();
      await session.end();
      await client.close();
    }
  });
});
