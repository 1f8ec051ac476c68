import { describe, expect, it } from 'vitest';
import { QUANTILE_LEVELS } from '../../core/forecast/distribution.js';
import { createForecastMonitor, forecastsOf, type Forecast } from './monitor.js';
import type { Prediction, Score } from '../../schemas/types.js';

const H = 3_600_000;
const DAY = 24 * H;
const T0 = Date.UTC(2024, 0, 1);
const S = 'BTCUSDT';
const I = '1h';
// Quantile grids at 5, 10, 25, 50, 75, 90, 95 %.
const NARROW = [-0.02, -0.01, -0.005, 0, 0.005, 0.01, 0.02];
const WIDE = [-0.03, -0.02, -0.01, 0, 0.01, 0.02, 0.03];

function fc(over: Partial<Forecast> & { originTime: number }): Forecast {
  const horizonSteps = over.horizonSteps ?? 1;
  return {
    symbol: S,
    interval: I,
    modelName: 'lstm-attention',
    modelVersion: 'v1',
    isBaseline: false,
    horizonSteps,
    targetTime: over.originTime + horizonSteps * H,
    mean: 0.001,
    scale: 0.01,
    quantiles: NARROW,
    levels: QUANTILE_LEVELS,
    probUp: 0.6,
    ...over,
  };
}
const persistence = (originTime: number, over: Partial<Forecast> = {}): Forecast =>
  fc({ originTime, modelName: 'persistence', modelVersion: 'b1', isBaseline: true, mean: 0, scale: 0.015, quantiles: WIDE, probUp: 0.5, ...over });

/** Closes at T0 + k h with the given one-step log returns (close at T0 = 100). */
function observeReturns(m: ReturnType<typeof createForecastMonitor>, returns: number[], from = 0): void {
  let c = 100;
  m.observe(S, I, T0 + from * H, c);
  returns.forEach((r, k) => {
    c *= Math.exp(r);
    m.observe(S, I, T0 + (from + k + 1) * H, c);
  });
}

const scoreOf = (scores: Score[], model: string, windowMs = DAY, h = 1): Score | undefined =>
  scores.find((s) => s.modelName === model && s.windowMs === windowMs && s.horizonSteps === h);

