import { lnGamma } from '../forecast/stats.js';
import { describe, expect, it } from 'vitest';
import { isBitPredictError } from '../errors.js';
import { QUANTILE_LEVELS, SHAPE_LEVELS, gaussianShape } from '../forecast/distribution.js';
import { mulberry32 } from '../random.js';
import {
  SIGMA_FLOOR,
  calibrateShapes,
  distributionsOf,
  forecastBlockProblem,
  gaussianForecastBlock,
  headSigma,
  parseForecastBlock,
  pinballLoss,
  studentTMeanAbs,
  studentTNll,
  targetScalesOf,
} from './head.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isBitPredictError(err) ? err.code : `not a BitPredictError: ${String(err)}`;
  }
  return 'no error';
}

/** A standard Student-t draw (normal / sqrt(chi2 / nu)) from uniforms. */
function tDraw(rnd: () => number, nu: number): number {
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  let chi = 0;
  for (let i = 0; i < nu; i++) chi += normal() ** 2;
  return normal() / Math.sqrt(chi / nu);
}

describe('Student-t arithmetic', () => {
  it('lnGamma and E|T| agree with closed forms', () => {
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lnGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(studentTMeanAbs(3)).toBeCloseTo((2 * Math.sqrt(3)) / Math.PI, 12); // nu = 3: 2 sqrt(3) / pi
    expect(studentTMeanAbs(5)).toBeCloseTo(0.949, 3);
    expect(studentTMeanAbs(1e6)).toBeCloseTo(Math.sqrt(2 / Math.PI), 5); // the Gaussian limit
    expect(codeOf(() => studentTMeanAbs(1))).toBe('ERR_FORECAST_INVALID');
    expect(codeOf(() => studentTMeanAbs(Number.NaN))).toBe('ERR_FORECAST_INVALID');
  });

  it('the NLL is minus the log density of the t (nu = 5) at any location and scale', () => {
    // f(y) = Gamma(3) / (sqrt(5 pi) Gamma(5/2) sigma) (1 + z^2 / 5)^-3
    const density = (y: number, mu: number, sigma: number): number => {
      const z = (y - mu) / sigma;
      return (2 / (Math.sqrt(5 * Math.PI) * 1.329340388179137 * sigma)) * (1 + (z * z) / 5) ** -3;
    };
    for (const [y, mu, sigma] of [
      [0, 0, 1],
      [1.3, -0.2, 0.7],
      [-4, 1, 2.5],
    ] as const)
      expect(studentTNll(y, mu, sigma, 5)).toBeCloseTo(-Math.log(density(y, mu, sigma)), 10);
  });

  it('sigma = softplus(raw) + floor, finite and positive for any finite raw', () => {
    expect(headSigma(0)).toBeCloseTo(Math.log(2) + SIGMA_FLOOR, 14);
    expect(headSigma(1.5)).toBeCloseTo(Math.log1p(Math.exp(1.5)) + SIGMA_FLOOR, 14);
    expect(headSigma(800)).toBe(800 + SIGMA_FLOOR);
    expect(headSigma(-800)).toBe(SIGMA_FLOOR);
    expect(Number.isNaN(headSigma(Number.NaN))).toBe(true);
  });

  it('pinball loss: zero at a point mass on y, the mean of tau * |u| or (1 - tau) * |u| otherwise', () => {
    expect(
      pinballLoss(
        0.01,
        QUANTILE_LEVELS.map(() => 0.01),
      ),
    ).toBe(0);
    // All quantiles at 0, y = 1: loss = mean(tau).
    expect(pinballLoss(1, [0, 0], [0.1, 0.9])).toBeCloseTo(0.5, 12);
    // y = -1: loss = mean(1 - tau).
    expect(pinballLoss(-1, [0, 0], [0.1, 0.5])).toBeCloseTo(0.7, 12);
  });
});

describe('target scales and calibration', () => {
  it('targetScalesOf is the RMS of the present labels per horizon; refuses a horizon without labels', () => {
    const y = Float32Array.from([0.01, 0.03, Number.NaN, 0.04, -0.01, Number.NaN]);
    const s = targetScalesOf(y, 3, [1, 4]);
    expect(s[0]).toBeCloseTo(Math.sqrt((1e-4 + 1e-4 + Math.fround(-0.01) ** 2) / 3), 8);
    expect(s[1]).toBeCloseTo(Math.sqrt((Math.fround(0.03) ** 2 + Math.fround(0.04) ** 2) / 2), 8);
    expect(() => targetScalesOf(Float32Array.from([0.01, Number.NaN]), 1, [1, 24])).toThrow(/horizon 24: 0 training labels/);
    expect(() => targetScalesOf(Float32Array.from([0, 0]), 2, [1])).toThrow(/all zero/);
  });

  it('calibrated shapes standardise the residuals: a correct t model gives E|z| = 1 and median 0', () => {
    const rnd = mulberry32(11);
    const n = 4000;
    const block = { horizons: [1, 24], dof: 5, targetScales: [0.01, 0.05] };
    const mu = new Float64Array(n * 2);
    const sigma = new Float64Array(n * 2);
    const y = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 2; k++) {
        mu[i * 2 + k] = 0.3 * (rnd() - 0.5);
        sigma[i * 2 + k] = 0.5 + rnd();
        y[i * 2 + k] = (mu[i * 2 + k]! + sigma[i * 2 + k]! * tDraw(rnd, 5)) * block.targetScales[k]!;
      }
    }
    y[5] = Number.NaN; // a missing label is skipped
    const shapes = calibrateShapes(block, { mu, sigma }, y, n);
    expect(shapes).toHaveLength(2);
    for (const s of shapes) {
      expect(s.z).toHaveLength(SHAPE_LEVELS.length);
      expect(Math.abs(s.z[99]!)).toBeLessThan(0.06); // the median
      const meanAbs = s.z.reduce((a, b) => a + Math.abs(b), 0) / s.z.length;
      expect(meanAbs).toBeGreaterThan(0.9);
      expect(meanAbs).toBeLessThan(1.1);
    }
    expect(() => calibrateShapes(block, { mu, sigma }, y, 10)).toThrow(/horizon 1: cannot calibrate the forecast shape .*at least 20/);
  });
});

