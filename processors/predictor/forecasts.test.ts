import { describe, expect, it } from 'vitest';
import { gaussianShape, locationScale, QUANTILE_LEVELS } from '../../core/forecast/distribution.js';
import { createLiveBaselines } from '../../core/forecast/bank.js';
import { parseHorizons } from '../../core/forecast/horizons.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import { candle } from '../../test/helpers/candles.js';
import type { FeatureVector } from '../../schemas/types.js';
import { createSeriesBaselines, fitVersion, MIN_FIT_STEPS } from './baselines.js';
import { headline, toPrediction, type Forecast } from './forecasts.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);

/** n hourly feature vectors of a seeded random walk with volatility clusters. */
function series(n: number, seed = 7): FeatureVector[] {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
  let price = 40_000;
  const candles = Array.from({ length: n }, (_, i) => {
    const vol = 0.004 * (1 + Math.sin(i / 50) ** 2);
    const open = price;
    price *= Math.exp(vol * (rnd() + rnd() + rnd() - 1.5) * 2);
    return candle(T0 + i * HOUR, open, { open, close: price, high: Math.max(open, price) * 1.001, low: Math.min(open, price) * 0.999 });
  });
  return featuresFromCandles(candles, [], { windowMs: 4 * HOUR });
}

const fc = (name: string, isBaseline: boolean, mean = 0): Forecast => ({
  name,
  version: 'v',
  isBaseline,
  horizons: [1, 4],
  distributions: [locationScale(mean, 0.004, gaussianShape()), locationScale(mean, 0.008, gaussianShape())],
});

describe('toPrediction', () => {
  const f = series(30)[29]!;

  it('carries one distribution per horizon and repeats the first at the top level', () => {
    const p = toPrediction(f, HOUR, fc('har-rv', true, 0.001), 123);
    expect(p.quantileLevels).toEqual(QUANTILE_LEVELS);
    expect(p.horizons.map((h) => [h.horizonSteps, h.targetTime - f.eventTime])).toEqual([
      [1, HOUR],
      [4, 4 * HOUR],
    ]);
    expect(p).toMatchObject({
      horizonSteps: 1,
      targetTime: f.eventTime + HOUR,
      predictedLogReturn: 0.001,
      modelName: 'har-rv',
      isBaseline: true,
      predictedAt: 123,
    });
    expect(p.predictedPrice).toBeCloseTo(f.close * Math.exp(0.001), 9);
    expect(p.horizons[0]!.predictedPrice).toBeCloseTo(f.close * Math.exp(p.horizons[0]!.quantiles[3]!), 9);
    expect(p.probUp).toBe(p.horizons[0]!.probUp);
    expect(p.probUp).toBeGreaterThan(0.5);
  });

  it('refuses an invalid distribution or misaligned horizons with ERR_FORECAST_INVALID', () => {
    const crossed = fc('m', false);
    crossed.distributions[1]!.quantiles.reverse();
    expect(() => toPrediction(f, HOUR, crossed, 0)).toThrow(/horizon 4: quantiles cross/);
    expect(() => toPrediction(f, HOUR, crossed, 0)).toThrow(expect.objectContaining({ code: 'ERR_FORECAST_INVALID' }));
    const bad = fc('m', false);
    bad.distributions[0]!.scale = -1;
    expect(() => toPrediction(f, HOUR, bad, 0)).toThrow(/scale/);
    expect(() => toPrediction(f, HOUR, { ...fc('m', false), horizons: [1] }, 0)).toThrow(expect.objectContaining({ code: 'ERR_FORECAST_INVALID' }));
  });

  it('the headline is the champion, else HAR-RV, else the first baseline', () => {
    const ps = [fc('persistence', true), fc('har-rv', true), fc('lstm-attention', false)].map((x) => toPrediction(f, HOUR, x, 0));
    expect(headline(ps)?.modelName).toBe('lstm-attention');
    expect(headline(ps.slice(0, 2))?.modelName).toBe('har-rv');
    expect(headline(ps.slice(0, 1))?.modelName).toBe('persistence');
    expect(headline([])).toBeNull();
  });
});

describe('live baselines of the predictor', () => {
  const horizons = parseHorizons('1h:1,4,24');
  const all = series(1400);

  function fromHistory(window: number) {
    return createSeriesBaselines({
      horizons,
      window,
      historyBefore: (f, n) => Promise.resolve(all.filter((v) => v.eventTime < f.eventTime).slice(-n)),
    });
  }

  it('warms up on persistence (labelled "warmup"), then publishes all four baselines from the first fit', async () => {
    const b = createSeriesBaselines({ horizons, window: 1000, historyBefore: () => Promise.resolve([]) });
    const names: string[][] = [];
    for (const f of all.slice(0, MIN_FIT_STEPS + 2)) {
      await b.seed(f);
      names.push(b.forecast(f).map((x) => `${x.name}@${x.version}`));
    }
    expect(names[0]).toEqual([]); // no return known yet (the first vector has no logReturn1)
    expect(names[1]).toEqual(['persistence@warmup']);
    expect(names[MIN_FIT_STEPS - 2]).toEqual(['persistence@warmup']);
    const fitted = names[MIN_FIT_STEPS + 1]!;
    expect(fitted.map((n) => n.split('@')[0])).toEqual(['persistence', 'ewma', 'har-rv', 'garch']);
    expect(fitted[0]).toMatch(/@fit-2024-01-\d\dT\d\d:\d\dZ$/);
  });

  it('gives bit for bit what the research bank gives on the same candles', async () => {
    const b = fromHistory(1000);
    const ref = createLiveBaselines({ stepMs: HOUR, horizons: [1, 4, 24], window: 1000, minFit: MIN_FIT_STEPS });
    for (const f of all) {
      await b.seed(f);
      const got = b.forecast(f);
      ref.push(f.openTime, f.close);
      const want = ref.forecast();
      if ('warmingUp' in want) continue;
      expect(got.map((x) => x.name)).toEqual([...want.keys()]);
      for (const x of got) for (let i = 0; i < 3; i++) expect(Object.is(x.distributions[i]!.scale, want.get(x.name as never)![i]!.scale)).toBe(true);
      expect(got[0]!.version).toBe(fitVersion(ref.params()!.fitTo));
    }
  });

  it('after a restart mid-day, rebuilt from history, forecasts equal an uninterrupted run', async () => {
    const window = 600;
    const uninterrupted = fromHistory(window);
    const restartAt = 1_250; // mid-day (1250 h = 52 d + 2 h), after several midnight refits
    const before: Record<number, string> = {};
    for (const [i, f] of all.entries()) {
      await uninterrupted.seed(f);
      const out = uninterrupted.forecast(f);
      if (i >= restartAt) before[i] = JSON.stringify(out);
    }
    const restarted = fromHistory(window);
    for (const [i, f] of all.entries()) {
      if (i < restartAt) continue;
      await restarted.seed(f);
      expect(JSON.stringify(restarted.forecast(f)), `vector ${i}`).toBe(before[i]);
    }
  });

  it('refuses a forecast of a series it never seeded', () => {
    const b = createSeriesBaselines({ horizons, window: 1000, historyBefore: () => Promise.resolve([]) });
    expect(() => b.forecast(all[0]!)).toThrow(/before it was seeded/);
  });
});