describe('forecast monitor: proper scores', () => {
  it('scores pinball, QLIKE, squared error, Brier and interval hits by hand, and the skill against persistence', () => {
    const m = createForecastMonitor();
    expect(m.forecast(fc({ originTime: T0 }))).toBe('pending');
    expect(m.forecast(persistence(T0))).toBe('pending');
    observeReturns(m, [0.01]);
    const scores = m.takeChanged(123);
    const model = scoreOf(scores, 'lstm-attention')!;
    // y = 0.01: pinball (0.0015 + 0.002 + 0.00375 + 0.005 + 0.00375 + 0 + 0.0005) / 7
    expect(model.samples).toBe(1);
    expect(model.missing).toBe(0);
    expect(model.pinballLoss).toBeCloseTo(0.0165 / 7, 12);
    expect(model.scaleLoss).toBeCloseTo(Math.log(1e-4) + 1, 9);
    expect(model.meanSquaredError).toBeCloseTo(8.1e-5, 12);
    expect(model.brierScore).toBeCloseTo(0.16, 12);
    // 50 % [-0.005, 0.005] misses 0.01; 80 % [-0.01, 0.01] holds it on its edge; 90 % [-0.02, 0.02] holds it.
    expect(model.coverage.map((c) => [c.level, c.coverage])).toEqual([
      [0.5, 0],
      [0.8, 1],
      [0.9, 1],
    ]);
    expect(model.coverage.map((c) => c.meanWidth)).toEqual([0.01, 0.02, 0.04].map((w) => expect.closeTo(w, 12) as unknown as number));
    // persistence pinball = 0.017 / 7: skill = 1 - 0.0165 / 0.017
    expect(model.skillVsPersistence).toBeCloseTo(1 - 0.0165 / 0.017, 12);
    expect(model.bestBaseline).toBe('persistence');
    expect(model.skillVsBestBaseline).toBeCloseTo(1 - 0.0165 / 0.017, 12);
    expect(model.computedAt).toBe(123);
    expect(model.eventTime).toBe(T0 + H);
    const p = scoreOf(scores, 'persistence')!;
    expect(p.pinballLoss).toBeCloseTo(0.017 / 7, 12);
    expect(p.skillVsPersistence).toBeNull();
    expect(p.isBaseline).toBe(true);
    // One score per window: 24 h, 7 d, 30 d.
    expect(scores.filter((s) => s.modelName === 'lstm-attention').map((s) => s.windowMs)).toEqual([DAY, 7 * DAY, 30 * DAY]);
    expect(m.takeChanged(124)).toEqual([]); // nothing changed since
  });

  it('averages coverage over the window', () => {
    const m = createForecastMonitor();
    m.forecast(fc({ originTime: T0 }));
    m.forecast(fc({ originTime: T0 + H }));
    observeReturns(m, [0.01, -0.03]);
    const s = scoreOf(m.takeChanged(0), 'lstm-attention')!;
    expect(s.samples).toBe(2);
    // -0.03 is below every interval: 50 % 0/2, 80 % 1/2, 90 % 1/2.
    expect(s.coverage.map((c) => c.coverage)).toEqual([0, 0.5, 0.5]);
  });

  it('counts a horizon whose realised candle never arrives as missing, never as a zero loss', () => {
    const m = createForecastMonitor();
    m.observe(S, I, T0, 100);
    m.observe(S, I, T0 + H, 101);
    m.forecast(fc({ originTime: T0 + H })); // target T0 + 2h: that candle never comes
    m.forecast(fc({ originTime: T0, horizonSteps: 4 })); // spans the gap
    m.forecast(fc({ originTime: T0 + 3 * H })); // scored
    expect(m.observe(S, I, T0 + 3 * H, 102)).toEqual({ outcome: 'advanced', resolved: 1 });
    m.observe(S, I, T0 + 4 * H, 102 * Math.exp(0.01));
    const scores = m.takeChanged(0);
    const h1 = scoreOf(scores, 'lstm-attention')!;
    expect(h1.samples).toBe(1);
    expect(h1.missing).toBe(1);
    expect(h1.pinballLoss).toBeCloseTo(0.0165 / 7, 12); // the scored one alone: a zero would halve it
    const h4 = scoreOf(scores, 'lstm-attention', DAY, 4)!;
    expect(h4).toMatchObject({ samples: 0, missing: 1, pinballLoss: null, meanSquaredError: null, coverage: [] });
  });

  it('counts a duplicated forecast once, pending or scored', () => {
    const m = createForecastMonitor();
    expect(m.forecast(fc({ originTime: T0 }))).toBe('pending');
    expect(m.forecast(fc({ originTime: T0, modelVersion: 'again' }))).toBe('duplicate');
    observeReturns(m, [0.01]);
    expect(m.forecast(fc({ originTime: T0 }))).toBe('duplicate');
    expect(m.observe(S, I, T0 + H, 999)).toEqual({ outcome: 'duplicate', resolved: 0 }); // a redelivered vector
    expect(scoreOf(m.takeChanged(0), 'lstm-attention')!.samples).toBe(1);
  });

  it('scores a forecast that arrives after its outcome the same as one that arrived before', () => {
    const before = createForecastMonitor();
    before.forecast(fc({ originTime: T0, horizonSteps: 2 }));
    observeReturns(before, [0.004, 0.006]);
    const after = createForecastMonitor();
    observeReturns(after, [0.004, 0.006]);
    expect(after.forecast(fc({ originTime: T0, horizonSteps: 2 }))).toBe('scored');
    const a = scoreOf(before.takeChanged(0), 'lstm-attention', DAY, 2)!;
    const b = scoreOf(after.takeChanged(0), 'lstm-attention', DAY, 2)!;
    expect(b).toEqual(a);
    expect(a.pinballLoss).toBeCloseTo(0.0165 / 7, 12); // y = ln(close(t+2)/close(t)) = 0.01
  });

  it('keeps rolling windows of target time and trims what no window needs', () => {
    const m = createForecastMonitor();
    const returns = Array.from({ length: 40 * 24 }, (_, k) => (k % 2 === 0 ? 0.01 : -0.005));
    for (let k = 0; k < returns.length; k++) m.forecast(fc({ originTime: T0 + k * H }));
    observeReturns(m, returns);
    const scores = m.takeChanged(0);
    expect(scoreOf(scores, 'lstm-attention', DAY)!.samples).toBe(24);
    expect(scoreOf(scores, 'lstm-attention', 7 * DAY)!.samples).toBe(7 * 24);
    expect(scoreOf(scores, 'lstm-attention', 30 * DAY)!.samples).toBe(30 * 24);
    // 30 d of closes plus the 24 h margin for the longest horizon; nothing pending.
    expect(m.stats().closes).toBeLessThanOrEqual(31 * 24 + 1);
    expect(m.stats().pending).toBe(0);
    // A forecast for a target outside every window is not kept.
    expect(m.forecast(fc({ originTime: T0 }))).toBe('stale');
  });

  it('compares with the best other baseline on the same target times', () => {
    const m = createForecastMonitor();
    for (let k = 0; k < 3; k++) {
      m.forecast(fc({ originTime: T0 + k * H }));
      m.forecast(persistence(T0 + k * H));
      m.forecast(persistence(T0 + k * H, { modelName: 'ewma', quantiles: NARROW }));
    }
    m.forecast(persistence(T0 + 3 * H, { modelName: 'ewma', quantiles: WIDE })); // only ewma has this target
    observeReturns(m, [0.01, 0.01, 0.01, 0.01]);
    const scores = m.takeChanged(0);
    const model = scoreOf(scores, 'lstm-attention')!;
    expect(model.bestBaseline).toBe('ewma');
    expect(model.skillVsBestBaseline).toBeCloseTo(0, 12); // same quantiles on the 3 shared targets
    expect(scoreOf(scores, 'ewma')!.bestBaseline).toBe('persistence'); // the best OTHER baseline
  });

  it('treats a schema-1 prediction as a horizon-1 point forecast scored by squared error', () => {
    const v1: Prediction = {
      symbol: S,
      interval: I,
      eventTime: T0,
      targetTime: T0 + H,
      horizonSteps: 1,
      predictedLogReturn: 0.004,
      predictedPrice: 100,
      probUp: 0.7,
      modelName: 'lstm-attention',
      modelVersion: 'old',
      isBaseline: false,
      featureSetVersion: 'fs',
      candleIngestedAt: 0,
      featuresComputedAt: 0,
      predictedAt: 0,
      quantileLevels: [],
      horizons: [],
    };
    const [f] = forecastsOf(v1);
    expect(f).toMatchObject({ horizonSteps: 1, targetTime: T0 + H, mean: 0.004, scale: null, quantiles: null });
    const m = createForecastMonitor();
    m.forecast(f!);
    m.forecast(persistence(T0));
    observeReturns(m, [0.01]);
    const s = scoreOf(m.takeChanged(0), 'lstm-attention')!;
    expect(s.pinballLoss).toBeNull();
    expect(s.scaleLoss).toBeNull();
    expect(s.coverage).toEqual([]);
    // squared error: model (0.004 - 0.01)^2 = 3.6e-5 against persistence 1e-4
    expect(s.skillVsPersistence).toBeCloseTo(1 - 3.6e-5 / 1e-4, 12);
    const v2 = forecastsOf({
      ...v1,
      quantileLevels: [...QUANTILE_LEVELS],
      horizons: [1, 4].map((h) => ({ horizonSteps: h, targetTime: T0 + h * H, mean: 0, scale: 0.01, quantiles: NARROW, probUp: 0.5, predictedPrice: 100 })),
    });
    expect(v2.map((x) => [x.horizonSteps, x.targetTime, x.quantiles])).toEqual([
      [1, T0 + H, NARROW],
      [4, T0 + 4 * H, NARROW],
    ]);
  });
});

