// Fault schedules for the relay's I/O steps: which step, its how-manieth call, and what goes
// wrong there. A schedule is plain data, printed with its seed when a run breaks an invariant,
// so a failure is reproduced by its seed alone (RELEVO_FAULT_SEED).

/**
 * The I/O steps of a drain run. `sql:*` are the statements the relay sends (named after the
 * plans in @relevo/db), `pulsar:create` a producer coming up (or being reused) for a topic of
 * the shard, `pulsar:send` one message handed to the producer and its receipt.
 */
export const FAULT_STEPS = [
  'sql:floor', 'sql:reclaim', 'sql:claim', 'sql:mark', 'sql:give-back', 'sql:settle', 'sql:next-retry', 'sql:fence',
  'pulsar:create', 'pulsar:send',
] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];

/**
 * What goes wrong at a step:
 * - `fail-before`: the call fails and has no effect (a statement that never reached Postgres,
 *   a message never written to the broker, a producer the broker could not make ready now);
 * - `fail-after`: the call takes effect, then fails as if its answer were lost (a committed
 *   statement whose reply never came, a stored message whose receipt never came);
 * - `crash-before` / `crash-after`: the relay dies there, before or after the effect: none of
 *   its later steps happen, its connections are cut, and a fresh relay takes over;
 * - `refuse`: the broker refuses for good, for reasons waiting does not heal (a producer:
 *   authorization, a send: the topic terminated).
 */
export const FAULT_MODES = ['fail-before', 'fail-after', 'crash-before', 'crash-after', 'refuse'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

/** The modes that make sense at a step. */
export function modesOf(step: FaultStep): FaultMode[] {
  return step.startsWith('pulsar:') ? [...FAULT_MODES] : FAULT_MODES.filter((m) => m !== 'refuse');
}

export interface Fault {
  step: FaultStep;
  /** The step's how-manieth call in the whole schedule, counted across relays, from 1. */
  nth: number;
  mode: FaultMode;
}

export const describeFault = (f: Fault) => `${f.mode} at ${f.step} #${f.nth}`;

/** mulberry32: a small, fast PRNG whose whole state is one 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How far into a scenario a step's calls go (sends: one per row; producers: two per run, more after crashes). */
const NTH_SPAN: Partial<Record<FaultStep, number>> = { 'pulsar:send': 16, 'pulsar:create': 8 };

/**
 * One to three faults at random steps, each at one of the first calls of its step (most
 * steps are called a few times per scenario; a fault beyond the last call never fires).
 */
export function randomSchedule(seed: number): Fault[] {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const count = 1 + Math.floor(random() * 3);
  return Array.from({ length: count }, () => {
    const step = pick(FAULT_STEPS);
    return { step, nth: 1 + Math.floor(random() * (NTH_SPAN[step] ?? 6)), mode: pick(modesOf(step)) };
  });
}

/** Every step × mode once at its first call, and the sends also in the middle of a batch of rows in hand. */
export function singleFaults(): Fault[] {
  return FAULT_STEPS.flatMap((step) => modesOf(step).flatMap((mode) => (step === 'pulsar:send' ? [1, 7] : [1]).map((nth) => ({ step, nth, mode }))));
}

/** Thrown into the relay by a `fail-*` or `refuse` fault. */
export class InjectedFault extends Error {
  readonly code: string;
  constructor(code: string, fault: Fault) {
    super(`injected: ${describeFault(fault)}`);
    this.name = 'InjectedFault';
    this.code = code;
  }
}

/**
 * Counts the calls of each step across the relays of one schedule and says which fault, if
 * any, a call meets. Each fault fires once.
 */
export class FaultPlan {
  readonly faults: readonly Fault[];
  readonly calls = new Map<FaultStep, number>();
  readonly fired: Fault[] = [];

  constructor(faults: readonly Fault[]) {
    this.faults = faults;
  }

  /** Called once per call of a step; the fault planned for this call, if any. */
  next(step: FaultStep): Fault | undefined {
    const n = (this.calls.get(step) ?? 0) + 1;
    this.calls.set(step, n);
    const fault = this.faults.find((f) => f.step === step && f.nth === n);
    if (fault) this.fired.push(fault);
    return fault;
  }
}
