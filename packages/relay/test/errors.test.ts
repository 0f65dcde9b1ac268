// The reasons a drain run stops early carry their class's name (logs print it) and a code.
import { expect, it } from 'vitest';
import { BrokerUnavailableError, DrainStoppedError, FenceLostError, SendOutcomeUnknownError, ShardBusyError } from '../src/errors.ts';

it('names each reason after its class, with its code and cause', () => {
  const cause = new Error('socket closed');
  const reasons = [
    [new ShardBusyError('busy'), 'ShardBusyError', 'SHARD_BUSY'],
    [new FenceLostError('fenced'), 'FenceLostError', 'FENCE_LOST'],
    [new BrokerUnavailableError('down', { cause }), 'BrokerUnavailableError', 'BROKER_UNAVAILABLE'],
    [new SendOutcomeUnknownError('unknown'), 'SendOutcomeUnknownError', 'SEND_OUTCOME_UNKNOWN'],
  ] as const;
  for (const [err, name, code] of reasons) {
    expect(err).toBeInstanceOf(DrainStoppedError);
    expect([err.name, err.code, String(err)]).toEqual([name, code, `${name}: ${err.message}`]);
  }
  expect(reasons[2][0].cause).toBe(cause);
});
