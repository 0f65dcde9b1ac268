export * from './partner.ts';
export * from './integration.ts';
export * from './events.ts';
export * from './errors.ts';
export * from './decisions.ts';
