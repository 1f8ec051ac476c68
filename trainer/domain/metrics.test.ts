import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../core/errors.js';
import {
  buyAndHold,
  dieboldMariano,
  directionalAccuracy,
  drawdownCurve,
  evaluateForecast,
  logGamma,
  periodsPerYear,
  probabilityMetrics,
  regressionMetrics,
  regularizedIncompleteBeta,
  simulateTrading,
  studentTCdf,
  studentTTwoSidedP,
  wilsonInterval,
} from './metrics.js';

const pred = [0.01, -0.02, 0.03, 0];
const actual = [0.02, -0.01, -0.01, 0.01];

describe('regression metrics', () => {
  it('computes MAE, MSE and RMSE by hand', () => {
    // errors -0.01, -0.01, 0.04, -0.01
    const m = regressionMetrics(pred, actual);
    expect(m.n).toBe(4);
    expect(m.mae).toBeCloseTo(0.07 / 4, 15);
    expect(m.mse).toBeCloseTo(0.0019 / 4, 15);
    expect(m.rmse).toBeCloseTo(Math.sqrt(0.000475), 15);
  });

  it('returns nulls for no data and rejects misaligned or non-finite input', () => {
    expect(regressionMetrics([], [])).toEqual({ n: 0, mae: null, mse: null, rmse: null });
    expect(() => regressionMetrics([1], [1, 2])).toThrow(BitPredictError);
    expect(() => regressionMetrics([NaN], [1])).toThrow(/non-finite value at index 0/);
  });
});

describe('directional accuracy', () => {
  it('counts pred > 0 vs actual > 0, zeros as "not up"', () => {
    // up? pred T F T F(0) ; actual T F F T -> hits at 0, 1
    const d = directionalAccuracy(pred, actual);
    expect(d.hits).toBe(2);
    expect(d.accuracy).toBe(0.5);
    // persistence (all 0) is right exactly when the return is <= 0, including a zero return
    expect(directionalAccuracy([0, 0, 0], [0.1, -0.1, 0]).hits).toBe(2);
  });

  it('uses probUp > 0.5 for direction when given', () => {
    const d = directionalAccuracy(pred, actual, [0.2, 0.2, 0.2, 0.9]);
    // prob up F F F T vs actual T F F T -> 3 hits
    expect(d.hits).toBe(3);
  });

  it('Wilson interval matches textbook values', () => {
    const a = wilsonInterval(8, 10)!;
    expect(a.low).toBeCloseTo(0.4902, 4);
    expect(a.high).toBeCloseTo(0.9433, 4);
    const b = wilsonInterval(0, 10)!;
    expect(b.low).toBe(0);
    expect(b.high).toBeCloseTo(0.2775, 4);
    const c = wilsonInterval(50, 100)!;
    expect(c.low).toBeCloseTo(0.4038, 4);
    expect(c.high).toBeCloseTo(0.5962, 4);
    expect(wilsonInterval(0, 0)).toBeNull();
  });
});

describe('probability metrics', () => {
  it('Brier and log loss by hand', () => {
    const m = probabilityMetrics([0.8, 0.4], [0.01, -0.01]);
    expect(m.brier).toBeCloseTo((0.04 + 0.16) / 2, 15);
    expect(m.logLoss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.6)) / 2, 15);
  });
});

describe('Student t distribution', () => {
  it('matches known values', () => {
    expect(studentTTwoSidedP(2.0, 10)).toBeCloseTo(0.073388, 5);
    expect(studentTTwoSidedP(2.228139, 10)).toBeCloseTo(0.05, 5);
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 12); // Cauchy
    expect(studentTCdf(2, 2)).toBeCloseTo(0.5 + 2 / (2 * Math.sqrt(6)), 12); // closed form df=2
    expect(studentTCdf(-2, 2)).toBeCloseTo(0.5 - 2 / (2 * Math.sqrt(6)), 12);
    expect(studentTCdf(0, 7)).toBeCloseTo(0.5, 14);
    expect(studentTCdf(1.959964, 1e7)).toBeCloseTo(0.975, 6); // -> normal
    expect(studentTTwoSidedP(12.706205, 1)).toBeCloseTo(0.05, 6);
    // df = 3 closed form: 1/2 + (1/pi) [ (t/sqrt3)/(1+t^2/3) + atan(t/sqrt3) ]
    const t = 0.7;
    const u = t / Math.sqrt(3);
    expect(studentTCdf(t, 3)).toBeCloseTo(0.5 + (u / (1 + (t * t) / 3) + Math.atan(u)) / Math.PI, 12);
  });

  it('incomplete beta and log gamma basics', () => {
    expect(regularizedIncompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 14); // uniform
    expect(regularizedIncompleteBeta(0.5, 2, 2)).toBeCloseTo(0.5, 14);
    expect(regularizedIncompleteBeta(0.2, 2, 3)).toBeCloseTo(0.1808, 12); // 1 - sum: 6x^2-8x^3+3x^4
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });
});

