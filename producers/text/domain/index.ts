export * from './feed.js';
export * from './x.js';
