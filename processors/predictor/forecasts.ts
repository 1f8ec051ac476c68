// What the predictor publishes for one feature vector: one Prediction per forecaster (the champion
// model when one serves, and every baseline, whatever the champion is), each carrying a forecast
// distribution of the log return per horizon. The record's top-level fields repeat its first
// (shortest) horizon for readers of schema version 1. Pure code.
import { QUANTILE_LEVELS, distributionProblem, type ForecastDistribution } from '../../core/forecast/distribution.js';
import { BitPredictError } from '../../core/errors.js';
import type { FeatureVector, HorizonForecast, Prediction } from '../../schemas/types.js';

/** One forecaster's forecast of one vector: a distribution per horizon, aligned with `horizons`. */
export interface Forecast {
  name: string;
  version: string;
  isBaseline: boolean;
  horizons: readonly number[];
  distributions: readonly ForecastDistribution[];
}

/** Where the median sits on the published quantile grid. */
const MEDIAN = QUANTILE_LEVELS.indexOf(0.5);

/** The baseline a headline falls back to when no champion serves: the strongest at 1 h (docs/forecasts.md). */
export const HEADLINE_BASELINES: readonly string[] = ['har-rv', 'garch', 'ewma', 'persistence'];

/** The Prediction record of one forecast of f; throws ERR_FORECAST_INVALID for an invalid distribution. */
export function toPrediction(f: FeatureVector, stepMs: number, fc: Forecast, now: number): Prediction {
  if (fc.horizons.length === 0 || fc.horizons.length !== fc.distributions.length)
    throw new BitPredictError('ERR_FORECAST_INVALID', `${fc.name}@${fc.version}: ${fc.distributions.length} distributions for ${fc.horizons.length} horizons`);
  const horizons: HorizonForecast[] = fc.horizons.map((h, i) => {
    const d = fc.distributions[i]!;
    const problem = distributionProblem(d);
    if (problem !== null) throw new BitPredictError('ERR_FORECAST_INVALID', `${fc.name}@${fc.version} horizon ${h}: ${problem}`);
    const median = d.quantiles[MEDIAN]!;
    return {
      horizonSteps: h,
      targetTime: f.eventTime + h * stepMs,
      mean: d.mean,
      scale: d.scale,
      quantiles: d.quantiles.slice(),
      probUp: d.probUp,
      predictedPrice: f.close * Math.exp(median),
    };
  });
  const first = horizons[0]!;
  return {
    symbol: f.symbol,
    interval: f.interval,
    eventTime: f.eventTime,
    targetTime: first.targetTime,
    horizonSteps: first.horizonSteps,
    predictedLogReturn: first.mean,
    predictedPrice: f.close * Math.exp(first.mean),
    probUp: first.probUp,
    modelName: fc.name,
    modelVersion: fc.version,
    isBaseline: fc.isBaseline,
    featureSetVersion: f.featureSetVersion,
    candleIngestedAt: f.candleIngestedAt,
    featuresComputedAt: f.computedAt,
    predictedAt: now,
    quantileLevels: QUANTILE_LEVELS.slice(),
    horizons,
  };
}

/** The headline of a vector's predictions: the champion's, else the first of HEADLINE_BASELINES present. */
export function headline(ps: readonly Prediction[]): Prediction | null {
  const model = ps.find((p) => !p.isBaseline);
  if (model !== undefined) return model;
  for (const name of HEADLINE_BASELINES) {
    const p = ps.find((x) => x.modelName === name);
    if (p !== undefined) return p;
  }
  return ps[0] ?? null;
}
