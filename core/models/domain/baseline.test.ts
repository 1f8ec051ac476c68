import { describe, it, expect } from 'vitest';
import { BitPredictError } from '../../errors.js';
import type { FeatureVector } from '../../../schemas/types.js';
import { createEmaDriftBaseline, createPersistenceBaseline } from './baseline.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

function fv(step: number, close: number, logReturn1: number | null, over: Partial<FeatureVector> = {}): FeatureVector {
  const openTime = T0 + step * H;
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: openTime + H,
    openTime,
    featureSetVersion: 'fs-1',
    close,
    volume: 1,
    gapBefore: false,
    return1: logReturn1 === null ? null : Math.expm1(logReturn1),
    logReturn1,
    sma10: null,
    sma20: null,
    ema12: null,
    ema26: null,
    rsi14: null,
    return4: null,
    logReturn4: null,
    return24: null,
    logReturn24: null,
    sma50: null,
    ema50: null,
    macd: null,
    macdSignal: null,
    macdHist: null,
    bbPercentB: null,
    bbWidth: null,
    atr14: null,
    realizedVol24: null,
    volumeZ20: null,
    vwap24: null,
    sentimentWindowMs: null,
    textCount: null,
    vaderMean: null,
    vaderStd: null,
    vaderPosShare: null,
    vaderNegShare: null,
    finbertCount: null,
    finbertMean: null,
    textWatermark: null,
    candleIngestedAt: openTime + H + 3,
    computedAt: openTime + H + 7,
    ...over,
  };
}

function expectValidationError(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BitPredictError);
  expect((err as BitPredictError).code).toBe('ERR_VALIDATION');
  expect((err as Error).message).toMatch(message);
}

describe('persistence baseline', () => {
  it('predicts zero return, the same price and probUp 0.5, with the full envelope', () => {
    const m = createPersistenceBaseline({ horizonSteps: 3 });
    expect(m).toMatchObject({ name: 'baseline-persistence', version: '1', isBaseline: true });
    const f = fv(5, 40_000, 0.01);
    expect(m.predict(f, 123)).toEqual({
      symbol: 'BTCUSDT',
      interval: '1h',
      eventTime: f.eventTime,
      targetTime: f.eventTime + 3 * H,
      horizonSteps: 3,
      predictedLogReturn: 0,
      predictedPrice: 40_000,
      probUp: 0.5,
      modelName: 'baseline-persistence',
      modelVersion: '1',
      isBaseline: true,
      featureSetVersion: 'fs-1',
      candleIngestedAt: f.candleIngestedAt,
      featuresComputedAt: f.computedAt,
      predictedAt: 123,
      quantileLevels: [],
      horizons: [],
    });
  });
});

