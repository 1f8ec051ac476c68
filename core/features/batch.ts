// Features in a batch, for research and backtests: the feature vectors the live feature processor
// would produce for the given candles and scored texts, computed in memory with the SAME code (an
// indicator engine per series, the point-in-time text index, and joinFeature).
//
// The sentiment join sees the text stream complete: every text is in the index before the first
// candle, as in a live run whose text.scored was read to its end before candles were taken (the
// processor's start-up behaviour), so a vector at t aggregates exactly the texts published in
// (t - W, t]. Text ids are deduplicated first-wins in array order, as the live index does in
// arrival order.
import { BitPredictError } from '../errors.js';
import type { Candle, FeatureVector, ScoredText } from '../../schemas/types.js';
import { createIndicatorEngine, type IndicatorEngine } from './indicators.js';
import { createTextIndex, textIndexItemOf } from './text-index.js';
import { joinFeature } from './join.js';
import { seriesKey } from '../../schemas/keys.js';

export interface ResearchFeatureOptions {
  /** W: sentiment window (t - W, t] in ms (the live config's BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS). */
  windowMs: number;
  /** computedAt written into every vector (default 0, so that runs are byte-identical). */
  computedAt?: number;
}

/**
 * One feature vector per candle, in input order (series may be interleaved; each series must be
 * in open-time order). A redelivered candle (same open time as its series' last) is skipped, as
 * live; an older one throws ERR_VALIDATION (live dead-letters it). textWatermark is the largest
 * publishedAt of the texts (the watermark of a complete text stream), or null without texts.
 */
export function featuresFromCandles(candles: readonly Candle[], texts: readonly ScoredText[], opts: ResearchFeatureOptions): FeatureVector[] {
  const W = opts.windowMs;
  if (!Number.isSafeInteger(W) || W <= 0) throw new BitPredictError('ERR_VALIDATION', `windowMs must be a positive safe integer (ms), got ${String(W)}`);
  const computedAt = opts.computedAt ?? 0;
  const index = createTextIndex();
  for (const t of texts) index.add(textIndexItemOf(t));
  const watermark = index.maxPublishedAt;
  const engines = new Map<string, IndicatorEngine>();
  const out: FeatureVector[] = [];
  for (const c of candles) {
    const series = seriesKey(c.symbol, c.interval);
    let engine = engines.get(series);
    if (!engine) {
      engine = createIndicatorEngine();
      engines.set(series, engine);
    }
    const r = engine.update(c, computedAt);
    if (r.kind === 'duplicate') continue;
    if (r.kind === 'out_of_order') {
      throw new BitPredictError(
        'ERR_VALIDATION',
        `out of order: ${series} candle opening ${new Date(c.openTime).toISOString()} comes after ${new Date(r.lastOpenTime).toISOString()}`,
      );
    }
    out.push(joinFeature(r.feature, W, index.aggregate(c.closeTime, W), watermark));
  }
  return out;
}

/** The vectors of one series, sorted by eventTime (the input buildWindows expects). */
export function seriesOf(features: readonly FeatureVector[], symbol: string, interval: string): FeatureVector[] {
  return features.filter((f) => f.symbol === symbol && f.interval === interval).sort((a, b) => a.eventTime - b.eventTime);
}
