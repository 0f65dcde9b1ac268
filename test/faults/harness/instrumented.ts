// The relay's two kinds of I/O, wrapped so that a FaultPlan can break any call: the
// query runners it sends its statements through, and the Pulsar client it makes producers
// with. The relay code under test is the real one; only the calls crossing into Postgres and
// the broker pass through here.
import type { Query, QueryRunner } from '@relevo/db';
import { PulsarError, type OutgoingMessage, type Producer, type ProducerOptions, type PulsarClient, type SendReceipt } from '@relevo/pulsar';
import { InjectedFault, type Fault, type FaultPlan, type FaultStep } from './faults.ts';

/** The relay's statements by the name of the plan that built them. */
const STEPS_OF_PLANS: Record<string, FaultStep> = {
  'raise-sequence-floor': 'sql:floor',
  'reclaim-in-hand': 'sql:reclaim',
  'claim-batch': 'sql:claim',
  'mark-sent': 'sql:mark',
  'give-back': 'sql:give-back',
  'settle-shard': 'sql:settle',
  'next-retry-at': 'sql:next-retry',
  'session-pid': 'sql:fence',
};

/** A relay of the harness: once it crashed, none of its calls ever returns. */
export class RelayLife {
  dead = false;
  private readonly onCrash: () => void;

  constructor(onCrash: () => void) {
    this.onCrash = onCrash;
  }

  crash(): Promise<never> {
    if (!this.dead) {
      this.dead = true;
      this.onCrash();
    }
    return new Promise<never>(() => {});
  }

  /**
   * Runs one call of `step` under the plan: `act` is the real call, `error` what a failure
   * throws (made as soon as the fault is met, before the call's effect), `after` what a
   * `fail-after` does with the effect before failing.
   */
  async call<T>(plan: FaultPlan, step: FaultStep, act: () => Promise<T>, error: (f: Fault) => Error, after?: (result: T) => Promise<void>): Promise<T> {
    if (this.dead) return this.crash();
    const fault = plan.next(step);
    if (!fault) return act();
    const failure = fault.mode.startsWith('crash') ? undefined : error(fault);
    switch (fault.mode) {
      case 'crash-before':
        return this.crash();
      case 'fail-before':
      case 'refuse':
        throw failure;
      case 'crash-after':
        await act().catch(() => undefined);
        return this.crash();
      case 'fail-after': {
        const result = await act();
        await after?.(result);
        throw failure;
      }
    }
  }
}

const connectionLost = (f: Fault) => new InjectedFault('CONNECTION_CLOSED', f);

/** A query runner (the relay's port to Postgres) whose statements pass through the plan. */
export function instrumentRunner(runner: QueryRunner, plan: FaultPlan, life: RelayLife): QueryRunner {
  return <Row extends object>(q: Query<Row>) => {
    const step = STEPS_OF_PLANS[q.name];
    if (!step) return life.dead ? life.crash() : runner(q);
    return life.call(plan, step, () => runner(q), connectionLost);
  };
}

/**
 * A Pulsar client whose producers come up and send through the plan. A send fault breaks the
 * producer the way a lost connection or a closed producer does in relevo's client: the send it
 * hits and every later one on that producer fail (never an earlier one), in order.
 */
export function instrumentPulsar(client: PulsarClient, plan: FaultPlan, life: RelayLife): PulsarClient {
  return {
    createProducer: (o: ProducerOptions) => life.call(
      plan, 'pulsar:create', () => client.createProducer(o),
      (f) => new PulsarError(f.mode === 'refuse' ? 'AuthorizationError' : 'ServiceNotReady', `injected: ${f.mode} at ${f.step} #${f.nth}`),
      // Made on the broker, but the relay never heard: like the client's own timeout, it closes it.
      (producer) => producer.close(),
    ).then((producer) => instrumentProducer(producer, plan, life)),
    subscribe: (o) => client.subscribe(o),
    getSchema: (topic, version) => client.getSchema(topic, version),
    close: () => client.close(),
  };
}

function instrumentProducer(producer: Producer, plan: FaultPlan, life: RelayLife): Producer {
  let broken: PulsarError | undefined;
  return {
    get topic() { return producer.topic; },
    get producerName() { return producer.producerName; },
    get lastSequenceId() { return producer.lastSequenceId; },
    partitionFor: (key: string) => producer.partitionFor(key),
    lastSequenceIdOf: (partition: number) => producer.lastSequenceIdOf(partition),
    get schemaVersion() { return producer.schemaVersion; },
    get maxMessageSize() { return producer.maxMessageSize; },
    send(msg: OutgoingMessage): Promise<SendReceipt> {
      if (broken) return Promise.reject(broken);
      return life.call(plan, 'pulsar:send', () => producer.send(msg), (f) => {
        broken = f.mode === 'refuse'
          ? new PulsarError('TopicTerminatedError', `injected: ${f.mode} at ${f.step} #${f.nth}`)
          : new PulsarError('ConnectionClosed', `injected: ${f.mode} at ${f.step} #${f.nth}`);
        return broken;
      });
    },
    flush: () => (life.dead ? life.crash() : producer.flush()),
    close: () => producer.close(),
  };
}
