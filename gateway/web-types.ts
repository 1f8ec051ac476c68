// The page (gateway/web) declares the records it reads in gateway/web/types.ts, because it is
// compiled for the browser alone and cannot take schemas/types.ts (which also describes Node-only
// records). This file keeps the two from drifting: `npm run typecheck` fails when what the gateway
// sends (the topics' generated types, the /v1/models answer) no longer fits what the page reads.
// Nothing imports it at run time.
import type * as Page from './web/types.js';
import type { Candle, FeatureVector, HorizonForecast, IntervalCoverage, Prediction, Score } from '../schemas/types.js';
import type { ModelsSnapshot, ModelVersionInfo } from './models-view.js';

type Fits<Sent, Read> = [Sent] extends [Read] ? true : never;

/** Each entry is `true` only if the sent record fits the page's reading of it. */
export const PAGE_READS_WHAT_THE_GATEWAY_SENDS: {
  candle: Fits<Candle, Page.Candle>;
  feature: Fits<FeatureVector, Page.Feature>;
  horizon: Fits<HorizonForecast, Page.HorizonForecast>;
  prediction: Fits<Prediction, Page.Prediction>;
  coverage: Fits<IntervalCoverage, Page.IntervalCoverage>;
  score: Fits<Score, Page.Score>;
  champion: Fits<ModelVersionInfo, Page.Champion>;
  models: Fits<ModelsSnapshot, Omit<Page.ModelsInfo, 'versionCount'>>; // versionCount: the page counts the versions
} = { candle: true, feature: true, horizon: true, prediction: true, coverage: true, score: true, champion: true, models: true };
