import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../core/errors.js';
import { mulberry32 } from '../../core/random.js';
import { emaDriftForecast, fitLinear, fitLogistic, lastStepRows, persistenceForecast, predictLinear, predictLogistic } from './baselines.js';

/** Deterministic uniform(-1, 1) generator. */
function rng(seed: number): () => number {
  const u = mulberry32(seed);
  return () => u() * 2 - 1;
}

describe('persistence', () => {
  it('forecasts zero', () => {
    expect(Array.from(persistenceForecast(3))).toEqual([0, 0, 0]);
    expect(() => persistenceForecast(-1)).toThrow(BitPredictError);
  });
});

describe('EMA drift', () => {
  it('uses only earlier targets, seeded with the first, alpha = 2/(span+1)', () => {
    const y = [0.03, -0.03, 0.06, 0.0];
    const t = [1, 2, 3, 4];
    const p = emaDriftForecast(y, t, { span: 2 }); // alpha 2/3
    expect(p[0]).toBe(0);
    expect(p[1]).toBeCloseTo(0.03, 15);
    expect(p[2]).toBeCloseTo(0.03 + (2 / 3) * (-0.03 - 0.03), 15); // -0.01
    expect(p[3]).toBeCloseTo(-0.01 + (2 / 3) * (0.06 + 0.01), 15);
  });

  it('is causal: changing a later target never changes an earlier forecast', () => {
    const y = [0.01, 0.02, -0.01, 0.03, 0.05];
    const t = [10, 20, 30, 40, 50];
    const a = emaDriftForecast(y, t);
    const b = emaDriftForecast([...y.slice(0, 3), 9, 9], t);
    expect(Array.from(b.subarray(0, 4))).toEqual(Array.from(a.subarray(0, 4)));
    expect(b[4]).not.toBe(a[4]);
  });

  it('rejects unsorted times and a bad span', () => {
    expect(() => emaDriftForecast([0, 0], [2, 1])).toThrow(/strictly increase/);
    expect(() => emaDriftForecast([0], [1], { span: 0 })).toThrow(/span/);
  });
});

describe('lastStepRows', () => {
  it('takes the row of the last step of each window', () => {
    // n=2, T=2, F=3
    const X = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const rows = lastStepRows({ n: 2, T: 2, F: 3, X });
    expect(rows.map((r) => Array.from(r))).toEqual([
      [4, 5, 6],
      [10, 11, 12],
    ]);
    expect(() => lastStepRows({ n: 3, T: 2, F: 3, X })).toThrow(/expected n\*T\*F/);
  });
});

describe('ridge regression', () => {
  it('recovers known coefficients from noiseless data with lambda 0', () => {
    const r = rng(1);
    const X: Float64Array[] = [];
    const y: number[] = [];
    for (let i = 0; i < 200; i++) {
      const x = Float64Array.from([r(), r(), r()]);
      X.push(x);
      y.push(0.5 + 2 * x[0]! - 1 * x[1]! + 0.25 * x[2]!);
    }
    const m = fitLinear(X, y, 0);
    expect(m.intercept).toBeCloseTo(0.5, 10);
    expect(m.weights[0]).toBeCloseTo(2, 10);
    expect(m.weights[1]).toBeCloseTo(-1, 10);
    expect(m.weights[2]).toBeCloseTo(0.25, 10);
    const p = predictLinear(m, [Float64Array.from([1, 1, 1])]);
    expect(p[0]).toBeCloseTo(1.75, 10);
  });

  it('shrinks as in the one-feature closed form w = cov/(var + lambda)', () => {
    const X = [[-1], [0], [1]];
    const y = [-2, 1, 4]; // centred x: -1,0,1 (var 2/3); centred y: -3,0,3; cov = 2
    const m = fitLinear(X, y, 0.5);
    expect(m.weights[0]).toBeCloseTo(2 / (2 / 3 + 0.5), 12);
    expect(m.intercept).toBeCloseTo(1, 12); // ybar - xbar w, xbar = 0
  });

  it('refuses singular designs without ridge and bad input', () => {
    expect(() =>
      fitLinear(
        [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
        [1, 2, 3],
        0,
      ),
    ).toThrow(/singular/);
    expect(
      fitLinear(
        [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
        [1, 2, 3],
        1e-3,
      ).weights[0],
    ).toBeCloseTo(0.4995, 3);
    expect(() => fitLinear([[1], [2]], [1], 0)).toThrow(/rows/);
    expect(() => fitLinear([[1], [NaN]], [1, 2], 0)).toThrow(/not finite/);
    expect(() => fitLinear([[1]], [1], -1)).toThrow(/lambda/);
    expect(() => predictLinear(fitLinear([[0], [1]], [0, 1], 0), [[1, 2]])).toThrow(/expects 1/);
  });
});

describe('logistic regression', () => {
  it('recovers known coefficients from a large simulated sample', () => {
    const r = rng(7);
    const X: Float64Array[] = [];
    const y: number[] = [];
    const b0 = -0.3;
    const w = [1.5, -0.8];
    for (let i = 0; i < 20_000; i++) {
      const x = Float64Array.from([r() * 2, r() * 2]);
      const p = 1 / (1 + Math.exp(-(b0 + w[0]! * x[0]! + w[1]! * x[1]!)));
      X.push(x);
      y.push((r() + 1) / 2 < p ? 1 : 0);
    }
    const m = fitLogistic(X, y, { lambda: 0 });
    expect(m.converged).toBe(true);
    expect(m.intercept).toBeCloseTo(b0, 1);
    expect(m.weights[0]).toBeCloseTo(w[0]!, 1);
    expect(m.weights[1]).toBeCloseTo(w[1]!, 1);
    // deterministic: the same data give the same fit bit for bit
    expect(fitLogistic(X, y, { lambda: 0 })).toEqual(m);
  });

  it('intercept-only fit gives the base rate; returns count as up when > 0', () => {
    const m = fitLogistic([[0], [0], [0], [0]], [0.01, -0.02, 0.03, 0.04], { lambda: 1 });
    expect(predictLogistic(m, [[0]])[0]).toBeCloseTo(0.75, 10);
  });

  it('stays finite on separable data thanks to the ridge', () => {
    const m = fitLogistic([[-2], [-1], [1], [2]], [0, 0, 1, 1], { lambda: 0.01 });
    const p = predictLogistic(m, [[-2], [2]]);
    expect(p[0]).toBeLessThan(0.2);
    expect(p[1]).toBeGreaterThan(0.8);
    expect(Number.isFinite(m.weights[0]!)).toBe(true);
  });
});
