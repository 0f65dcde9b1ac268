// Everything: the drizzle-free SQL entry, plus the typed write path over drizzle (schema,
// partners, integrations, idempotency, appendToOutbox) and the migrations.
export * from './sql.ts';
export * from './client.ts';
export * from './migrate.ts';
export * from './outbox.ts';
export * as tables from './schema.ts';
export * from './partners.ts';
export * from './integrations.ts';
export * from './idempotency.ts';
