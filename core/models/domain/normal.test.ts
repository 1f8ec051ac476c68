import { describe, it, expect } from 'vitest';
import { erf, normalCdf } from './normal.js';

describe('normalCdf', () => {
  it('matches tabulated values within the Abramowitz-Stegun error bound', () => {
    const table: Array<[number, number]> = [
      [0, 0.5],
      [1, 0.8413447460685429],
      [-1, 0.15865525393145707],
      [1.96, 0.9750021048517795],
      [2, 0.9772498680518208],
      [-2.5758293035489, 0.005],
      [3, 0.9986501019683699],
      [0.5, 0.6914624612740131],
    ];
    for (const [z, p] of table) expect(Math.abs(normalCdf(z) - p), `Phi(${z})`).toBeLessThan(7.5e-8);
  });
  it('is symmetric, monotone and handles infinities and NaN', () => {
    for (const z of [0.1, 0.7, 1.3, 2.2, 4]) expect(normalCdf(z) + normalCdf(-z)).toBeCloseTo(1, 12);
    let prev = 0;
    for (let z = -6; z <= 6; z += 0.25) {
      const p = normalCdf(z);
      expect(p).toBeGreaterThanOrEqual(prev);
      prev = p;
    }
    expect(normalCdf(Number.POSITIVE_INFINITY)).toBe(1);
    expect(normalCdf(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(normalCdf(Number.NaN)).toBeNaN();
    expect(erf(0)).toBeCloseTo(0, 8);
  });
});
