export * from './backoff.ts';
export * from './config.ts';
export * from './drain.ts';
export * from './errors.ts';
export * from './in-hand.ts';
export * from './message.ts';
export * from './metrics.ts';
export * from './producers.ts';
export * from './retention.ts';
export * from './shard-lease.ts';
export * from './topics.ts';
export * from './worker.ts';
export { runRelayProcess } from './main.ts';

