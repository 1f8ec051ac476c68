import { describe, expect, it } from 'vitest';
import { decidePromotion } from './promotion.js';

describe('decidePromotion', () => {
  it('promotes only with the stated margin over the champion', () => {
    expect(decidePromotion({ challengerMse: 0.98, championMse: 1, persistenceMse: 1.2, margin: 0.01 }).promote).toBe(true);
    expect(decidePromotion({ challengerMse: 0.995, championMse: 1, persistenceMse: 1.2, margin: 0.01 }).promote).toBe(false);
    const d = decidePromotion({ challengerMse: 1.1, championMse: 1, persistenceMse: 0.5, margin: 0 });
    expect(d).toMatchObject({ promote: false, against: 'champion' });
    expect(d.improvement).toBeCloseTo(-0.1, 12);
    expect(d.reason).toMatch(/not 0.00 % below the champion/);
  });

  it('without a champion, a model must beat persistence', () => {
    expect(decidePromotion({ challengerMse: 1.01, championMse: null, persistenceMse: 1, margin: 0 })).toMatchObject({ promote: false, against: 'persistence' });
    expect(decidePromotion({ challengerMse: 0.9, championMse: null, persistenceMse: 1, margin: 0.05 })).toMatchObject({
      promote: true,
      against: 'persistence',
    });
  });

  it('refuses nonsense numbers', () => {
    expect(() => decidePromotion({ challengerMse: Number.NaN, championMse: 1, persistenceMse: 1, margin: 0 })).toThrow(/challengerMse/);
    expect(() => decidePromotion({ challengerMse: 1, championMse: -1, persistenceMse: 1, margin: 0 })).toThrow(/championMse/);
  });
});
