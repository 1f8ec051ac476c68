export * from './ids.js';
export * from './dates.js';
export * from './feed.js';
export * from './x.js';
export * from './csv.js';