describe('Diebold-Mariano', () => {
  const a = [1, -1, 1, -1];
  const p = [0.5, -0.5, 0.5, 0.5];
  // d = e1^2 - e2^2 = [-0.75, -0.75, -0.75, 1.25], dbar = -0.25, gamma0 = 0.75, V = 0.1875

  it('h = 1: plain variance, HLN factor sqrt(3/4), t(3) p-value', () => {
    const r = dieboldMariano(p, a);
    expect(r.meanLossDiff).toBeCloseTo(-0.25, 15);
    expect(r.dm).toBeCloseTo(-0.25 / Math.sqrt(0.1875), 12);
    expect(r.stat).toBeCloseTo(-0.5, 12);
    const u = 0.5 / Math.sqrt(3);
    const cdf = 0.5 + (u / (1 + 0.25 / 3) + Math.atan(u)) / Math.PI;
    expect(r.pValue).toBeCloseTo(2 * (1 - cdf), 10);
    expect(r.note).toBeNull();
  });

  it('h = 2: Newey-West lag-1 autocovariance and HLN correction', () => {
    // gamma1 = (1/4) * (0.25 + 0.25 - 0.75) = -0.0625; V = (0.75 - 0.125)/4 = 0.15625
    const r = dieboldMariano(p, a, undefined, 2);
    expect(r.dm).toBeCloseTo(-0.25 / Math.sqrt(0.15625), 12);
    expect(r.stat).toBeCloseTo((-0.25 / Math.sqrt(0.15625)) * Math.sqrt(1.5 / 4), 12);
  });

  it('uses an explicit benchmark and is antisymmetric', () => {
    const b = [0.2, 0.1, -0.3, 0.4];
    const r1 = dieboldMariano(p, a, b);
    const r2 = dieboldMariano(b, a, p);
    expect(r1.stat).toBeCloseTo(-r2.stat!, 12);
    expect(r1.pValue).toBeCloseTo(r2.pValue!, 12);
  });

  it('a model identical to the benchmark gives stat 0, p 1', () => {
    const r = dieboldMariano([0, 0, 0], [0.1, -0.2, 0.3]);
    expect(r.stat).toBe(0);
    expect(r.pValue).toBe(1);
    expect(r.note).toMatch(/identical/);
  });

  it('a constant non-zero loss differential has no variance: null with a note, not Infinity', () => {
    // |e1| = 2 and |e2| = 1 everywhere -> d = 3 constant
    const r = dieboldMariano([3, -1], [1, 1], [2, 0]);
    expect(r.meanLossDiff).toBe(3);
    expect(r.stat).toBeNull();
    expect(r.pValue).toBeNull();
    expect(r.note).toMatch(/variance/);
    expect(dieboldMariano([1], [1]).stat).toBeNull();
  });

  it('returns null, not Infinity, when h >= n (all autocovariances sum to zero)', () => {
    const r = dieboldMariano([0.5, 0.1, 0.3], [1, -1, 0.2], undefined, 3);
    expect(r.stat).toBeNull();
    expect(r.pValue).toBeNull();
    expect(r.note).toMatch(/horizon/);
  });

  it('rejects a bad horizon', () => {
    expect(() => dieboldMariano(p, a, undefined, 0)).toThrow(/horizon/);
  });
});

