export * from './config.ts';
export * from './logger.ts';
export * from './pulsar-env.ts';
export * from './redact.ts';
export * from './shutdown.ts';
export * from './tracing.ts';
export * from './ops-server.ts';
