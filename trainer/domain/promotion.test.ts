import { describe, expect, it } from 'vitest';
import { decidePromotion } from './promotion.js';
import { BitPredictError } from '../../core/errors.js';

const baselines = { persistence: 1.2, ewma: 1.05, 'har-rv': 1, garch: 1.1 };

describe('decidePromotion', () => {
  it('with a champion: promotes only with the margin over the champion and no loss to the best baseline', () => {
    const d = decidePromotion({ challenger: 0.98, champion: 1.0, baselines, margin: 0.01 });
    expect(d).toMatchObject({ promote: true, against: 'champion', bestBaseline: { name: 'har-rv', loss: 1 } });
    expect(d.improvement).toBeCloseTo(0.02, 12);
    expect(d.reason).toMatch(/below the champion's 1.0000e\+0 .* not above the best baseline har-rv/);
    // Inside the margin: kept.
    const inside = decidePromotion({ challenger: 0.995, champion: 1, baselines, margin: 0.01 });
    expect(inside).toMatchObject({ promote: false, against: 'champion' });
    expect(inside.reason).toMatch(/is not 1.00 % below the champion's/);
  });

  it('refuses a challenger that beats the champion but not the best baseline', () => {
    const d = decidePromotion({ challenger: 1.02, champion: 1.5, baselines, margin: 0.01 });
    expect(d.promote).toBe(false);
    expect(d.improvement).toBeCloseTo(0.32, 12);
    expect(d.improvementOverBaseline).toBeCloseTo(-0.02, 12);
    expect(d.reason).toMatch(/beats the champion's .* but is worse than the best baseline har-rv 1.0000e\+0/);
    // Equal to the best baseline is "not worse".
    expect(decidePromotion({ challenger: 1, champion: 1.5, baselines, margin: 0.01 }).promote).toBe(true);
  });

  it('without a champion, a challenger must beat the best baseline (not only persistence) by the margin', () => {
    const promoted = decidePromotion({ challenger: 0.9, champion: null, baselines, margin: 0.05 });
    expect(promoted).toMatchObject({ promote: true, against: 'best baseline', bestBaseline: { name: 'har-rv' } });
    expect(promoted.improvement).toBeCloseTo(0.1, 12);
    expect(promoted.reason).toMatch(/^no champion: validation pinball loss 9.0000e-1 is 10.00 % below the best baseline har-rv/);
    expect(promoted.reason).toMatch(/persistence 1.2000e\+0, ewma 1.0500e\+0, har-rv 1.0000e\+0, garch 1.1000e\+0/);
    // Beats persistence by far but HAR-RV only by 3 %: refused at a 5 % margin.
    const refused = decidePromotion({ challenger: 0.97, champion: null, baselines, margin: 0.05 });
    expect(refused).toMatchObject({ promote: false, against: 'best baseline' });
    expect(refused.reason).toMatch(/is not 5.00 % below the best baseline har-rv/);
  });

  it('handles a zero reference without dividing by it', () => {
    expect(decidePromotion({ challenger: 0, champion: null, baselines: { persistence: 0 }, margin: 0 }).promote).toBe(true);
    expect(decidePromotion({ challenger: 0.1, champion: null, baselines: { persistence: 0 }, margin: 0 })).toMatchObject({
      promote: false,
      improvement: -Infinity,
    });
  });

  it('refuses bad inputs with a clear error', () => {
    const bad = (p: Parameters<typeof decidePromotion>[0], re: RegExp): void => {
      expect(() => decidePromotion(p)).toThrow(BitPredictError);
      expect(() => decidePromotion(p)).toThrow(re);
    };
    bad({ challenger: Number.NaN, champion: 1, baselines, margin: 0 }, /challenger = NaN/);
    bad({ challenger: 1, champion: -1, baselines, margin: 0 }, /champion = -1/);
    bad({ challenger: 1, champion: Number.POSITIVE_INFINITY, baselines, margin: 0 }, /champion = Infinity/);
    bad({ challenger: 1, champion: null, baselines: {}, margin: 0 }, /no baseline losses/);
    bad({ challenger: 1, champion: null, baselines: { garch: Number.NaN }, margin: 0 }, /baselines.garch = NaN/);
    bad({ challenger: 1, champion: null, baselines, margin: -0.1 }, /margin = -0.1/);
    bad({ challenger: 1, champion: null, baselines, margin: Number.NaN }, /margin = NaN/);
  });
});
