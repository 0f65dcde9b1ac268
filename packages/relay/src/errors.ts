// Why a drain run stopped early. None of them is a row's fault: no attempt is counted, the
// run's rows stay in hand with their sequences, and the shard is asked for again shortly.

/** Another relay still holds this shard's producer names: back off, it is draining. */
export class ShardBusyError extends Error {
  readonly code = 'SHARD_BUSY';
  override readonly name = 'ShardBusyError';
}

/** The connection that held the shard's lock was replaced, or the run was fenced off as stalled. */
export class FenceLostError extends Error {
  readonly code = 'FENCE_LOST';
  override readonly name = 'FenceLostError';
}

/**
 * No producer could be created because the broker is unreachable or not ready. Counted as
 * attempts, an outage of a few minutes would park every row.
 */
export class BrokerUnavailableError extends Error {
  readonly code = 'BROKER_UNAVAILABLE';
  override readonly name = 'BrokerUnavailableError';
}

/**
 * A send failed after its message was handed to the producer: the broker may have stored it.
 * Its row keeps its sequence, so the next run re-sends it under the same id and the broker's
 * deduplication decides; given back, a retry under a new id would be stored twice. The run
 * stops there: no higher sequence of that producer may be stored before that is settled.
 */
export class SendOutcomeUnknownError extends Error {
  readonly code = 'SEND_OUTCOME_UNKNOWN';
  override readonly name = 'SendOutcomeUnknownError';
}