describe('forecast monitor: degradation trigger', () => {
  it('flags the champion when its 7 d pinball exceeds a baseline by the threshold, on its newest version only', () => {
    const m = createForecastMonitor();
    const bad = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08]; // all above the outcome: a biased model
    for (let k = 0; k < 10; k++) {
      m.forecast(fc({ originTime: T0 + k * H, quantiles: bad }));
      m.forecast(persistence(T0 + k * H));
    }
    observeReturns(
      m,
      Array.from({ length: 10 }, () => 0.001),
    );
    expect(m.degradation(S, I, 0.05, 11)).toBeNull(); // too few samples
    const d = m.degradation(S, I, 0.05, 10)!;
    expect(d).toMatchObject({ modelName: 'lstm-attention', modelVersion: 'v1', horizonSteps: 1, against: 'persistence', lossKind: 'pinball', samples: 10 });
    expect(d.relative).toBeGreaterThan(1);
    expect(m.degradation(S, I, d.relative + 0.01, 10)).toBeNull();
    // A new version starts its own record: the old version's losses do not condemn it.
    m.forecast(fc({ originTime: T0 + 10 * H, modelVersion: 'v2' }));
    m.forecast(persistence(T0 + 10 * H));
    observeReturns(m, [0.001], 10);
    expect(m.degradation(S, I, 0.05, 10)).toBeNull();
    expect(m.degradation(S, I, 0.05, 1)).toBeNull(); // v2 is better than persistence here
    expect(m.degradation('ETHUSDT', I, 0.05, 1)).toBeNull();
  });
});

