import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.js';
import { QUANTILE_LEVELS, gaussianShape, locationScale, normalQuantile } from './distribution.js';
import { brier, intervalOf, logLoss, pinballLoss, pitValue, qlike, summarise } from './scoring.js';

const Q = [-2, -1, -0.5, 0, 0.5, 1, 2];

describe('pinball loss', () => {
  it('matches a hand-computed case', () => {
    // y = 0.75: u = y - q = 2.75, 1.75, 1.25, .75, .25, -.25, -1.25; losses .05*2.75, .1*1.75,
    // .25*1.25, .5*.75, .75*.25, .1*.25, .05*1.25 = .1375 + .175 + .3125 + .375 + .1875 + .025 + .0625 = 1.275.
    expect(pinballLoss(Q, 0.75)).toBeCloseTo(1.275 / 7, 14);
    expect(pinballLoss([1], 3, [0.5])).toBe(1);
  });

  it('is proper: the true quantiles score better on average than shifted or scaled ones', () => {
    const rnd = mulberry32(3);
    const ys = Array.from({ length: 20_000 }, () => normalQuantile(Math.min(1 - 1e-12, Math.max(1e-12, rnd()))));
    const truth = QUANTILE_LEVELS.map((p) => normalQuantile(p));
    const avg = (q: number[]): number => ys.reduce((s, y) => s + pinballLoss(q, y), 0) / ys.length;
    const best = avg(truth);
    expect(best).toBeLessThan(avg(truth.map((q) => q + 0.2)));
    expect(best).toBeLessThan(avg(truth.map((q) => q * 1.3)));
    expect(best).toBeLessThan(avg(truth.map((q) => q * 0.7)));
  });

  it('refuses bad input', () => {
    expect(() => pinballLoss(Q, Number.NaN)).toThrow(/finite/);
    expect(() => pinballLoss([1, 2], 0)).toThrow(/one quantile per level/);
    expect(() => pinballLoss([], 0, [])).toThrow(/one quantile per level/);
    expect(() => pinballLoss([0, 0, 0, Number.NaN, 0, 0, 0], 0)).toThrow(/non-finite/);
  });
});

describe('intervals, QLIKE, direction, PIT', () => {
  it('builds the central intervals from the grid and refuses others', () => {
    expect(intervalOf(Q, 0.5)).toEqual({ lo: -0.5, hi: 0.5 });
    expect(intervalOf(Q, 0.8)).toEqual({ lo: -1, hi: 1 });
    expect(intervalOf(Q, 0.9)).toEqual({ lo: -2, hi: 2 });
    expect(() => intervalOf(Q, 0.95)).toThrow(/no central 0.95 interval/);
    expect(() => intervalOf(Q, 1.2)).toThrow(/no central/);
    expect(() => intervalOf([1, 2], 0.8)).toThrow(/no central/);
  });

  it('QLIKE is ln(s^2) + y^2 / s^2, finite at y = 0, minimised at s^2 = E[y^2]', () => {
    expect(qlike(0.01, 0.02)).toBeCloseTo(Math.log(1e-4) + 4, 12);
    expect(qlike(0.01, 0)).toBeCloseTo(Math.log(1e-4), 12);
    // For y = +-1 with equal odds E[y^2] = 1: the expected loss at s = 1 beats s = 0.9 and s = 1.1.
    const e = (s: number): number => (qlike(s, 1) + qlike(s, -1)) / 2;
    expect(e(1)).toBeLessThan(e(0.9));
    expect(e(1)).toBeLessThan(e(1.1));
    expect(() => qlike(0, 0.1)).toThrow(/positive/);
    expect(() => qlike(-1, 0.1)).toThrow(/positive/);
    expect(() => qlike(0.1, Infinity)).toThrow(/finite/);
  });

  it('Brier and log loss match hand values and clamp certainty', () => {
    expect(brier(0.7, true)).toBeCloseTo(0.09, 14);
    expect(brier(0.7, false)).toBeCloseTo(0.49, 14);
    expect(logLoss(0.7, true)).toBeCloseTo(-Math.log(0.7), 14);
    expect(logLoss(0.7, false)).toBeCloseTo(-Math.log(0.3), 14);
    expect(logLoss(1, false)).toBeCloseTo(-Math.log(1e-6), 9);
    expect(() => brier(1.1, true)).toThrow(/probability/);
    expect(() => logLoss(Number.NaN, true)).toThrow(/probability/);
  });

  it('PIT is the shape cdf of the standardised outcome', () => {
    const s = gaussianShape();
    expect(pitValue({ mean: 0.001, scale: 0.01 }, s, 0.001)).toBeCloseTo(0.5, 9);
    expect(pitValue({ mean: 0, scale: 0.01 }, s, 1)).toBe(1);
    expect(() => pitValue({ mean: 0, scale: 0 }, s, 0)).toThrow(/positive scale/);
    expect(() => pitValue({ mean: 0, scale: 1 }, s, Number.NaN)).toThrow(/finite/);
  });
});

