import { describe, expect, it } from 'vitest';
import { bollinger, linePoint, parseToggles, sentiment, sentimentColor } from './indicators.js';
import { feature, HOUR, T0 } from './testing.js';

describe('indicators from feature vectors', () => {
  it('rebuilds the Bollinger bands from the 20-candle SMA and the band width', () => {
    // width 0.04 of a middle at 100: upper 102, lower 98.
    expect(bollinger(feature(0, { sma20: 100, bbWidth: 0.04 }))).toEqual({ time: T0, upper: 102, lower: 98 });
    expect(bollinger(feature(0, { bbWidth: null }))).toBeNull();
    expect(bollinger(feature(0, { sma20: null }))).toBeNull();
  });

  it('gives no point for an indicator still warming up', () => {
    expect(linePoint(feature(1, { rsi14: 61 }), 'rsi14')).toEqual({ time: T0 + HOUR, value: 61 });
    expect(linePoint(feature(1, { rsi14: null }), 'rsi14')).toBeNull();
  });

  it('turns the text count of the sentiment window into texts per hour', () => {
    expect(sentiment(feature(0, { textCount: 8, sentimentWindowMs: 4 * HOUR, vaderMean: 0.3 }))).toEqual({ time: T0, perHour: 2, mean: 0.3 });
    expect(sentiment(feature(0, { sentimentWindowMs: null }))).toBeNull();
    expect(sentiment(feature(0, { sentimentWindowMs: 0 }))).toBeNull();
    expect(sentiment(feature(0, { textCount: 0, vaderMean: null }))).toMatchObject({ perHour: 0, mean: null });
  });

  it('colours sentiment green, red or grey', () => {
    expect(sentimentColor(0.5)).toMatch(/^rgba\(63, 185, 80/);
    expect(sentimentColor(-0.5)).toMatch(/^rgba\(248, 81, 73/);
    expect(sentimentColor(0.01)).toBe(sentimentColor(null));
  });

  it('reads toggles from the address, with overlays on by default', () => {
    expect(parseToggles(null)).toEqual({ sma: true, ema: false, bb: true, rsi: false, macd: false, sentiment: false });
    expect(parseToggles('rsi, macd,bogus')).toEqual({ sma: false, ema: false, bb: false, rsi: true, macd: true, sentiment: false });
  });
});
