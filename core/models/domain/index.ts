export { DEFAULT_HALF_LIFE_STEPS, PROB_UP_MAX, PROB_UP_MIN, createEmaDriftBaseline, createPersistenceBaseline, type PredictionModel } from './baseline.js';
export { erf, normalCdf } from './normal.js';