describe('EMA drift baseline', () => {
  // halfLifeSteps = 1 gives alpha = 1/2, so the expected values can be worked out by hand:
  //   r = 0.01:  m = 0.01,                          v = 0
  //   r = 0.03:  d = 0.02,  m = 0.02,               v = 0.5 * (0 + 0.5 * 0.0004)      = 0.0001
  //   r = -0.01: d = -0.03, m = 0.005,              v = 0.5 * (0.0001 + 0.5 * 0.0009) = 0.000275
  it('tracks the exponentially weighted mean and variance exactly on a hand-made series', () => {
    const m = createEmaDriftBaseline({ halfLifeSteps: 1 });
    expect(m).toMatchObject({ name: 'baseline-ema-drift', version: '1', isBaseline: true });
    const p0 = m.predict(fv(0, 100, null), 1);
    expect(p0).toMatchObject({ predictedLogReturn: 0, predictedPrice: 100, probUp: 0.5, targetTime: fv(0, 100, null).eventTime + H, horizonSteps: 1 });
    const p1 = m.predict(fv(1, 101, 0.01), 2);
    expect(p1.predictedLogReturn).toBeCloseTo(0.01, 15);
    expect(p1.probUp).toBe(0.5);
    expect(p1.predictedPrice).toBeCloseTo(101 * Math.exp(0.01), 10);
    const p2 = m.predict(fv(2, 104, 0.03), 3);
    expect(p2.predictedLogReturn).toBeCloseTo(0.02, 15);
    expect(p2.probUp).toBeCloseTo(0.9772498680518208, 6); // Phi(0.02 / 0.01) = Phi(2)
    const p3 = m.predict(fv(3, 103, -0.01), 4);
    expect(p3.predictedLogReturn).toBeCloseTo(0.005, 15);
    expect(p3.probUp).toBeCloseTo(0.6184876997235025, 6); // Phi(0.005 / sqrt(0.000275)) = Phi(0.30151134)
    expect(p3.predictedPrice).toBeCloseTo(103 * Math.exp(0.005), 10);
    expect(p3).toMatchObject({ predictedAt: 4, featuresComputedAt: fv(3, 103, -0.01).computedAt, candleIngestedAt: fv(3, 103, -0.01).candleIngestedAt });
  });

  it('scales drift and direction with the horizon', () => {
    const m = createEmaDriftBaseline({ halfLifeSteps: 1, horizonSteps: 4 });
    m.predict(fv(0, 100, 0.01), 0);
    const p = m.predict(fv(1, 100, 0.03), 0);
    expect(p.predictedLogReturn).toBeCloseTo(0.08, 15);
    expect(p.targetTime).toBe(fv(1, 100, 0.03).eventTime + 4 * H);
    expect(p.probUp).toBe(0.99); // Phi(sqrt(4) * 2) = Phi(4) > 0.99
  });

  it('skips null returns (series start, gaps) without resetting', () => {
    const a = createEmaDriftBaseline({ halfLifeSteps: 1 });
    const b = createEmaDriftBaseline({ halfLifeSteps: 1 });
    a.predict(fv(0, 100, 0.01), 0);
    a.predict(fv(1, 100, 0.03), 0);
    const pa = a.predict(fv(2, 100, -0.01), 0);
    b.predict(fv(0, 100, 0.01), 0);
    b.predict(fv(1, 100, 0.03), 0);
    const gap = b.predict(fv(5, 100, null, { gapBefore: true }), 0);
    expect(gap.predictedLogReturn).toBeCloseTo(0.02, 15);
    const pb = b.predict(fv(6, 100, -0.01), 0);
    expect(pb.predictedLogReturn).toBe(pa.predictedLogReturn);
    expect(pb.probUp).toBe(pa.probUp);
  });

  it('keeps probUp within [0.01, 0.99], also with zero variance', () => {
    const up = createEmaDriftBaseline();
    up.predict(fv(0, 100, 0.02), 0);
    expect(up.predict(fv(1, 100, 0.02), 0).probUp).toBe(0.99);
    const down = createEmaDriftBaseline();
    down.predict(fv(0, 100, -0.02), 0);
    expect(down.predict(fv(1, 100, -0.02), 0).probUp).toBe(0.01);
    const flat = createEmaDriftBaseline();
    flat.predict(fv(0, 100, 0), 0);
    expect(flat.predict(fv(1, 100, 0), 0).probUp).toBe(0.5);
    const noisy = createEmaDriftBaseline({ halfLifeSteps: 3 });
    for (let i = 0; i < 500; i += 1) {
      const p = noisy.predict(fv(i, 100, Math.sin(i * 1.7) * 0.05 + (i % 50 === 0 ? 0.4 : 0)), 0).probUp;
      expect(p).toBeGreaterThanOrEqual(0.01);
      expect(p).toBeLessThanOrEqual(0.99);
    }
  });

  it('keeps two series apart', () => {
    const m = createEmaDriftBaseline({ halfLifeSteps: 1 });
    m.predict(fv(0, 100, 0.01), 0);
    m.predict(fv(0, 2000, -0.05, { symbol: 'ETHUSDT' }), 0);
    m.predict(fv(0, 100, 0.5, { interval: '1m', eventTime: T0 + 60_000 }), 0);
    const btc = m.predict(fv(1, 100, 0.03), 0);
    expect(btc.predictedLogReturn).toBeCloseTo(0.02, 15);
    expect(btc.probUp).toBeCloseTo(0.9772498680518208, 6);
    const eth = m.predict(fv(1, 2000, -0.07, { symbol: 'ETHUSDT' }), 0);
    expect(eth.predictedLogReturn).toBeCloseTo(-0.06, 15);
    expect(eth.symbol).toBe('ETHUSDT');
  });

  it('does not double-count a redelivered vector and refuses an older one', () => {
    const m = createEmaDriftBaseline({ halfLifeSteps: 1 });
    m.predict(fv(0, 100, 0.01), 0);
    const first = m.predict(fv(1, 100, 0.03), 5);
    const again = m.predict(fv(1, 100, 0.03), 6);
    expect({ ...again, predictedAt: 5 }).toEqual(first);
    expectValidationError(() => m.predict(fv(0, 100, 0.01), 0), /older than the last vector/);
    expect(m.predict(fv(2, 100, -0.01), 0).predictedLogReturn).toBeCloseTo(0.005, 15);
  });

  const bad: Array<[string, Partial<FeatureVector>, RegExp]> = [
    ['NaN close', { close: Number.NaN }, /close NaN/],
    ['zero close', { close: 0 }, /close 0/],
    ['infinite return', { logReturn1: Number.POSITIVE_INFINITY }, /logReturn1 Infinity/],
    ['eventTime not after openTime', { eventTime: T0 }, /eventTime > openTime/],
  ];
  it.each(bad)('rejects %s with ERR_VALIDATION (both baselines)', (_name, over, message) => {
    expectValidationError(() => createEmaDriftBaseline().predict(fv(0, 100, 0.01, over), 0), message);
    expectValidationError(() => createPersistenceBaseline().predict(fv(0, 100, 0.01, over), 0), message);
  });

  it('rejects bad options', () => {
    expectValidationError(() => createEmaDriftBaseline({ halfLifeSteps: 0 }), /halfLifeSteps 0/);
    expectValidationError(() => createEmaDriftBaseline({ halfLifeSteps: Number.NaN }), /halfLifeSteps NaN/);
    expectValidationError(() => createEmaDriftBaseline({ horizonSteps: 1.5 }), /horizonSteps 1.5/);
    expectValidationError(() => createPersistenceBaseline({ horizonSteps: 0 }), /horizonSteps 0/);
  });
});
