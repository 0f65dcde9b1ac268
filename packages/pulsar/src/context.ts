import type { ConnectionPool } from './connection-pool.ts';
import type { LookupService } from './lookup.ts';
import type { Logger } from './types.ts';

/** What producers and consumers share with the client that created them. */
export interface ClientContext {
  pool: ConnectionPool;
  lookup: LookupService;
  logger: Logger;
  operationTimeoutMs: number;
  nextProducerId(): number;
  nextConsumerId(): number;
}
