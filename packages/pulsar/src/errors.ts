// Every failure the client surfaces is a PulsarError with a stable `code`, so callers branch on
// codes instead of parsing messages. Server-side codes keep the names of PulsarApi.proto's ServerError.
const SERVER_ERRORS = [
  'UnknownError', 'MetadataError', 'PersistenceError', 'AuthenticationError', 'AuthorizationError',
  'ConsumerBusy', 'ServiceNotReady', 'ProducerBlockedQuotaExceededError', 'ProducerBlockedQuotaExceededException',
  'ChecksumError', 'UnsupportedVersionError', 'TopicNotFound', 'SubscriptionNotFound', 'ConsumerNotFound',
  'TooManyRequests', 'TopicTerminatedError', 'ProducerBusy', 'InvalidTopicName', 'IncompatibleSchema',
  'ConsumerAssignError', 'TransactionCoordinatorNotFound', 'InvalidTxnStatus', 'NotAllowedError',
  'TransactionConflict', 'TransactionNotFound', 'ProducerFenced',
] as const;

export type ServerErrorCode = (typeof SERVER_ERRORS)[number];
export type ClientErrorCode =
  | 'Timeout' | 'ConnectionClosed' | 'ConnectionError' | 'TlsError' | 'ProtocolError' | 'AlreadyClosed'
  | 'InvalidArgument' | 'MessageTooBig' | 'NotSupported' | 'LookupError' | 'AdminError' | 'InsecureToken';
export type PulsarErrorCode = ServerErrorCode | ClientErrorCode;

export class PulsarError extends Error {
  readonly code: PulsarErrorCode;
  constructor(code: PulsarErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PulsarError';
    this.code = code;
  }
}

export class TimeoutError extends PulsarError {
  constructor(message: string) {
    super('Timeout', message);
    this.name = 'TimeoutError';
  }
}

/** The broker's default maxMessageSize, until its CONNECTED says otherwise. */
export const DEFAULT_MAX_MESSAGE_SIZE = 5 * 1024 * 1024;

/**
 * A payload over the broker's limit is refused before it reaches the wire, its sequence id
 * unused. A caller that must know before it sends anything else asks here.
 */
export function messageTooBig(payload: Uint8Array, maxMessageSize: number): PulsarError | undefined {
  if (payload.length <= maxMessageSize) return undefined;
  return new PulsarError('MessageTooBig', `payload of ${payload.length} bytes exceeds the broker's ${maxMessageSize}`);
}

/** The peer sent bytes that are not a valid Pulsar frame; the connection that carried them is closed. */
export class ProtocolError extends PulsarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ProtocolError', message, options);
    this.name = 'ProtocolError';
  }
}

export function serverError(code: number, message: string): PulsarError {
  return new PulsarError(SERVER_ERRORS[code] ?? 'UnknownError', message || `broker error ${code}`);
}

const RETRIABLE = new Set<PulsarErrorCode>([
  'ConnectionClosed', 'ConnectionError', 'ServiceNotReady', 'TooManyRequests', 'MetadataError',
  'PersistenceError', 'UnknownError', 'Timeout',
]);

/** Errors worth retrying while creating a producer/consumer for the first time. */
export function isRetriable(err: unknown): boolean {
  return err instanceof PulsarError && RETRIABLE.has(err.code);
}

const FATAL_ON_RECONNECT = new Set<PulsarErrorCode>([
  'TopicTerminatedError', 'ProducerFenced', 'IncompatibleSchema', 'AuthorizationError', 'InvalidTopicName',
  'NotAllowedError', 'AlreadyClosed', 'InsecureToken',
]);

/** While re-establishing after a disconnect everything is retried except errors that cannot heal. */
export function isFatalOnReconnect(err: unknown): boolean {
  return err instanceof PulsarError && FATAL_ON_RECONNECT.has(err.code);
}

export function toPulsarError(err: unknown, fallback: PulsarErrorCode = 'ConnectionError'): PulsarError {
  if (err instanceof PulsarError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new PulsarError(fallback, msg, { cause: err });
}

/**
 * True for URLs whose traffic crosses the network in clear text (pulsar://, http://): a token
 * is not sent to them unless the caller allows it explicitly. Config validation asks the same.
 */
export function isPlaintextUrl(url: string): boolean {
  return /^(pulsar|http):\/\//i.test(url.trim());
}
