// Why a drain run stopped early. None of them is a row's fault: no attempt is counted, the
// run's rows stay in hand with their sequences, and the shard is asked for again shortly.

/** A reason a drain run stopped early; its name is its class's, its code says which. */
export abstract class DrainStoppedError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another relay still holds this shard's producer names: back off, it is draining. */
export class ShardBusyError extends DrainStoppedError { readonly code = 'SHARD_BUSY'; }

/** The connection that held the shard's lock was replaced, or the run was fenced off as stalled. */
export class FenceLostError extends DrainStoppedError { readonly code = 'FENCE_LOST'; }

/**
 * No producer could be created because the broker is unreachable or not ready. Counted as
 * attempts, an outage of a few minutes would park every row.
 */
export class BrokerUnavailableError extends DrainStoppedError { readonly code = 'BROKER_UNAVAILABLE'; }

/**
 * A send failed after its message was handed to the producer: the broker may have stored it.
 * Its row keeps its sequence, so the next run re-sends it under the same id and the broker's
 * deduplication decides; given back, a retry under a new id would be stored twice. The run
 * stops there: no higher sequence of that producer may be stored before that is settled.
 */
export class SendOutcomeUnknownError extends DrainStoppedError { readonly code = 'SEND_OUTCOME_UNKNOWN'; }