describe('distributionsOf', () => {
  const block = gaussianForecastBlock([1, 4], [0.01, 0.02]);

  it('mean = mu * targetScale, scale = sigma * targetScale * E|T_5|, quantiles from the shape', () => {
    const mu = Float64Array.from([0.5, -1, 0, 0]);
    const sigma = Float64Array.from([2, 1, 1, 1]);
    const d = distributionsOf(block, mu, sigma, 0);
    expect(d).toHaveLength(2);
    expect(d[0]!.mean).toBeCloseTo(0.005, 15);
    expect(d[0]!.scale).toBeCloseTo(2 * 0.01 * studentTMeanAbs(5), 15);
    expect(d[1]!.mean).toBeCloseTo(-0.02, 15);
    expect(d[1]!.probUp).toBeLessThan(0.5);
    const g = gaussianShape();
    expect(d[0]!.quantiles[3]).toBeCloseTo(0.005 + d[0]!.scale * g.z[99]!, 12);
    // Window 1 of the same buffers.
    expect(distributionsOf(block, mu, sigma, 1).map((x) => x.mean)).toEqual([0, 0]);
  });

  it('refuses a NaN or non-positive output with ERR_FORECAST_INVALID naming the horizon', () => {
    expect(codeOf(() => distributionsOf(block, [Number.NaN, 0], [1, 1]))).toBe('ERR_FORECAST_INVALID');
    expect(() => distributionsOf(block, [0, 0], [1, 0])).toThrow(/horizon 4: scale 0 is not a positive finite number/);
    expect(() => distributionsOf(block, [0, 0], [1, Number.POSITIVE_INFINITY])).toThrow(/horizon 4/);
  });
});

describe('forecast block checks', () => {
  const good = gaussianForecastBlock([1, 4, 24]);

  it('accepts a good block and checks the output layer size', () => {
    expect(forecastBlockProblem(good)).toBeNull();
    expect(forecastBlockProblem(good, 6)).toBeNull();
    expect(forecastBlockProblem(good, 2)).toMatch(/output layer has 2 units, but forecast.horizons \[1,4,24\] need 6/);
  });

  it.each([
    ['missing (old point-forecast artifact)', undefined, /no forecast block: it is an old point-forecast model; retrain/],
    ['not an object', 'x', /forecast must be an object/],
    ['unsorted horizons', { ...good, horizons: [4, 1, 24] }, /horizons must be ascending positive integers/],
    ['empty horizons', { ...good, horizons: [] }, /horizons must be ascending/],
    ['other quantile grid', { ...good, quantileLevels: [0.1, 0.5, 0.9] }, /are not the published grid/],
    ['bad dof', { ...good, dof: 1 }, /dof must be a finite number > 1/],
    ['NaN target scale', { ...good, targetScales: [0.01, Number.NaN, 0.05] }, /targetScales\[1\] \(horizon 4\) is null/],
    ['zero target scale', { ...good, targetScales: [0.01, 0.02, 0] }, /targetScales\[2\] \(horizon 24\) is 0, not a finite number > 0/],
    ['negative target scale', { ...good, targetScales: [-1, 0.02, 0.05] }, /targetScales\[0\] \(horizon 1\) is -1/],
    ['scales per horizon', { ...good, targetScales: [0.01] }, /one value per horizon \(3\)/],
    ['shapes per horizon', { ...good, shapes: good.shapes.slice(1) }, /one shape per horizon \(3\), got 2/],
    [
      'crossing shape',
      { ...good, shapes: [good.shapes[0], { z: good.shapes[1]!.z.map((v, i) => (i === 50 ? 99 : v)) }, good.shapes[2]] },
      /shapes\[1\] \(horizon 4\): shape quantiles cross/,
    ],
    ['short shape', { ...good, shapes: [{ z: [0, 1] }, good.shapes[1], good.shapes[2]] }, /shapes\[0\] \(horizon 1\): shape has 2 points/],
  ] as const)('refuses %s with ERR_FORECAST_INVALID', (_label, block, re) => {
    const b: unknown = block === undefined ? undefined : JSON.parse(JSON.stringify(block));
    expect(forecastBlockProblem(b)).toMatch(re);
    expect(codeOf(() => parseForecastBlock(b))).toBe('ERR_FORECAST_INVALID');
  });
});
