export * from './routing.ts';
export * from './schemas.ts';
export * from './envelope.ts';
export * from './codec.ts';
export { MalformedAvroError, checkAvroBounds, decodeUntrusted } from './bounded-decode.ts';
export * from './dead-letters.ts';
