import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../errors.js';
import type { ForecastDistribution } from './distribution.js';
import { pitHistogram, reliabilityBins, scoreHorizon, type ScoredItem } from './evaluate.js';
import { christoffersen, dieboldMariano } from './stats.js';
import { pinballLoss, qlike } from './scoring.js';

// A hand-made distribution: quantiles at 0.05..0.95 = -3s..3s in steps of s, scale s, P(up) p.
const dist = (s: number, p = 0.5): ForecastDistribution => ({ mean: 0, scale: s, quantiles: [-3, -2, -1, 0, 1, 2, 3].map((q) => q * s), probUp: p });
const items = (ys: (number | null)[], d: ForecastDistribution, pit = 0.5): ScoredItem[] =>
  ys.map((y, i) => ({ time: i * 3_600_000, d, y, pit: y === null ? null : pit }));

const YS = [0.5, 2.5, -3.5, null, 1.5];

function code(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    return (err as BitPredictError).code;
  }
  throw new Error('expected a BitPredictError');
}

describe('scoreHorizon', () => {
  const run = () =>
    scoreHorizon(
      1,
      [
        { name: 'model', kind: 'model', items: items(YS, dist(1, 0.6)) },
        { name: 'persistence', kind: 'baseline', items: items(YS, dist(2)) },
        { name: 'ewma', kind: 'baseline', items: items(YS, dist(1.5)) },
      ],
      YS.map(() => 0.75),
    );

  it('scores known outcomes only: a gap is counted as missing, never as a zero return', () => {
    const hs = run();
    expect(hs.n).toBe(4);
    expect(hs.missing).toBe(1);
    const m = hs.forecasters[0]!;
    expect(m.summary.n).toBe(4);
    expect(m.summary.missing).toBe(1);
    // (|y| - 1)^2 over 0.5, 2.5, -3.5, 1.5 = .25, 2.25, 6.25, .25
    expect(m.summary.mse).toBeCloseTo(2.25, 12);
    // Brier of P(up) = 0.6: up, up, down, up -> .16, .16, .36, .16
    expect(m.summary.brier).toBeCloseTo(0.21, 12);
    // Climatology P(up) = 0.75: three ups at .0625, one down at .5625
    expect(hs.climatology.brier).toBeCloseTo(0.1875, 12);
    expect(hs.climatology.meanProbUp).toBe(0.75);
  });

  it('computes coverage and width of each central interval, with Kupiec and Christoffersen p-values', () => {
    const c = run().forecasters[0]!.coverage;
    // 50 % = [-1, 1]: 0.5 only; 80 % = [-2, 2]: 0.5 and 1.5; 90 % = [-3, 3]: 0.5, 2.5, 1.5
    expect(c.map((x) => x.coverage)).toEqual([0.25, 0.5, 0.75]);
    expect(c.map((x) => x.meanWidth)).toEqual([2, 4, 6]);
    for (const x of c) expect(x.kupiecP).toBeGreaterThan(0);
    expect(c[1]!.christoffersenCcP).toBeCloseTo(christoffersen([true, false, false, true], 0.8).pValueCc, 12);
  });

  it('for h > 1 the conditional coverage test sees every h-th known outcome only (h-step outcomes overlap)', () => {
    const ys = [0.5, 2.5, -3.5, 1.5, 0.1, -2.5];
    const hs = scoreHorizon(
      2,
      [{ name: 'b', kind: 'baseline', items: items(ys, dist(1)) }],
      ys.map(() => 0.5),
    );
    // 80 % hits: T F F T T F; every 2nd: T F T
    expect(hs.forecasters[0]!.coverage[1]!.christoffersenCcP).toBeCloseTo(christoffersen([true, false, true], 0.8).pValueCc, 12);
  });

  it('runs Diebold-Mariano on each loss against every other baseline (known pairs, h lags) and Brier against climatology', () => {
    const hs = run();
    const m = hs.forecasters[0]!;
    const known = [0.5, 2.5, -3.5, 1.5];
    const pin = (s: number): number[] => known.map((y) => pinballLoss(dist(s).quantiles, y));
    const dm = dieboldMariano(pin(1), pin(2), 1);
    expect(m.dm.persistence?.pinball?.stat).toBeCloseTo(dm.stat, 12);
    expect(m.dm.persistence?.pinball?.n).toBe(4);
    const ql = dieboldMariano(
      known.map((y) => qlike(1, y)),
      known.map((y) => qlike(1.5, y)),
      1,
    );
    expect(m.dm.ewma?.qlike?.pValue).toBeCloseTo(ql.pValue, 12);
    // A baseline is not tested against itself.
    expect(hs.forecasters[1]!.dm.persistence).toBeUndefined();
    expect(hs.forecasters[1]!.dm.ewma).toBeDefined();
    const br = dieboldMariano(
      known.map((y) => (0.6 - (y > 0 ? 1 : 0)) ** 2),
      known.map((y) => (0.75 - (y > 0 ? 1 : 0)) ** 2),
      1,
    );
    expect(m.dmBrierVsClimatology?.stat).toBeCloseTo(br.stat, 12);
  });

  it('names the best baseline per loss (the model is never one)', () => {
    const hs = run();
    // Outcomes of mean |y| = 2: a scale of 2 has the lower MSE of |r|, a scale of 1.5 the lower pinball.
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    const pinOf = (s: number): number => mean([0.5, 2.5, -3.5, 1.5].map((y) => pinballLoss(dist(s).quantiles, y)));
    expect(hs.bestBaseline.pinball).toBe(pinOf(1.5) < pinOf(2) ? 'ewma' : 'persistence');
    expect(hs.bestBaseline.mseAbs).toBe('persistence');
    expect(Object.values(hs.bestBaseline)).not.toContain('model');
  });

  it('skips DM when there are too few pairs for the horizon', () => {
    const hs = scoreHorizon(
      24,
      [
        { name: 'model', kind: 'model', items: items(YS, dist(1)) },
        { name: 'persistence', kind: 'baseline', items: items(YS, dist(2)) },
      ],
      YS.map(() => 0.5),
    );
    expect(hs.forecasters[0]!.dm.persistence).toEqual({});
    expect(hs.forecasters[0]!.dmBrierVsClimatology).toBeNull();
  });

  it('refuses misaligned forecasters, a wrong climatology length, no forecaster, no known outcome and a bad horizon', () => {
    const a = { name: 'a', kind: 'model' as const, items: items(YS, dist(1)) };
    const shifted = { name: 'b', kind: 'baseline' as const, items: items(YS, dist(1)).map((x) => ({ ...x, time: x.time + 1 })) };
    const otherGap = { name: 'c', kind: 'baseline' as const, items: items([0.5, 2.5, -3.5, 0.1, 1.5], dist(1)) };
    const clim = YS.map(() => 0.5);
    expect(code(() => scoreHorizon(1, [a, shifted], clim))).toBe('ERR_VALIDATION');
    expect(code(() => scoreHorizon(1, [a, otherGap], clim))).toBe('ERR_VALIDATION');
    expect(code(() => scoreHorizon(1, [a], [0.5]))).toBe('ERR_VALIDATION');
    expect(code(() => scoreHorizon(1, [], clim))).toBe('ERR_VALIDATION');
    expect(code(() => scoreHorizon(1, [{ ...a, items: items([null, null], dist(1)) }], [0.5, 0.5]))).toBe('ERR_VALIDATION');
    expect(code(() => scoreHorizon(0, [a], clim))).toBe('ERR_VALIDATION');
    expect(code(() => scoreHorizon(Number.NaN, [a], clim))).toBe('ERR_VALIDATION');
    // A known outcome without its PIT value, and an invalid distribution
    expect(code(() => scoreHorizon(1, [{ ...a, items: a.items.map((x) => ({ ...x, pit: null })) }], clim))).toBe('ERR_VALIDATION');
    expect(code(() => scoreHorizon(1, [{ ...a, items: items(YS, { ...dist(1), scale: Number.NaN }) }], clim))).toBe('ERR_FORECAST_INVALID');
    expect(
      code(() =>
        scoreHorizon(
          1,
          [a],
          YS.map(() => 1.5),
        ),
      ),
    ).toBe('ERR_VALIDATION');
  });
});

