// Everything: the drizzle-free plans entry, the API's write path and reads (partners,
// integrations, idempotency, appendToOutbox), and the two parts that load drizzle: the
// schema's tables and the migrator.
export * from './sql.ts';
export * from './client.ts';
export * from './migrate.ts';
export * from './outbox.ts';
export * as tables from './schema.ts';
export * from './write-plans.ts';
export * from './partners.ts';
export * from './integrations.ts';
export * from './idempotency.ts';
