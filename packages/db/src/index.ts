export * from './client.ts';
export * from './migrate.ts';
export * from './outbox.ts';
export * as tables from './schema.ts';
