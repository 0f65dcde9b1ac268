// The drizzle-free half of @relevo/db, as its own entry (`@relevo/db/sql`): plans (SQL text
// and values built together) and their runners over a postgres.js pool. The relay, the consumers and the
// CLI's outbox commands import only this, so they never load drizzle-orm and its start-up
// time and memory (test/entry-imports.test.ts).
export * from './pool.ts';
export * from './query.ts';
export * from './shards.ts';
export * from './outbox-states.ts';
export * from './commit-channel.ts';
export * from './boss-database.ts';
export * from './drain-queue.ts';
export * from './relay-plans.ts';
export * from './relay-layout.ts';
export * from './outbox-admin.ts';
export * from './outbox-queries.ts';
export * from './consumer-audit.ts';
export * from './consumer-inbox.ts';
export * from './consumer-alliances.ts';
export * from './storable-text.ts';
export * from './ops-plans.ts';
