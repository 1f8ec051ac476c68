import { describe, expect, it } from 'vitest';
import { chooseForecaster, fanHorizon, fanOf, intervalMs, latestOf, originClose, quantileAt } from './forecast.js';
import { candle, HOUR, prediction, score, T0, WINDOW } from './testing.js';

describe('intervalMs', () => {
  it('reads the gateway intervals and refuses anything else', () => {
    expect(intervalMs('1m')).toBe(60_000);
    expect(intervalMs('15m')).toBe(900_000);
    expect(intervalMs('1h')).toBe(HOUR);
    expect(intervalMs('4h')).toBe(4 * HOUR);
    expect(intervalMs('1d')).toBe(24 * HOUR);
    for (const bad of ['', '0h', 'h', '1y', '1.5h', '-1h', '1H']) expect(intervalMs(bad), bad).toBeNull();
  });
});

describe('fan geometry', () => {
  const t = T0 + 10 * HOUR;
  const p = prediction(t, 100, {}, 0.01, 0);

  it('turns each horizon into 50/80/90 % price intervals and a median at the target slot', () => {
    const fan = fanOf(p, 100, HOUR);
    expect(fan.origin).toEqual({ slotTime: t - HOUR, price: 100 });
    expect(fan.horizons.map((h) => h.horizonSteps)).toEqual([1, 4, 24]);
    const h1 = fan.horizons[0]!;
    // The target candle closes at t + 1 h, so it opens (and sits on the chart) at t.
    expect(h1.slotTime).toBe(t);
    expect(h1.targetTime).toBe(t + HOUR);
    expect(h1.median).toBeCloseTo(100, 9);
    expect(h1.bands['80']!.lo).toBeCloseTo(100 * Math.exp(-1.2816 * 0.01), 9);
    expect(h1.bands['80']!.hi).toBeCloseTo(100 * Math.exp(1.2816 * 0.01), 9);
    expect(h1.bands['50']!.hi).toBeCloseTo(100 * Math.exp(0.6745 * 0.01), 9);
    expect(h1.bands['90']!.lo).toBeCloseTo(100 * Math.exp(-1.6449 * 0.01), 9);
  });

  it('nests the intervals and widens them with the horizon', () => {
    const fan = fanOf(p, 100, HOUR);
    for (const h of fan.horizons) {
      const { '50': b50, '80': b80, '90': b90 } = h.bands;
      expect(b90!.lo).toBeLessThan(b80!.lo);
      expect(b80!.lo).toBeLessThan(b50!.lo);
      expect(b50!.lo).toBeLessThan(h.median);
      expect(h.median).toBeLessThan(b50!.hi);
      expect(b50!.hi).toBeLessThan(b80!.hi);
      expect(b80!.hi).toBeLessThan(b90!.hi);
    }
    const widths = fan.horizons.map((h) => h.bands['80']!.hi - h.bands['80']!.lo);
    expect(widths[1]).toBeGreaterThan(widths[0]!);
    expect(widths[2]).toBeGreaterThan(widths[1]!);
  });

  it('finds quantiles by level, not by position, and leaves out a band whose levels are missing', () => {
    const levels = [0.1, 0.5, 0.9];
    const h = { horizonSteps: 1, targetTime: t + HOUR, mean: 0, scale: 0.01, quantiles: [-0.02, 0.001, 0.02], probUp: 0.5, predictedPrice: 100 };
    expect(quantileAt(levels, h, 0.9)).toBe(0.02);
    expect(quantileAt(levels, h, 0.95)).toBeUndefined();
    const f = fanHorizon(levels, h, 100, HOUR)!;
    expect(Object.keys(f.bands)).toEqual(['80']);
    expect(f.median).toBeCloseTo(100 * Math.exp(0.001), 9);
  });

  it('draws no fan for a horizon without a median or without any interval, or with prices that overflow', () => {
    const h = { horizonSteps: 1, targetTime: t + HOUR, mean: 0, scale: 0.01, quantiles: [-0.02, 0.02], probUp: 0.5, predictedPrice: 100 };
    expect(fanHorizon([0.1, 0.9], h, 100, HOUR)).toBeNull();
    expect(fanHorizon([0.5, 0.6], { ...h, quantiles: [0, 0.01] }, 100, HOUR)).toBeNull();
    expect(fanHorizon([0.1, 0.5, 0.9], { ...h, quantiles: [0, 800, 900] }, 100, HOUR)).toBeNull();
  });

  it('counts only the horizons it can draw (records from before distributions have none)', () => {
    expect(fanOf({ ...p, quantileLevels: [], horizons: [] }, 100, HOUR).horizons).toEqual([]);
  });
});

describe('originClose', () => {
  it("is the close of the candle that closed at the forecast's event time", () => {
    const candles = [candle(0, 90), candle(1, 95)];
    expect(originClose(prediction(T0 + 2 * HOUR, 1), candles)).toBe(95);
  });

  it('falls back to the close the record implies when that candle is not loaded', () => {
    const p = prediction(T0 + 50 * HOUR, 123.45, {}, 0.01, 0.002);
    expect(originClose(p, [candle(0, 90)])).toBeCloseTo(123.45, 9);
  });
});

describe('chooseForecaster', () => {
  const t = T0 + 5 * HOUR;
  const baselines = ['persistence', 'ewma', 'garch'].map((m) => prediction(t, 100, { modelName: m, isBaseline: true }));

  it('shows the model when it forecast at the newest time', () => {
    expect(chooseForecaster([...baselines, prediction(t, 100)], [])).toBe('lstm');
  });

  it('does not show a model whose last forecast is older than the baselines', () => {
    const old = prediction(t - HOUR, 100);
    expect(chooseForecaster([old, ...baselines], [])).toBe('ewma');
  });

  it('without a model, shows the baseline with the best 7-day skill at the shortest horizon', () => {
    const scores = [
      score('garch', WINDOW['7d'], { skillVsPersistence: 0.04 }),
      score('ewma', WINDOW['7d'], { skillVsPersistence: 0.01 }),
      score('ewma', WINDOW['7d'], { skillVsPersistence: 0.5, horizonSteps: 24 }),
      score('ewma', WINDOW['30d'], { skillVsPersistence: 0.3 }),
    ];
    expect(chooseForecaster(baselines, scores)).toBe('garch');
  });

  it('is null without predictions', () => {
    expect(chooseForecaster([], [])).toBeNull();
  });

  it('latestOf picks the newest forecast of the forecaster', () => {
    const ps = [prediction(t, 100), prediction(t + HOUR, 101), prediction(t + 2 * HOUR, 102, { modelName: 'ewma' })];
    expect(latestOf(ps, 'lstm')?.eventTime).toBe(t + HOUR);
    expect(latestOf(ps, 'nobody')).toBeNull();
  });
});
