export * from './symbols.js';
export * from './backoff.js';
export * from './gaps.js';
export * from './parse.js';
export * from './builder.js';