describe('forecast monitor: bad and unusual input', () => {
  it('refuses invalid forecasts and vectors with clear errors', () => {
    const m = createForecastMonitor();
    expect(() => m.forecast(fc({ originTime: T0, quantiles: [0.01, 0, 0, 0, 0, 0, 0] }))).toThrow(/quantiles cross/);
    expect(() => m.forecast(fc({ originTime: T0, scale: 0 }))).toThrow(/scale/);
    expect(() => m.forecast(fc({ originTime: T0, quantiles: [0, 0, 0] }))).toThrow(/3 quantiles for 7 levels/);
    expect(() => m.forecast(fc({ originTime: T0, scale: null, quantiles: null, mean: Number.NaN }))).toThrow(/mean NaN/);
    expect(() => m.forecast(fc({ originTime: T0, targetTime: T0 - H }))).toThrow(/positive multiple/);
    expect(() => m.forecast(fc({ originTime: T0, horizonSteps: 0 }))).toThrow(/horizonSteps/);
    expect(() => m.forecast(fc({ originTime: T0, modelName: '' }))).toThrow(/non-empty/);
    expect(() => m.forecast(fc({ originTime: T0, probUp: 1.5 }))).toThrow(/probUp/);
    expect(() => m.observe(S, I, T0, Number.NaN)).toThrow(/close NaN/);
    expect(() => m.observe(S, I, T0, -1)).toThrow(/positive/);
    expect(() => m.observe(S, I, 1.5, 100)).toThrow(/integer/);
    expect(() => createForecastMonitor({ windowsMs: [] })).toThrow(/windows/);
    expect(() => createForecastMonitor({ windowsMs: [0] })).toThrow(/windows/);
    try {
      m.forecast(fc({ originTime: T0, scale: -1 }));
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_FORECAST_INVALID', retryable: false });
    }
  });

  it('ignores future-dated vectors and forecasts, and takes out-of-order vectors without moving the clock back', () => {
    const m = createForecastMonitor({ now: () => T0 + 10 * H });
    expect(m.observe(S, I, T0 + 1000 * H, 100)).toEqual({ outcome: 'future', resolved: 0 });
    expect(m.forecast(fc({ originTime: T0 + 1000 * H }))).toBe('future');
    expect(m.stats().refusedFuture).toBe(2);
    m.observe(S, I, T0 + 3 * H, 100);
    m.forecast(fc({ originTime: T0 + 3 * H }));
    m.observe(S, I, T0 + 5 * H, 100); // the stream moved past T0 + 4h: that forecast is missing
    expect(m.observe(S, I, T0 + 4 * H, 100)).toEqual({ outcome: 'late', resolved: 0 });
    expect(scoreOf(m.takeChanged(0), 'lstm-attention')).toMatchObject({ samples: 0, missing: 1, eventTime: T0 + 5 * H });
    m.forecast(fc({ originTime: T0 + 5 * H }));
    m.observe(S, I, T0 + 6 * H, 100 * Math.exp(0.01));
    expect(scoreOf(m.takeChanged(0), 'lstm-attention')).toMatchObject({ samples: 1, missing: 1, eventTime: T0 + 6 * H });
  });

  it('does not judge forecasts made from vectors before the first one it saw', () => {
    const m = createForecastMonitor();
    m.forecast(fc({ originTime: T0 }));
    m.observe(S, I, T0 + H, 100);
    expect(m.takeChanged(0)).toEqual([]);
    expect(m.forecast(fc({ originTime: T0 - H }))).toBe('unknown-origin');
  });

  it('caps the pending forecasts, dropping the farthest targets first', () => {
    const m = createForecastMonitor({ maxPending: 2 });
    m.forecast(fc({ originTime: T0 }));
    m.forecast(fc({ originTime: T0 + 100 * H }));
    m.forecast(fc({ originTime: T0 + H }));
    expect(m.stats()).toMatchObject({ pending: 2, droppedPending: 1 });
    observeReturns(m, [0.01, 0.01]);
    expect(scoreOf(m.takeChanged(0), 'lstm-attention')!.samples).toBe(2);
    expect(m.stats().pending).toBe(0);
  });
});
