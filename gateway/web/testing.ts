// Records for the page's unit tests, in the shapes the gateway sends (schemas/types.ts).
import type { Candle, Feature, Prediction, Score } from './types.js';

export const HOUR = 3_600_000;
export const T0 = Date.UTC(2025, 0, 1);
export const LEVELS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];
/** Standard normal quantiles at LEVELS. */
const Z = [-1.6449, -1.2816, -0.6745, 0, 0.6745, 1.2816, 1.6449];

/** The hourly candle that opens at T0 + i hours. */
export function candle(i: number, close: number, over: Partial<Candle> = {}): Candle {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    openTime: T0 + i * HOUR,
    closeTime: T0 + (i + 1) * HOUR,
    open: close,
    high: close * 1.01,
    low: close * 0.99,
    close,
    volume: 10,
    ...over,
  };
}

/** A normal forecast of the log return with `mean` and `sigma` per horizon step count. */
export function prediction(eventTime: number, close: number, over: Partial<Prediction> = {}, sigma = 0.01, mean = 0.001): Prediction {
  const horizons = [1, 4, 24].map((h) => {
    const s = sigma * Math.sqrt(h);
    const quantiles = Z.map((z) => mean * h + z * s);
    return {
      horizonSteps: h,
      targetTime: eventTime + h * HOUR,
      mean: mean * h,
      scale: s * 0.8,
      quantiles,
      probUp: mean > 0 ? 0.55 : mean < 0 ? 0.45 : 0.5,
      predictedPrice: close * Math.exp(mean * h),
    };
  });
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime,
    targetTime: eventTime + HOUR,
    horizonSteps: 1,
    predictedLogReturn: mean,
    predictedPrice: close * Math.exp(mean),
    probUp: horizons[0]!.probUp,
    modelName: 'lstm',
    modelVersion: 'v7',
    isBaseline: false,
    quantileLevels: LEVELS,
    horizons,
    ...over,
  };
}

export const WINDOW = { '24h': 86_400_000, '7d': 604_800_000, '30d': 2_592_000_000 } as const;

export function score(modelName: string, windowMs: number, over: Partial<Score> = {}): Score {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    modelName,
    modelVersion: 'v7',
    isBaseline: modelName !== 'lstm',
    horizonSteps: 1,
    windowMs,
    eventTime: T0,
    samples: 160,
    missing: 0,
    pinballLoss: 0.002,
    coverage: [
      { level: 0.5, coverage: 0.49, meanWidth: 0.01 },
      { level: 0.8, coverage: 0.78, meanWidth: 0.02 },
      { level: 0.9, coverage: 0.88, meanWidth: 0.03 },
    ],
    skillVsPersistence: 0.06,
    skillVsBestBaseline: 0.02,
    bestBaseline: 'garch',
    computedAt: T0,
    ...over,
  };
}

export function feature(i: number, over: Partial<Feature> = {}): Feature {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: T0 + (i + 1) * HOUR,
    openTime: T0 + i * HOUR,
    close: 100,
    sma10: 100,
    sma20: 100,
    sma50: 99,
    ema12: 100.5,
    ema26: 100.2,
    ema50: 99.5,
    rsi14: 55,
    macd: 0.3,
    macdSignal: 0.2,
    macdHist: 0.1,
    bbWidth: 0.04,
    sentimentWindowMs: 4 * HOUR,
    textCount: 8,
    vaderMean: 0.3,
    ...over,
  };
}
