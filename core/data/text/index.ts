export * from './ids.js';
export * from './dates.js';
export * from './csv.js';
export type { TextDraft } from './draft.js';
export * from './files.js';
export * from './generic.js';
