import { describe, expect, it } from 'vitest';
import { fitGarch, garchLogLik, garchVarianceSum, nelderMead } from './garch.js';
import { simulateGarch } from './testing.js';
import { LeastSquares } from './har.js';
import { horizonReturn, oneStepReturns } from './returns.js';

describe('one-step returns', () => {
  it('marks gaps and the first candle as null and sums h-step targets', () => {
    const r = oneStepReturns([0, 10, 20, 40, 50], [100, 110, 99, 100, 101], 10);
    expect(r[0]).toBeNull();
    expect(r[1]).toBe(Math.log(110 / 100));
    expect(r[3]).toBeNull(); // 20 -> 40 skips a candle
    expect(r[4]).toBe(Math.log(101 / 100));
    expect(horizonReturn(r, 0, 2)).toBeCloseTo(Math.log(99 / 100), 14);
    expect(horizonReturn(r, 1, 2)).toBeNull(); // spans the gap
    expect(horizonReturn(r, 3, 1)).toBe(r[4]);
    expect(horizonReturn(r, 4, 1)).toBeNull(); // beyond the end
  });

  it('refuses bad closes and times', () => {
    expect(() => oneStepReturns([0, 10], [1, 0], 10)).toThrow(/close 0/);
    expect(() => oneStepReturns([0, 10], [1, Number.NaN], 10)).toThrow(/close NaN/);
    expect(() => oneStepReturns([0, 0], [1, 2], 10)).toThrow(/does not increase/);
    expect(() => oneStepReturns([10, 0], [1, 2], 10)).toThrow(/does not increase/);
    expect(() => oneStepReturns([0, Number.NaN], [1, 2], 10)).toThrow(/not finite/);
    expect(() => oneStepReturns([0], [1, 2], 10)).toThrow(/1 times but 2 closes/);
    expect(() => oneStepReturns([0], [1], 0)).toThrow(/step/);
    expect(oneStepReturns([], [], 10)).toEqual([]);
  });
});

describe('Nelder-Mead and least squares', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const { x } = nelderMead((p) => 100 * (p[1]! - p[0]! ** 2) ** 2 + (1 - p[0]!) ** 2, [-1.2, 1], 0.5, 5000, 1e-16);
    expect(x[0]).toBeCloseTo(1, 4);
    expect(x[1]).toBeCloseTo(1, 4);
  });

  it('recovers exact linear coefficients and zeroes an all-zero regressor', () => {
    const ls = new LeastSquares(3);
    for (let i = 0; i < 20; i++) ls.add(Float64Array.from([1, i, 0]), 2 + 0.5 * i);
    const b = ls.solve();
    expect(b[0]).toBeCloseTo(2, 8);
    expect(b[1]).toBeCloseTo(0.5, 8);
    expect(b[2]).toBe(0);
    expect(() => new LeastSquares(3).solve()).toThrow(/at least 3 rows/);
  });
});

describe('GARCH(1,1)', () => {
  const truth = { omega: 2e-6, alpha: 0.08, beta: 0.9 };

  it('recovers known parameters from a 20,000-step simulation, at a likelihood no lower than the truth', () => {
    const r = simulateGarch(truth, 20_000, 42);
    const fit = fitGarch(r);
    expect(fit.params.alpha).toBeGreaterThan(0.08 - 0.02);
    expect(fit.params.alpha).toBeLessThan(0.08 + 0.02);
    expect(fit.params.beta).toBeGreaterThan(0.9 - 0.03);
    expect(fit.params.beta).toBeLessThan(0.9 + 0.03);
    const vbar = fit.params.omega / (1 - fit.params.alpha - fit.params.beta);
    expect(vbar / 1e-4).toBeGreaterThan(0.8);
    expect(vbar / 1e-4).toBeLessThan(1.25);
    expect(fit.logLik).toBeGreaterThanOrEqual(garchLogLik(r, truth, fit.v0));
    // A perturbed point is worse: the optimum is a local maximum, not a stopping accident.
    expect(fit.logLik).toBeGreaterThan(garchLogLik(r, { ...fit.params, alpha: fit.params.alpha + 0.01 }, fit.v0));
    expect(fit.logLik).toBeGreaterThan(garchLogLik(r, { ...fit.params, beta: fit.params.beta - 0.01 }, fit.v0));
  });

  it('does not depend on the units of the returns', () => {
    const r = simulateGarch(truth, 3000, 5);
    const a = fitGarch(r);
    const b = fitGarch(r.map((x) => x * 100));
    expect(b.params.alpha).toBeCloseTo(a.params.alpha, 6);
    expect(b.params.beta).toBeCloseTo(a.params.beta, 6);
    expect(b.params.omega / 1e4 / a.params.omega).toBeCloseTo(1, 6);
  });

  it('sums the step-ahead variances as the recursion of expectations does', () => {
    const p = { omega: 1e-6, alpha: 0.1, beta: 0.85 };
    const vNext = 3e-5;
    let v = vNext;
    let sum = 0;
    for (let k = 1; k <= 24; k++) {
      sum += v;
      if (k === 1) expect(garchVarianceSum(p, vNext, 1)).toBeCloseTo(vNext, 18);
      if (k === 4) expect(garchVarianceSum(p, vNext, 4) / sum).toBeCloseTo(1, 12);
      v = p.omega + (p.alpha + p.beta) * v; // E[r^2] = v
    }
    expect(garchVarianceSum(p, vNext, 24) / sum).toBeCloseTo(1, 12);
  });

  it('skips gaps and refuses too little or degenerate data', () => {
    const r: (number | null)[] = simulateGarch(truth, 1000, 9);
    r[100] = null;
    expect(Number.isFinite(fitGarch(r).logLik)).toBe(true);
    expect(() => fitGarch([0.01, null, 0.02])).toThrow(/at least 50/);
    expect(() => fitGarch(new Array<number>(100).fill(0))).toThrow(/not all zero/);
    expect(() => fitGarch([...new Array<number>(100).fill(0.01), Number.NaN])).toThrow(/finite/);
  });
});
