// Predictions with forecast distributions (schema version 2) for integration tests: one record
// per forecaster and feature vector, location-scale with a Gaussian shape, every horizon.
import { gaussianShape, locationScale } from '../../core/forecast/distribution.js';
import { toPrediction, type Forecast } from '../../processors/predictor/forecasts.js';
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

/** The forecaster's record for f, built by the predictor's own record builder (predictedAt = f.computedAt). */
export function distributionPrediction(f: FeatureVector, spec: ForecasterSpec, horizons: readonly number[], stepMs: number): Prediction {
  const forecast: Forecast = {
    name: spec.modelName,
    version: spec.modelVersion,
    isBaseline: spec.isBaseline,
    horizons,
    distributions: horizons.map((h) => locationScale(spec.mean(h), spec.scale(h), SHAPE)),
  };
  return toPrediction(f, stepMs, forecast, f.computedAt);
}