describe('summarise', () => {
  const d = locationScale(0, 1, { z: gaussianShape().z });
  it('counts missing outcomes without scoring them and averages the rest', () => {
    const items = [
      { d, y: 0.1 },
      { d, y: null },
      { d, y: -3 },
    ];
    const s = summarise(items);
    expect(s.n).toBe(2);
    expect(s.missing).toBe(1);
    expect(s.pinball).toBeCloseTo((pinballLoss(d.quantiles, 0.1) + pinballLoss(d.quantiles, -3)) / 2, 14);
    expect(s.qlike).toBeCloseTo((qlike(1, 0.1) + qlike(1, -3)) / 2, 14);
    expect(s.mse).toBeCloseTo((0.9 * 0.9 + 2 * 2) / 2, 14);
    expect(s.brier).toBeCloseTo((brier(d.probUp, true) + brier(d.probUp, false)) / 2, 14);
    // 0.1 is inside every interval, -3 is outside the 90 % one (q05 = -1.645 * 1.2533 = -2.06).
    expect(s.coverage.map((c) => c.coverage)).toEqual([0.5, 0.5, 0.5]);
    expect(s.coverage[2]!.meanWidth).toBeCloseTo(d.quantiles[6]! - d.quantiles[0]!, 14);
    // The summary without the missing item is the same apart from the count.
    expect({ ...summarise([items[0]!, items[2]!]), missing: 1 }).toEqual(s);
  });

  it('gives nulls when every outcome is missing and refuses bad forecasts or outcomes', () => {
    const s = summarise([{ d, y: null }]);
    expect(s).toMatchObject({ n: 0, missing: 1, pinball: null, qlike: null, mse: null, brier: null, logLoss: null, coverage: [] });
    expect(summarise([])).toMatchObject({ n: 0, missing: 0 });
    expect(() => summarise([{ d: { ...d, scale: -1 }, y: 0 }])).toThrow(/scale/);
    expect(() => summarise([{ d: { ...d, quantiles: [...d.quantiles].reverse() }, y: 0 }])).toThrow(/cross/);
    expect(() => summarise([{ d, y: Number.NaN }])).toThrow(/finite/);
  });

  it('covers about the nominal rates for outcomes drawn from the forecast itself', () => {
    const rnd = mulberry32(11);
    const g = gaussianShape();
    const dd = locationScale(0.002, 0.01, g);
    const sigma = 0.01 * Math.sqrt(Math.PI / 2);
    const items = Array.from({ length: 20_000 }, () => ({ d: dd, y: 0.002 + sigma * normalQuantile(Math.min(1 - 1e-12, Math.max(1e-12, rnd()))) }));
    const s = summarise(items);
    expect(s.coverage[0]!.coverage).toBeCloseTo(0.5, 1);
    expect(Math.abs(s.coverage[1]!.coverage - 0.8)).toBeLessThan(0.01);
    expect(Math.abs(s.coverage[2]!.coverage - 0.9)).toBeLessThan(0.01);
    // MSE of |y| vs the scale is the variance of |y| when the scale is right: sigma^2 (1 - 2/pi).
    expect(s.mse! / (sigma * sigma * (1 - 2 / Math.PI))).toBeCloseTo(1, 1);
  });
});
