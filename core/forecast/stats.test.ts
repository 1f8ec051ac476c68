import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.js';
import { normalQuantile } from './distribution.js';
import { betaInc, chiSquareSf, christoffersen, dieboldMariano, gammaQ, kupiec, lnGamma, normalCdf, studentTSf, studentTTwoSided } from './stats.js';

describe('distribution functions', () => {
  it('lnGamma matches factorials and Gamma(1/2) = sqrt(pi)', () => {
    expect(lnGamma(1)).toBeCloseTo(0, 13);
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(lnGamma(101)).toBeCloseTo(363.73937555556347, 9); // ln(100!)
  });

  it('normalCdf matches known quantiles in the body and the tails', () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 13);
    expect(normalCdf(-1.6448536269514722)).toBeCloseTo(0.05, 13);
    expect(normalCdf(1)).toBeCloseTo(0.8413447460685429, 13);
    expect(normalCdf(-3) / 0.0013498980316301035).toBeCloseTo(1, 10);
    expect(normalCdf(-8) / 6.22096057427178e-16).toBeCloseTo(1, 8);
    for (const p of [0.001, 0.2, 0.6, 0.99]) expect(normalCdf(normalQuantile(p))).toBeCloseTo(p, 8);
    expect(() => normalCdf(Number.NaN)).toThrow(/NaN/);
  });

  it('chiSquareSf matches the 5 % and 1 % critical values and closed forms', () => {
    expect(chiSquareSf(3.841458820694124, 1)).toBeCloseTo(0.05, 13);
    expect(chiSquareSf(6.6348966010212145, 1)).toBeCloseTo(0.01, 13);
    expect(chiSquareSf(5.991464547107979, 2)).toBeCloseTo(0.05, 14);
    expect(chiSquareSf(11.070497693516351, 5)).toBeCloseTo(0.05, 12);
    expect(chiSquareSf(124.34211340400407, 100)).toBeCloseTo(0.05, 11);
    // dof 1: P(X > x) = erfc(sqrt(x / 2)) = 2 (1 - Phi(sqrt x)).
    expect(chiSquareSf(2.5, 1)).toBeCloseTo(2 * (1 - normalCdf(Math.sqrt(2.5))), 13);
    expect(chiSquareSf(0, 1)).toBe(1);
    expect(chiSquareSf(-1, 2)).toBe(1);
    expect(() => chiSquareSf(1, 0)).toThrow(/degrees/);
    expect(() => chiSquareSf(Number.NaN, 1)).toThrow(/NaN/);
    expect(() => gammaQ(-1, 1)).toThrow(/incomplete gamma/);
  });

  it('Student-t matches critical values and the closed forms for 1 and 2 dof', () => {
    expect(studentTTwoSided(12.706204736174698, 1)).toBeCloseTo(0.05, 12);
    expect(studentTTwoSided(2.2281388519649385, 10)).toBeCloseTo(0.05, 10);
    expect(studentTTwoSided(1.983971518523552, 100)).toBeCloseTo(0.05, 8); // qt(.975, 100)
    // dof 1 (Cauchy): P(T > t) = 1/2 - atan(t) / pi; dof 2: P(T > t) = (1 - t / sqrt(2 + t^2)) / 2.
    for (const t of [-3, -0.4, 0, 0.7, 5]) {
      expect(studentTSf(t, 1)).toBeCloseTo(0.5 - Math.atan(t) / Math.PI, 13);
      expect(studentTSf(t, 2)).toBeCloseTo((1 - t / Math.sqrt(2 + t * t)) / 2, 13);
    }
    expect(studentTSf(Infinity, 5)).toBe(0);
    expect(() => betaInc(1.5, 1, 1)).toThrow(/incomplete beta/);
    expect(() => studentTSf(1, -1)).toThrow(/degrees/);
  });
});

describe('Kupiec', () => {
  it('matches a hand-computed case', () => {
    // 7 of 10 inside an 80 % interval: lnL0 = 7 ln .8 + 3 ln .2 = -6.3903186, lnL1 = 7 ln .7 + 3 ln .3
    // = -6.1086430, LR = 0.5633512, p = P(chi2_1 > LR) = 0.45293.
    const r = kupiec(7, 10, 0.8);
    expect(r.lr).toBeCloseTo(0.5633512, 6);
    expect(r.pValue).toBeCloseTo(0.45293, 4);
  });

  it('handles hits = 0 and hits = n', () => {
    // all 10 inside: LR = -2 * 10 ln .8 = 4.4628710; none: LR = -2 * 10 ln .2 = 32.1887582.
    expect(kupiec(10, 10, 0.8).lr).toBeCloseTo(4.462871, 6);
    expect(kupiec(10, 10, 0.8).pValue).toBeCloseTo(0.034639, 5);
    expect(kupiec(0, 10, 0.8).lr).toBeCloseTo(32.1887582, 6);
    expect(kupiec(8, 10, 0.8)).toEqual({ lr: 0, pValue: 1 });
  });

  it('refuses bad input', () => {
    expect(() => kupiec(11, 10, 0.8)).toThrow(/hits/);
    expect(() => kupiec(1.5, 10, 0.8)).toThrow(/hits/);
    expect(() => kupiec(0, 0, 0.8)).toThrow(/n >= 1/);
    expect(() => kupiec(5, 10, 1)).toThrow(/nominal/);
    expect(() => kupiec(5, 10, Number.NaN)).toThrow(/nominal/);
  });
});

