// The feature vector at t: one candle's indicators joined with the sentiment of the texts
// published in (t - W, t]. One function for the live feature processor and for research
// (featuresFromCandles), so a backtest computes exactly what the live system publishes.
import type { FeatureVector } from '../../schemas/types.js';
import type { IndicatorFeatures } from './indicators.js';
import type { TextWindowAggregate } from './text-index.js';

/**
 * The feature vector at t: the indicators of the candle joined with the sentiment of (t - W, t].
 * Written out field by field in schema order (not with object spread): one fixed object shape,
 * which Avro encoding and JSON serialisation handle about ten times faster than a spread copy.
 */
export function joinFeature(f: IndicatorFeatures, windowMs: number, agg: TextWindowAggregate, textWatermark: number | null): FeatureVector {
  return {
    symbol: f.symbol,
    interval: f.interval,
    eventTime: f.eventTime,
    openTime: f.openTime,
    featureSetVersion: f.featureSetVersion,
    close: f.close,
    volume: f.volume,
    gapBefore: f.gapBefore,
    return1: f.return1,
    logReturn1: f.logReturn1,
    sma10: f.sma10,
    sma20: f.sma20,
    ema12: f.ema12,
    ema26: f.ema26,
    rsi14: f.rsi14,
    return4: f.return4,
    logReturn4: f.logReturn4,
    return24: f.return24,
    logReturn24: f.logReturn24,
    sma50: f.sma50,
    ema50: f.ema50,
    macd: f.macd,
    macdSignal: f.macdSignal,
    macdHist: f.macdHist,
    bbPercentB: f.bbPercentB,
    bbWidth: f.bbWidth,
    atr14: f.atr14,
    realizedVol24: f.realizedVol24,
    volumeZ20: f.volumeZ20,
    vwap24: f.vwap24,
    sentimentWindowMs: windowMs,
    textCount: agg.textCount,
    vaderMean: agg.vaderMean,
    vaderStd: agg.vaderStd,
    vaderPosShare: agg.vaderPosShare,
    vaderNegShare: agg.vaderNegShare,
    finbertCount: agg.finbertCount,
    finbertMean: agg.finbertMean,
    textWatermark: textWatermark,
    candleIngestedAt: f.candleIngestedAt,
    computedAt: f.computedAt,
  };
}
