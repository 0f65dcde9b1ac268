// The relay's delivery guarantees under injected faults: every I/O step of a drain run (each
// statement, producer creation, send and receipt) failing before or after its effect, or the
// relay crashing there, alone and in random combinations. After the faults, a clean relay
// and an operator (skip the poison rows, retry the parked ones) finish the work; then the
// invariants are checked on what a consumer reads from the topics.
//
// RELEVO_FAULT_SCHEDULES sets how many random schedules run (a long soak: thousands);
// RELEVO_FAULT_SEED runs the random schedules from that seed (a failure prints its seed);
// RELEVO_FAULT_SEEDS (a comma-separated list) runs exactly those.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, retryParked, skipParked, surviveDroppedTypeFetches, type Database } from '@relevo/db';
import { createClient, type PulsarClient } from '@relevo/pulsar';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createTestNamespace, serviceUrl } from '../support/pulsar.ts';
import { checkDelivery } from './harness/check.ts';
import { FAULT_STEPS, FaultPlan, describeFault, randomSchedule, singleFaults, type Fault } from './harness/faults.ts';
import { HarnessRelay, driveUntilQuiet } from './harness/relay-driver.ts';
import { SCENARIO_SHARDS, poisonRows, writeScenario } from './harness/scenario.ts';

const SCHEDULES = Number(process.env.RELEVO_FAULT_SCHEDULES ?? 100);
const BASE_SEED = Number(process.env.RELEVO_FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SEEDS = process.env.RELEVO_FAULT_SEEDS?.split(',').map(Number)
  ?? Array.from({ length: SCHEDULES }, (_, i) => BASE_SEED + i);

interface ScheduleResult {
  violations: string[];
  fired: Fault[];
  calls: Map<string, number>;
}

describe('drain runs under injected faults', () => {
  let tdb: TestDatabase;
  let database: Database;
  let admin: postgres.Sql;
  let client: PulsarClient;

  beforeAll(async () => {
    // As the relay process does: a connection cut while postgres.js fetches its types is not fatal.
    surviveDroppedTypeFetches({ warn() {} });
    tdb = await createTestDatabase('relevo_faults');
    database = connectDatabase(tdb.url, { max: 4 });
    admin = postgres(tdb.url, { max: 1, onnotice: () => {} });
    client = createClient({ serviceUrl });
  });

  afterAll(async () => {
    await client?.close();
    await admin?.end();
    await database?.close();
    await tdb?.drop();
  });

  /** The scenario under `faults`, then a clean relay and the operator, then the checks. */
  async function runSchedule(seed: number, faults: readonly Fault[]): Promise<ScheduleResult> {
    const namespace = await createTestNamespace();
    const partners = await writeScenario(database, seed);
    const plan = new FaultPlan(faults);
    const violations: string[] = [];
    const faulty = () => new HarnessRelay({ url: tdb.url, namespace, shards: SCENARIO_SHARDS, plan, admin });
    let relay: HarnessRelay | undefined;
    try {
      relay = (await driveUntilQuiet(faulty, SCENARIO_SHARDS)).relay;
    } catch (err) {
      violations.push(`under faults: ${(err as Error).message}`);
    }
    await relay?.stop();
    const clean = new FaultPlan([]);
    const start = () => new HarnessRelay({ url: tdb.url, namespace, shards: SCENARIO_SHARDS, plan: clean, admin });
    relay = start();
    const poison = poisonRows(partners);
    try {
      for (let round = 0; ; round++) {
        relay = (await driveUntilQuiet(start, SCENARIO_SHARDS, { relay })).relay;
        const parked = await database.sql<{ id: bigint; aggregate_id: string; aggregate_version: number }[]>`
          select id, aggregate_id, aggregate_version from outbox where parked_at is not null and sent_at is null and skipped_at is null`;
        if (parked.length === 0) break;
        if (round === 4) {
          violations.push(`still parked after ${round} operator rounds: ${parked.map((p) => `${p.aggregate_id.slice(0, 8)} v${p.aggregate_version}`).join(', ')}`);
          break;
        }
        const isPoison = (p: (typeof parked)[number]) => poison.some((x) => x.id === p.aggregate_id && x.version === p.aggregate_version);
        for (const p of parked.filter(isPoison)) await skipParked(database.sql, p.id, 'cannot be published: skipped by the operator', 'fault-harness');
        const retry = parked.filter((p) => !isPoison(p));
        if (retry.length > 0) await retryParked(database.sql, { ids: retry.map((p) => p.id) }, 'fault-harness');
      }
    } catch (err) {
      violations.push(`recovery: ${(err as Error).message}`);
    } finally {
      await relay.stop();
    }
    violations.push(...(await checkDelivery(database, client, namespace)));
    return { violations, fired: plan.fired, calls: plan.calls };
  }

  it('delivers the scenario with no fault, and reaches every step a fault can be put on', async () => {
    const { violations, calls } = await runSchedule(BASE_SEED, []);
    expect(violations).toEqual([]);
    expect(FAULT_STEPS.filter((step) => !calls.get(step))).toEqual([]);
  }, 60_000);

  it.each(singleFaults().map((f) => ({ ...f, name: describeFault(f) })))('holds with $name', async (fault) => {
    const { violations } = await runSchedule(BASE_SEED, [fault]);
    expect(violations).toEqual([]);
  }, 60_000);

  it(`holds under ${SEEDS.length} random schedules of one to three faults (seeds ${SEEDS[0]}…)`, async () => {
    const failures: string[] = [];
    let fired = 0;
    for (const seed of SEEDS) {
      const faults = randomSchedule(seed);
      const result = await runSchedule(seed, faults);
      fired += result.fired.length;
      if (result.violations.length > 0) {
        failures.push(`RELEVO_FAULT_SEED=${seed} [${faults.map(describeFault).join('; ')}] fired [${result.fired.map(describeFault).join('; ')}]: ${result.violations.join(' / ')}`);
      }
    }
    // A schedule whose faults never fire tests nothing: most must fire.
    expect(fired).toBeGreaterThan(SEEDS.length);
    expect(failures).toEqual([]);
  }, 1_800_000);
});