describe('trading', () => {
  const tp = [0.1, 0.1, -0.1, 0.1];
  const ta = [0.01, 0.02, -0.03, 0.04];
  const c = -Math.log(1 - 0.001); // 10 bps per side in log terms

  it('long/flat with fees: returns, trades, exposure, drawdown, Sharpe', () => {
    const run = simulateTrading(tp, ta, { feeBps: 10 });
    const r = [0.01 - c, 0.02, -c, 0.04 - c];
    expect(Array.from(run.positions)).toEqual([1, 1, 0, 1]);
    r.forEach((v, i) => expect(run.logReturns[i]).toBeCloseTo(v, 15));
    const s = run.summary;
    expect(s.trades).toBe(3);
    expect(s.exposure).toBe(0.75);
    expect(s.cumLogReturn).toBeCloseTo(0.07 - 3 * c, 15);
    expect(s.totalReturn).toBeCloseTo(Math.exp(0.07 - 3 * c) - 1, 15);
    expect(s.feesLog).toBeCloseTo(3 * c, 15);
    expect(s.maxDrawdown).toBeCloseTo(0.001, 12); // the exit fee is the only fall from a peak
    const mean = r.reduce((x, y) => x + y) / 4;
    const sd = Math.sqrt(r.reduce((x, y) => x + (y - mean) ** 2, 0) / 3);
    expect(s.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(8760), 10);
  });

  it('threshold and long/short', () => {
    expect(Array.from(simulateTrading([0.1, 0.05, -0.2], [0, 0, 0], { threshold: 0.06 }).positions)).toEqual([1, 0, 0]);
    const ls = simulateTrading(tp, ta, { mode: 'long-short', feeBps: 10 });
    expect(Array.from(ls.positions)).toEqual([1, 1, -1, 1]);
    const r = [0.01 - c, 0.02, 0.03 - 2 * c, 0.04 - 2 * c];
    r.forEach((v, i) => expect(ls.logReturns[i]).toBeCloseTo(v, 15));
    expect(ls.summary.trades).toBe(3);
    expect(ls.summary.exposure).toBe(1);
  });

  it('buy-and-hold pays one entry fee and has the market drawdown', () => {
    const bh = buyAndHold(ta, { feeBps: 10 }).summary;
    expect(bh.trades).toBe(1);
    expect(bh.exposure).toBe(1);
    expect(bh.cumLogReturn).toBeCloseTo(0.04 - c, 15);
    expect(bh.maxDrawdown).toBeCloseTo(1 - Math.exp(-0.03), 12);
  });

  it('zero fees, flat all the time: nothing happens and Sharpe is undefined', () => {
    const s = simulateTrading([0, 0], [0.1, -0.1], { feeBps: 0 }).summary;
    expect(s.cumLogReturn).toBe(0);
    expect(s.trades).toBe(0);
    expect(s.sharpe).toBeNull();
    expect(s.maxDrawdown).toBe(0);
  });

  it('drawdown curve and periods per year', () => {
    expect(Array.from(drawdownCurve([Math.log(2), Math.log(0.5), Math.log(1.5)]))).toEqual([0, 0.5, 0.25]);
    expect(periodsPerYear('1h')).toBe(8760);
    expect(periodsPerYear('1d')).toBe(365);
    expect(periodsPerYear('15m')).toBe(35040);
    expect(() => periodsPerYear('hourly')).toThrow(BitPredictError);
    expect(() => simulateTrading([1], [1], { feeBps: -1 })).toThrow(/feeBps/);
  });
});

describe('evaluateForecast', () => {
  it('bundles all metrics, with probability metrics only when probUp is given', () => {
    const m = evaluateForecast({ name: 'x', pred, probUp: [0.6, 0.4, 0.6, 0.4] }, actual);
    expect(m.name).toBe('x');
    expect(m.regression.mae).toBeCloseTo(0.0175, 15);
    expect(m.direction.hits).toBe(2);
    expect(m.directionFromProb?.hits).toBe(2);
    expect(m.probability?.n).toBe(4);
    expect(m.dmVsPersistence.n).toBe(4);
    expect(m.trading.mode).toBe('long-flat');
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
    expect(evaluateForecast({ name: 'p', pred: [0, 0, 0, 0] }, actual).probability).toBeNull();
  });
});
