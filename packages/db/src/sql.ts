// The drizzle-free half of @relevo/db, as its own entry (`@relevo/db/sql`): SQL text as pure
// functions and their runners over a postgres.js pool. The relay, the consumers and the
// CLI's outbox commands import only this, so they never load drizzle-orm, which costs
// ~0.5 s and ~75 MiB of a process's memory at start.
export * from './pool.ts';
export * from './query.ts';
export * from './shards.ts';
export * from './commit-channel.ts';
export * from './drain-queue.ts';
export * from './relay-plans.ts';
export * from './relay-layout.ts';
export * from './outbox-admin.ts';
export * from './outbox-queries.ts';
export * from './consumer-audit.ts';
export * from './consumer-inbox.ts';
export * from './consumer-alliances.ts';
