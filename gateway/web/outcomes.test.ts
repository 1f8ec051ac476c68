import { describe, expect, it } from 'vitest';
import { forecastDirection, outcomeOf, pastBand, pastOutcomes, summarise, summaryText } from './outcomes.js';
import { candle, HOUR, LEVELS, prediction, T0 } from './testing.js';

const t = T0 + 2 * HOUR;
// Median +0.1 %, 80 % interval exp(0.001 -+ 1.2816 * 0.01): about 98.83 .. 101.39 from 100.
const p = prediction(t, 100, {}, 0.01, 0.001);
const h1 = p.horizons[0]!;

describe('the outcome of a past forecast', () => {
  it('is inside the 80 % interval and right when the price rose within it', () => {
    const o = outcomeOf(p, h1, 100, 100.8, HOUR)!;
    expect(o).toMatchObject({ inside: true, called: 'up', moved: 'up', right: true, slotTime: t, targetTime: t + HOUR });
    expect(o.lo80).toBeCloseTo(100 * Math.exp(0.001 - 1.2816 * 0.01), 9);
  });

  it('is outside and wrong when the price fell through the lower bound', () => {
    expect(outcomeOf(p, h1, 100, 97, HOUR)).toMatchObject({ inside: false, called: 'up', moved: 'down', right: false });
  });

  it('is outside but right when the price rose past the upper bound', () => {
    expect(outcomeOf(p, h1, 100, 103, HOUR)).toMatchObject({ inside: false, right: true });
  });

  it('counts a close exactly on a bound as inside', () => {
    const hi = 100 * Math.exp(h1.quantiles[5]!);
    expect(outcomeOf(p, h1, 100, hi, HOUR)?.inside).toBe(true);
  });

  it('takes the direction from P(up), and from the median when P(up) is exactly one half', () => {
    expect(forecastDirection(LEVELS, { ...h1, probUp: 0.51 })).toBe('up');
    expect(forecastDirection(LEVELS, { ...h1, probUp: 0.49 })).toBe('down');
    expect(forecastDirection(LEVELS, { ...h1, probUp: 0.5, quantiles: h1.quantiles.map((q) => q - 0.002) })).toBe('down');
    expect(forecastDirection(LEVELS, { ...h1, probUp: 0.5, quantiles: [-3, -2, -1, 0, 1, 2, 3] })).toBe('flat');
  });

  it('a flat forecast (persistence: P(up) 50 %, zero median) calls no direction: neither right nor wrong', () => {
    const flat = { ...h1, probUp: 0.5, quantiles: [-3, -2, -1, 0, 1, 2, 3].map((q) => q / 100) };
    expect(outcomeOf(p, flat, 100, 100.5, HOUR)?.right).toBeNull();
    expect(outcomeOf(p, flat, 100, 100, HOUR)?.right).toBeNull();
    const flats = [100.5, 99, 101].map((r) => outcomeOf(p, flat, 100, r, HOUR)!);
    expect(summarise(flats)).toEqual({ count: 3, inside: 3, called: 0, right: 0 });
    expect(summaryText(summarise(flats), 'persistence', 1, '1h')).toMatch(/3 landed inside .* and none called a direction \(P\(up\) 50 %/);
    const mixed = summarise([...flats, outcomeOf(p, h1, 100, 100.5, HOUR)!, outcomeOf(p, h1, 100, 97, HOUR)!]);
    expect(mixed).toMatchObject({ count: 5, called: 2, right: 1 });
    expect(summaryText(mixed, 'm', 1, '1h')).toMatch(/of the 2 that called a direction, 1 were right \(50 %/);
  });

  it('has no outcome without an 80 % interval or with a realised price that is not a price', () => {
    expect(outcomeOf({ ...p, quantileLevels: [0.25, 0.5, 0.75] }, { ...h1, quantiles: [-1, 0, 1] }, 100, 100, HOUR)).toBeNull();
    for (const bad of [NaN, Infinity, 0, -5]) expect(outcomeOf(p, h1, 100, bad, HOUR), String(bad)).toBeNull();
  });
});

describe('pastOutcomes', () => {
  // Candles 0..5: closes 100, 101, 99, 100, 104, 100 (candle i closes at T0 + (i + 1) h).
  const candles = [100, 101, 99, 100, 104, 100].map((c, i) => candle(i, c));
  const preds = [1, 2, 3, 4, 5, 6].map((k) => prediction(T0 + k * HOUR, 0, {}, 0.01, 0.001));

  it('lists realised forecasts of one forecaster, newest first, and leaves out those still waiting', () => {
    const out = pastOutcomes([...preds, prediction(T0 + 3 * HOUR, 0, { modelName: 'ewma' })], candles, 'lstm', 1, HOUR, 10);
    // The forecast made at T0 + 6 h targets a candle that has not closed.
    expect(out.map((o) => o.eventTime)).toEqual([5, 4, 3, 2, 1].map((k) => T0 + k * HOUR));
    expect(out.every((o) => o.modelName === 'lstm')).toBe(true);
    // The 80 % interval of every forecast: log return 0.001 -+ 0.0128, about -1.18 % .. +1.39 %.
    // Made at the close of candle 3 (100), realised at the close of candle 4 (104): outside, right.
    expect(out[1]).toMatchObject({ origin: 100, realised: 104, inside: false, right: true });
    // Made at the close of candle 1 (101), realised 99 (-2.0 %): outside, wrong.
    expect(out[3]).toMatchObject({ origin: 101, realised: 99, inside: false, right: false });
    // Made at the close of candle 0 (100), realised 101 (+1.0 %): inside, right.
    expect(out[4]).toMatchObject({ origin: 100, realised: 101, inside: true, right: true });
  });

  it('stops at the limit', () => {
    expect(pastOutcomes(preds, candles, 'lstm', 1, HOUR, 2)).toHaveLength(2);
  });

  it('summarises in words, with the share a calibrated forecast would reach', () => {
    const out = pastOutcomes(preds, candles, 'lstm', 1, HOUR, 10);
    const s = summarise(out);
    expect(s).toEqual({ count: 5, inside: out.filter((o) => o.inside).length, called: 5, right: out.filter((o) => o.right).length });
    expect(summaryText(s, 'lstm', 1, '1h')).toMatch(
      /^Of the last 5 forecasts of lstm 1 x 1h ahead, \d landed inside the 80 % interval \(\d+ %; .*called the direction right/,
    );
    expect(summaryText(summarise([]), 'lstm', 1, '1h')).toMatch(/No forecast .* has reached its target candle yet/);
  });

  it('draws the past band at realised targets only, oldest first', () => {
    const band = pastBand(preds, candles, 'lstm', 1, HOUR);
    expect(band.map((b) => b.slotTime)).toEqual([1, 2, 3, 4, 5].map((k) => T0 + k * HOUR));
    for (const b of band) expect(b.lo).toBeLessThan(b.median);
  });
});
