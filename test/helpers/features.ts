// Reference features for integration tests: the pure domain code (indicator engines per series,
// and an independent naive sentiment aggregate written here) run over everything in the input
// topics, in one pass, as an uninterrupted run would. The Kafka glue under test must produce
// exactly these vectors, once each, whatever crashes, restarts and rebalances happen.
import type { Candle, FeatureVector, ScoredText } from '../../schemas/types.js';
import { featuresFromCandles } from '../../core/features/batch.js';

/** The fields of a vector that depend on the inputs only (not on wall clock or stream timing). */
export type StableFeature = Omit<FeatureVector, 'computedAt' | 'candleIngestedAt' | 'textWatermark'>;

export function stable(f: FeatureVector): StableFeature {
  const { computedAt: _c, candleIngestedAt: _i, textWatermark: _w, ...rest } = f;
  return rest;
}

export const featureKey = (f: { symbol: string; interval: string; eventTime: number }): string => `${f.symbol}:${f.interval}:${f.eventTime}`;

/** Naive point-in-time sentiment over (t - W, t]: filter, then plain sums. */
export function naiveSentiment(texts: ScoredText[], t: number, W: number) {
  const inWindow = texts.filter((x) => x.publishedAt > t - W && x.publishedAt <= t);
  const n = inWindow.length;
  const c = inWindow.map((x) => x.vader.compound);
  const mean = n === 0 ? null : c.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 || mean === null ? null : Math.sqrt(c.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  const fb = inWindow
    .filter((x) => x.finbert !== null)
    .map((x) => (x.finbert as { positive: number; negative: number }).positive - (x.finbert as { positive: number; negative: number }).negative);
  return {
    textCount: n,
    vaderMean: mean,
    vaderStd: std,
    vaderPosShare: n === 0 ? null : c.filter((v) => v >= 0.05).length / n,
    vaderNegShare: n === 0 ? null : c.filter((v) => v <= -0.05).length / n,
    finbertCount: fb.length,
    finbertMean: fb.length === 0 ? null : fb.reduce((a, b) => a + b, 0) / fb.length,
  };
}

/**
 * Indicator fields of every candle, per series in input order, skipping redeliveries; keyed by
 * featureKey. The research path (core/features/batch.ts) runs the same engines as the live processor;
 * its sentiment fields are not used here (compareWithReference checks them with naiveSentiment).
 */
export function referenceIndicators(candles: Candle[]): Map<string, StableFeature> {
  return new Map(featuresFromCandles(candles, [], { windowMs: 1 }).map((f) => [featureKey(f), stable(f)]));
}

const CLOSE = 1e-12;

/** Compares a produced vector with the reference: indicator fields bit for bit, sentiment means to 1e-12 (summation order). */
export function compareWithReference(got: FeatureVector, refIndicators: StableFeature, texts: ScoredText[], W: number): string[] {
  const problems: string[] = [];
  const g = stable(got) as unknown as Record<string, unknown>;
  const r = refIndicators as unknown as Record<string, unknown>;
  const sentiment = naiveSentiment(texts, got.eventTime, W) as Record<string, number | null>;
  for (const [k, v] of Object.entries(g)) {
    if (k in sentiment) {
      const want = sentiment[k] ?? null;
      if (want === null || v === null || k === 'textCount' || k === 'finbertCount') {
        if (v !== want) problems.push(`${k}: got ${String(v)}, want ${String(want)}`);
      } else if (Math.abs((v as number) - want) > CLOSE) problems.push(`${k}: got ${v as number}, want ${want}`);
    } else if (k === 'sentimentWindowMs') {
      if (v !== W) problems.push(`sentimentWindowMs: got ${String(v)}, want ${W}`);
    } else if (!Object.is(v, r[k])) {
      problems.push(`${k}: got ${String(v)}, want ${String(r[k])}`);
    }
  }
  return problems;
}

/** A scored text with the given VADER compound (and FinBERT positive/negative when given). */
export function scoredText(id: string, publishedAt: number, compound: number, finbert: { positive: number; negative: number } | null = null): ScoredText {
  return {
    id,
    source: 'test',
    kind: finbert ? 'news' : 'tweet',
    publishedAt,
    vader: { compound, pos: Math.max(compound, 0), neu: 1 - Math.abs(compound), neg: Math.max(-compound, 0) },
    finbert: finbert ? { ...finbert, neutral: 1 - finbert.positive - finbert.negative, modelId: 'test/tiny', modelVersion: 'abc' } : null,
    vaderVersion: 'test',
    scoredAt: 0,
  };
}

/** Every indicator and sentiment field of a FeatureVector, all null in a bare vector. */
const OPTIONAL_FIELDS = ['return1', 'logReturn1', 'sma10', 'sma20', 'ema12', 'ema26', 'rsi14', 'return4', 'logReturn4', 'return24', 'logReturn24']
  .concat(['sma50', 'ema50', 'macd', 'macdSignal', 'macdHist', 'bbPercentB', 'bbWidth', 'atr14', 'realizedVol24', 'volumeZ20', 'vwap24'])
  .concat(['vaderMean', 'vaderStd', 'vaderPosShare', 'vaderNegShare', 'finbertMean', 'textWatermark']);

/**
 * A valid hourly-shaped vector at eventTime with every indicator and sentiment field null (no texts),
 * close 42,000 unless overridden: for tests of what consumes vectors (predictor, gateway), not of the features.
 */
export function bareFeature(interval: string, eventTime: number, over: Partial<FeatureVector> = {}): FeatureVector {
  return {
    ...Object.fromEntries(OPTIONAL_FIELDS.map((k) => [k, null])),
    symbol: 'BTCUSDT',
    interval,
    eventTime,
    openTime: eventTime - 3_600_000,
    featureSetVersion: 'fs-2',
    close: 42_000,
    volume: 12.5,
    gapBefore: false,
    sentimentWindowMs: 3_600_000,
    textCount: 0,
    finbertCount: 0,
    candleIngestedAt: eventTime + 10,
    computedAt: eventTime + 20,
    ...over,
  } as FeatureVector;
}
