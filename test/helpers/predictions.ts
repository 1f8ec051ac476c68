// Predictions with forecast distributions (schema version 2) for integration tests: one record
// per forecaster and feature vector, location-scale with a Gaussian shape, every horizon.
import { QUANTILE_LEVELS, gaussianShape, locationScale } from '../../core/forecast/distribution.js';
import type { FeatureVector, Prediction } from '../../schemas/types.js';

const SHAPE = gaussianShape();

export interface ForecasterSpec {
  modelName: string;
  modelVersion: string;
  isBaseline: boolean;
  /** Forecast mean and scale of the log return over h steps. */
  mean(h: number): number;
  scale(h: number): number;
}

export function distributionPrediction(f: FeatureVector, spec: ForecasterSpec, horizons: readonly number[], stepMs: number): Prediction {
  const hs = horizons.map((h) => {
    const d = locationScale(spec.mean(h), spec.scale(h), SHAPE);
    return {
      horizonSteps: h,
      targetTime: f.eventTime + h * stepMs,
      mean: d.mean,
      scale: d.scale,
      quantiles: d.quantiles,
      probUp: d.probUp,
      predictedPrice: f.close * Math.exp(d.quantiles[3]!),
    };
  });
  const first = hs[0]!;
  return {
    symbol: f.symbol,
    interval: f.interval,
    eventTime: f.eventTime,
    targetTime: first.targetTime,
    horizonSteps: first.horizonSteps,
    predictedLogReturn: first.mean,
    predictedPrice: first.predictedPrice,
    probUp: first.probUp,
    modelName: spec.modelName,
    modelVersion: spec.modelVersion,
    isBaseline: spec.isBaseline,
    featureSetVersion: f.featureSetVersion,
    candleIngestedAt: f.candleIngestedAt,
    featuresComputedAt: f.computedAt,
    predictedAt: f.computedAt,
    quantileLevels: [...QUANTILE_LEVELS],
    horizons: hs,
  };
}
