export * from './client.ts';
export * from './migrate.ts';
export * from './outbox.ts';
export * from './shards.ts';
export * from './relay-plans.ts';
export * as tables from './schema.ts';