describe('Christoffersen', () => {
  it('matches a hand-computed clustered case', () => {
    // T T T T T F F F F F: n11 = 4, n10 = 1, n00 = 4, n01 = 0. pi = 4/9; ln L_iid = 4 ln(4/9) +
    // 5 ln(5/9) = -6.1826542; ln L_markov = 4 ln .8 + ln .2 = -2.5020121; LR_ind = 7.3612841.
    // LR_uc (5 of 10 at .8) = -2 (5 ln .8 + 5 ln .2 - 10 ln .5) = 4.4628710; LR_cc = 11.8241552,
    // p_cc = exp(-LR_cc / 2) = 0.0027068.
    const inside = [true, true, true, true, true, false, false, false, false, false];
    const r = christoffersen(inside, 0.8);
    expect(r.lrInd).toBeCloseTo(7.3612841, 6);
    expect(r.lrCc).toBeCloseTo(11.8241552, 6);
    expect(r.pValueCc).toBeCloseTo(0.0027068, 6);
    expect(r.pValueInd).toBeCloseTo(chiSquareSf(7.3612841, 1), 6);
  });

  it('gives LR_ind = 0 when both transition rates equal the overall rate', () => {
    // n11 = 4, n10 = 2, n00 = 1, n01 = 2: pi01 = pi11 = pi = 2/3.
    const r = christoffersen([true, true, false, false, true, true, true, false, true, true], 0.8);
    expect(r.lrInd).toBeCloseTo(0, 12);
    expect(r.lrCc).toBeCloseTo(kupiec(7, 10, 0.8).lr, 12);
  });

  it('accepts all-inside and refuses bad input', () => {
    const r = christoffersen(
      Array.from({ length: 20 }, () => true),
      0.9,
    );
    expect(r.lrInd).toBe(0);
    expect(Number.isFinite(r.lrCc)).toBe(true);
    expect(() => christoffersen([true], 0.8)).toThrow(/at least 2/);
    expect(() => christoffersen([true, 1 as unknown as boolean], 0.8)).toThrow(/boolean/);
  });
});

describe('Diebold-Mariano (HLN)', () => {
  it('matches hand-computed cases at h = 1 and h = 2', () => {
    // d = 1..5, mean 3, gamma0 = 2. h = 1: HLN = sqrt(4/5), stat = sqrt(.8) * 3 / sqrt(2/5) = 3 sqrt 2.
    const a = [1, 2, 3, 4, 5];
    const b = [0, 0, 0, 0, 0];
    const r1 = dieboldMariano(a, b, 1);
    expect(r1.meanDiff).toBe(3);
    expect(r1.stat).toBeCloseTo(3 * Math.sqrt(2), 12);
    // Student-t, 4 dof: F(t) = 1/2 + (3/8) x (1 - x^2 / 3) ... in closed form via x = t / sqrt(4 + t^2):
    // P(|T| > t) = 1 - x (3 - x^2) / 2.
    const x = r1.stat / Math.sqrt(4 + r1.stat * r1.stat);
    expect(r1.pValue).toBeCloseTo(1 - (x * (3 - x * x)) / 2, 12);
    // h = 2: gamma1 = (2 + 0 + 0 + 2) / 5 = 0.8, V = 2 + 2 (1/2) 0.8 = 2.8, HLN = sqrt(2.4 / 5),
    // stat = sqrt(.48) * 3 / sqrt(2.8 / 5) = 3 sqrt(.48 / .56).
    const r2 = dieboldMariano(a, b, 2);
    expect(r2.stat).toBeCloseTo(3 * Math.sqrt(0.48 / 0.56), 12);
    // Swapping A and B flips the sign: negative means A better.
    expect(dieboldMariano(b, a, 2).stat).toBeCloseTo(-r2.stat, 12);
  });

  it('rejects about 5 % of the time under the null with MA(1) loss differences at h = 2', () => {
    const rnd = mulberry32(7);
    const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    let rejections = 0;
    const trials = 400;
    for (let k = 0; k < trials; k++) {
      const e = Array.from({ length: 301 }, gauss);
      const d = e.slice(1).map((v, i) => v + 0.8 * e[i]!); // MA(1), mean 0
      if (dieboldMariano(d, new Array(d.length).fill(0), 2).pValue < 0.05) rejections++;
    }
    // Binomial(400, .05) has sd 4.4; a test ignoring the MA(1) would reject far more often (~17 %).
    expect(rejections).toBeGreaterThan(5);
    expect(rejections).toBeLessThan(40);
  });

  it('handles a constant difference and refuses bad input', () => {
    expect(dieboldMariano([1, 1, 1], [0, 0, 0], 1)).toMatchObject({ stat: Infinity, pValue: 0 });
    expect(dieboldMariano([1, 1, 1], [1, 1, 1], 1)).toMatchObject({ stat: 0, pValue: 1 });
    expect(() => dieboldMariano([1, 2, 3], [1, 2], 1)).toThrow(/length/);
    expect(() => dieboldMariano([1, 2], [1, 2], 1)).toThrow(/at least/);
    expect(() => dieboldMariano([1, 2, 3, 4], [0, 0, 0, 0], 3)).toThrow(/at least 6/);
    expect(() => dieboldMariano([1, Number.NaN, 3], [0, 0, 0], 1)).toThrow(/not finite/);
    expect(() => dieboldMariano([1, 2, 3], [0, 0, 0], 0)).toThrow(/horizon/);
  });
});