describe('pitHistogram', () => {
  it('counts PIT values in equal bins, 1 in the last', () => {
    expect(pitHistogram([0, 0.05, 0.95, 1, 0.5])).toEqual([2, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
    expect(pitHistogram([0.2, 0.7], 2)).toEqual([1, 1]);
    expect(pitHistogram([])).toEqual(new Array(10).fill(0));
  });

  it('refuses values outside [0, 1] and NaN', () => {
    expect(code(() => pitHistogram([1.2]))).toBe('ERR_VALIDATION');
    expect(code(() => pitHistogram([Number.NaN]))).toBe('ERR_VALIDATION');
    expect(code(() => pitHistogram([-0.1]))).toBe('ERR_VALIDATION');
  });
});

describe('reliabilityBins', () => {
  it('cuts the sorted forecasts into equal-count bins: mean P(up) and observed up share', () => {
    expect(reliabilityBins([0.4, 0.1, 0.3, 0.2], [true, false, false, true], 2)).toEqual([
      { p: 0.15000000000000002, observed: 0.5, n: 2 },
      { p: 0.35, observed: 0.5, n: 2 },
    ]);
    expect(reliabilityBins([0.9], [true])).toEqual([{ p: 0.9, observed: 1, n: 1 }]);
    expect(reliabilityBins([], [])).toEqual([]);
  });

  it('refuses mismatched lengths and probabilities outside [0, 1]', () => {
    expect(code(() => reliabilityBins([0.5], []))).toBe('ERR_VALIDATION');
    expect(code(() => reliabilityBins([Number.NaN], [true]))).toBe('ERR_VALIDATION');
    expect(code(() => reliabilityBins([1.1], [true]))).toBe('ERR_VALIDATION');
  });
});
