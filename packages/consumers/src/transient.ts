// Failures of the database connection rather than of the message: a message that fails only
// for those is redelivered for as long as it takes, never dead-lettered (otherwise a database
// outage longer than the redeliveries would fill the dead-letter topics).

const CONNECTION_CODES = new Set([
  // postgres.js's own
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  // the socket's
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  // SQLSTATE: shutting down, starting up, out of connections, serialization, deadlock
  '57P01', '57P02', '57P03', '53300', '40001', '40P01',
]);

export function isTransientDatabaseError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // SQLSTATE class 08: connection exception.
  return CONNECTION_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}
