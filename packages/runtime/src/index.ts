export * from './config.ts';
export * from './logger.ts';
export * from './shutdown.ts';
export * from './tracing.ts';
export * from './ops-server.ts';
