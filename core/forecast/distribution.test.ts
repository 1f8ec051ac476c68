import { describe, expect, it } from 'vitest';
import {
  QUANTILE_LEVELS,
  distributionProblem,
  empiricalShape,
  gaussianShape,
  locationScale,
  normalQuantile,
  shapeCdf,
  shapeProblem,
  shapeQuantile,
} from './distribution.js';
import { horizonsFor, horizonsProblem, maxHorizon, parseHorizons } from './horizons.js';

describe('forecast distribution', () => {
  it('normalQuantile matches known values', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 7);
    expect(normalQuantile(0.05)).toBeCloseTo(-1.644853627, 7);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306, 6);
    expect(() => normalQuantile(0)).toThrow(/not in/);
  });

  it('gaussian shape has E|z| = 1 and a Gaussian fan', () => {
    const s = gaussianShape();
    expect(shapeProblem(s)).toBeNull();
    const d = locationScale(0, 0.01, s);
    const sigma = 0.01 * Math.sqrt(Math.PI / 2);
    expect(d.quantiles[3]).toBeCloseTo(0, 12);
    expect(d.quantiles[6]).toBeCloseTo(sigma * 1.644853627, 9);
    expect(d.quantiles[0]).toBeCloseTo(-sigma * 1.644853627, 9);
    expect(d.probUp).toBeCloseTo(0.5, 9);
    expect(distributionProblem(d)).toBeNull();
  });

  it('probUp follows the mean through the shape cdf', () => {
    const s = gaussianShape();
    const sigma = Math.sqrt(Math.PI / 2);
    // mean = scale * sigma * 1 => P(up) = Phi(1 / 1) approximately 0.8413 (interpolated on the grid)
    const d = locationScale(0.01 * sigma, 0.01, s);
    expect(d.probUp).toBeCloseTo(0.8413, 3);
    expect(shapeCdf(s, shapeQuantile(s, 0.3))).toBeCloseTo(0.3, 9);
  });

  it('empirical shape is monotone, order free and refuses tiny samples', () => {
    const xs = Array.from({ length: 500 }, (_, i) => Math.sin(i * 12.9898) * 3);
    const a = empiricalShape(xs);
    const b = empiricalShape([...xs].reverse().concat([NaN, Infinity]));
    expect(a).toEqual(b);
    expect(shapeProblem(a)).toBeNull();
    expect(() => empiricalShape([1, 2, 3])).toThrow(/at least 20/);
  });

  it('flags crossing quantiles, bad scale and NaN', () => {
    const good = locationScale(0, 0.01, gaussianShape());
    expect(distributionProblem({ ...good, scale: 0 })).toMatch(/scale/);
    expect(distributionProblem({ ...good, scale: Number.NaN })).toMatch(/scale/);
    expect(distributionProblem({ ...good, mean: Infinity })).toMatch(/mean/);
    const crossed = good.quantiles.slice();
    crossed[2] = crossed[4]! + 1;
    expect(distributionProblem({ ...good, quantiles: crossed })).toMatch(/cross/);
    expect(distributionProblem({ ...good, quantiles: good.quantiles.slice(1) })).toMatch(/levels/);
    expect(distributionProblem({ ...good, probUp: 1.5 })).toMatch(/probUp/);
    expect(QUANTILE_LEVELS).toEqual([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]);
  });
});

describe('forecast horizons', () => {
  it('parses the default table', () => {
    const t = parseHorizons('1h:1,4,24;1m:1,15');
    expect(horizonsFor(t, '1h')).toEqual([1, 4, 24]);
    expect(horizonsFor(t, '1m')).toEqual([1, 15]);
    expect(horizonsFor(t, '4h')).toEqual([1]);
    expect(maxHorizon(t)).toBe(24);
    expect(parseHorizons(' 1h: 24, 1 ;').get('1h')).toEqual([1, 24]);
  });

  it('refuses malformed specs with a reason', () => {
    expect(() => parseHorizons('')).toThrow(/empty/);
    expect(() => parseHorizons('1h')).toThrow(/interval/);
    expect(() => parseHorizons('1h:0')).toThrow(/integers/);
    expect(() => parseHorizons('1h:1,1')).toThrow(/repeat/);
    expect(() => parseHorizons('1h:1;1h:4')).toThrow(/twice/);
    expect(horizonsProblem('1h:x')).toMatch(/not valid/);
    expect(horizonsProblem('1h:1')).toBeNull();
  });
});
