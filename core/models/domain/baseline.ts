// Naive baselines, clearly labelled (isBaseline = true). They are what every real model is judged
// against, and what the predictor publishes until the LSTM lands. Pure: `now` is passed in.
import { BitPredictError } from '../../errors.js';
import type { FeatureVector, Prediction } from '../../../schemas/types.js';
import { normalCdf } from './normal.js';
import { seriesKey } from '../../../schemas/keys.js';

export interface PredictionModel {
  readonly name: string;
  readonly version: string;
  readonly isBaseline: boolean;
  /** Keeps per-series (symbol:interval) state internally. Throws ERR_VALIDATION for a vector that
   * is malformed or older than the last one seen for its series. */
  predict(f: FeatureVector, now: number): Prediction;
}

export const PROB_UP_MIN = 0.01;
export const PROB_UP_MAX = 0.99;
export const DEFAULT_HALF_LIFE_STEPS = 24;

function invalid(f: FeatureVector, why: string): never {
  throw new BitPredictError('ERR_VALIDATION', `feature vector ${f.symbol}:${f.interval} at ${f.eventTime}: ${why}`);
}

function checkFeature(f: FeatureVector): void {
  if (!Number.isSafeInteger(f.openTime) || !Number.isSafeInteger(f.eventTime) || f.eventTime <= f.openTime) {
    invalid(f, `times ${f.openTime}..${f.eventTime} are not integer ms with eventTime > openTime`);
  }
  if (!(Number.isFinite(f.close) && f.close > 0)) invalid(f, `close ${f.close} is not a finite number > 0`);
  if (f.logReturn1 !== null && !Number.isFinite(f.logReturn1)) invalid(f, `logReturn1 ${f.logReturn1} is not finite`);
}

function checkHorizon(horizonSteps: number): number {
  if (!Number.isSafeInteger(horizonSteps) || horizonSteps < 1) {
    throw new BitPredictError('ERR_VALIDATION', `horizonSteps ${horizonSteps} is not an integer >= 1`);
  }
  return horizonSteps;
}

function clamp(p: number): number {
  return Math.min(PROB_UP_MAX, Math.max(PROB_UP_MIN, p));
}

interface Model {
  name: string;
  version: string;
  horizonSteps: number;
}

function prediction(model: Model, f: FeatureVector, now: number, predictedLogReturn: number, probUp: number): Prediction {
  // The candle length is eventTime - openTime, so no interval table is needed here.
  const intervalLength = f.eventTime - f.openTime;
  return {
    symbol: f.symbol,
    interval: f.interval,
    eventTime: f.eventTime,
    targetTime: f.eventTime + model.horizonSteps * intervalLength,
    horizonSteps: model.horizonSteps,
    predictedLogReturn,
    predictedPrice: f.close * Math.exp(predictedLogReturn),
    probUp,
    modelName: model.name,
    modelVersion: model.version,
    isBaseline: true,
    featureSetVersion: f.featureSetVersion,
    candleIngestedAt: f.candleIngestedAt,
    featuresComputedAt: f.computedAt,
    predictedAt: now,
    quantileLevels: [],
    horizons: [],
  };
}

/** Tracks the last event time per series so that a redelivered vector is not counted twice and an
 * older one is refused: predicting it from state that already holds later returns would leak the
 * future into the past. Returns true when `f` is new and the state should absorb it. */
function createOrderGuard() {
  const lastEventTime = new Map<string, number>();
  return (f: FeatureVector): boolean => {
    const key = seriesKey(f.symbol, f.interval);
    const last = lastEventTime.get(key);
    if (last !== undefined && f.eventTime < last) invalid(f, `older than the last vector of the series (${last})`);
    lastEventTime.set(key, f.eventTime);
    return last === undefined || f.eventTime > last;
  };
}

/** Tomorrow looks like today: zero return, price unchanged, no view on direction. */
export function createPersistenceBaseline(opts: { horizonSteps?: number } = {}): PredictionModel {
  const model: Model = { name: 'baseline-persistence', version: '1', horizonSteps: checkHorizon(opts.horizonSteps ?? 1) };
  const fresh = createOrderGuard();
  return {
    name: model.name,
    version: model.version,
    isBaseline: true,
    predict(f, now) {
      checkFeature(f);
      fresh(f);
      return prediction(model, f, now, 0, 0.5);
    },
  };
}

interface DriftState {
  /** Returns absorbed so far (nulls at series start and after gaps are skipped). */
  n: number;
  /** Exponentially weighted mean and variance of the one-period log return. */
  m: number;
  v: number;
}

/**
 * EMA drift: per series an exponentially weighted mean m and variance v of the one-period log
 * return (weight halves every `halfLifeSteps` returns). Forecast over h steps: log return m*h and,
 * treating returns as independent with mean m and variance v, P(up) = Phi(m*h / sqrt(v*h)) =
 * Phi(sqrt(h) * m / sqrt(v)) (Phi(m / sqrt(v)) for the default h = 1), clamped to [0.01, 0.99]
 * and 0.5 until two returns have been seen. A gap resets nothing; its null return is skipped.
 */
export function createEmaDriftBaseline(opts: { halfLifeSteps?: number; horizonSteps?: number } = {}): PredictionModel {
  const halfLife = opts.halfLifeSteps ?? DEFAULT_HALF_LIFE_STEPS;
  if (!(Number.isFinite(halfLife) && halfLife > 0)) {
    throw new BitPredictError('ERR_VALIDATION', `halfLifeSteps ${halfLife} is not a finite number > 0`);
  }
  const alpha = 1 - 2 ** (-1 / halfLife);
  const model: Model = { name: 'baseline-ema-drift', version: '1', horizonSteps: checkHorizon(opts.horizonSteps ?? 1) };
  const h = model.horizonSteps;
  const series = new Map<string, DriftState>();
  const fresh = createOrderGuard();

  function absorb(s: DriftState, x: number): void {
    s.n += 1;
    if (s.n === 1) {
      s.m = x;
      s.v = 0;
      return;
    }
    // West's incremental form of the exponentially weighted mean and variance.
    const d = x - s.m;
    s.m += alpha * d;
    s.v = (1 - alpha) * (s.v + alpha * d * d);
  }

  function probUp(s: DriftState): number {
    if (s.n < 2) return 0.5;
    if (s.v <= 0) return s.m > 0 ? PROB_UP_MAX : s.m < 0 ? PROB_UP_MIN : 0.5;
    return clamp(normalCdf((Math.sqrt(h) * s.m) / Math.sqrt(s.v)));
  }

  return {
    name: model.name,
    version: model.version,
    isBaseline: true,
    predict(f, now) {
      checkFeature(f);
      const isNew = fresh(f);
      const key = seriesKey(f.symbol, f.interval);
      let s = series.get(key);
      if (s === undefined) {
        s = { n: 0, m: 0, v: 0 };
        series.set(key, s);
      }
      if (isNew && f.logReturn1 !== null) absorb(s, f.logReturn1);
      return prediction(model, f, now, s.m * h, probUp(s));
    },
  };
}
