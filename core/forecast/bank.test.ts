import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../random.js';
import { distributionProblem, type ForecastDistribution } from './distribution.js';
import { BASELINE_NAMES, type BaselineFit, type BaselineName } from './baselines.js';
import { createLiveBaselines, runBaselines, type LiveBaselines } from './bank.js';
import { candlesFrom, simulateGarch } from './testing.js';

const H = 3_600_000;
const START = Date.UTC(2020, 0, 3, 7); // not at midnight: the first fit is the warm-up one
const horizons = [1, 4, 24];
const drops = new Set([700, 1500, 1501, 2222, 3000]);
const { times, closes } = candlesFrom(simulateGarch({ omega: 2e-6, alpha: 0.08, beta: 0.9 }, 3600, 17), START, H, drops);
const WINDOW = 1200;
const MIN_FIT = 600;

function sameDist(a: ForecastDistribution, b: ForecastDistribution): void {
  expect(Object.is(a.mean, b.mean)).toBe(true);
  expect(Object.is(a.scale, b.scale)).toBe(true);
  expect(Object.is(a.probUp, b.probUp)).toBe(true);
  a.quantiles.forEach((q, i) => expect(Object.is(q, b.quantiles[i])).toBe(true));
}

/** Pushes every candle, recording the forecast and the fit end after each one. */
function runLive(
  live: LiveBaselines,
  upTo = times.length,
): { fc: (Map<BaselineName, ForecastDistribution[]> | null)[]; fitTo: (number | null)[]; fits: Map<number, BaselineFit> } {
  const fc: (Map<BaselineName, ForecastDistribution[]> | null)[] = [];
  const fitTo: (number | null)[] = [];
  const fits = new Map<number, BaselineFit>();
  for (let i = 0; i < upTo; i++) {
    live.push(times[i]!, closes[i]!);
    const f = live.forecast();
    fc.push(f instanceof Map ? f : null);
    const p = live.params();
    fitTo.push(p?.fitTo ?? null);
    if (p !== null) fits.set(p.fitTo, p);
  }
  return { fc, fitTo, fits };
}

describe('baseline bank', () => {
  it('online forecasts equal the offline run bit for bit over every refit period', () => {
    const live = createLiveBaselines({ stepMs: H, horizons, window: WINDOW, minFit: MIN_FIT });
    const { fc, fitTo, fits } = runLive(live);
    expect(fc[MIN_FIT - 2]).toBeNull(); // warming up
    const warm = live.forecast();
    expect(warm instanceof Map).toBe(true);
    // The refit points: the warm-up fit, then the first candle of each UTC day.
    const refits = [...new Set(fitTo.filter((t): t is number => t !== null))];
    expect(refits[0]).toBe(times[MIN_FIT - 1]);
    for (const t of refits.slice(1)) expect(t % 86_400_000).toBe(0); // every candle exists at midnight except dropped ones
    expect(refits.length).toBeGreaterThan(100);
    let compared = 0;
    for (let k = 0; k < refits.length; k += 17) {
      const T = refits[k]!;
      const next = refits[k + 1] ?? Infinity;
      const run = runBaselines({ times, closes, stepMs: H, horizons, fitFrom: T - (WINDOW - 1) * H, fitTo: T, evalFrom: T, evalTo: next - 1 });
      expect(run.fit).toEqual(fits.get(T));
      for (const name of BASELINE_NAMES)
        horizons.forEach((h, hi) => {
          for (const item of run.forecasts.get(name)!.get(h)!) {
            const i = times.indexOf(item.time);
            expect(fitTo[i]).toBe(T);
            sameDist(fc[i]!.get(name)![hi]!, item.d);
            compared++;
          }
        });
    }
    expect(compared).toBeGreaterThan(2000);
  });

  it('gives the same results whatever the chunking of pushes and reads', () => {
    const a = createLiveBaselines({ stepMs: H, horizons, window: WINDOW, minFit: MIN_FIT });
    const full = runLive(a).fc;
    const b = createLiveBaselines({ stepMs: H, horizons, window: WINDOW, minFit: MIN_FIT });
    const rnd = mulberry32(3);
    let i = 0;
    while (i < times.length) {
      const end = Math.min(times.length, i + 1 + Math.floor(rnd() * 80));
      for (; i < end; i++) b.push(times[i]!, closes[i]!);
      const f = b.forecast();
      b.forecast(); // reading twice changes nothing
      const want = full[i - 1];
      if (want === null) expect(f).toMatchObject({ warmingUp: true });
      else
        for (const name of BASELINE_NAMES) want!.get(name)!.forEach((d, hi) => sameDist((f as Map<BaselineName, ForecastDistribution[]>).get(name)![hi]!, d));
    }
    expect(JSON.parse(JSON.stringify(b.params()))).toEqual(a.params());
  });

  it('produces valid distributions with gaps scored as missing outcomes', () => {
    const fitTo = times[2000]!;
    const run = runBaselines({ times, closes, stepMs: H, horizons, fitFrom: times[0]!, fitTo, evalFrom: fitTo, evalTo: times[times.length - 1]! });
    for (const name of BASELINE_NAMES)
      for (const h of horizons) {
        const items = run.forecasts.get(name)!.get(h)!;
        expect(items.length).toBe(times.length - 2000);
        for (const it of items) expect(distributionProblem(it.d)).toBeNull();
        // The candles dropped at 2222 and 3000 make the targets spanning them missing; the last h are beyond the data.
        const missing = items.filter((x) => x.y === null).length;
        expect(missing).toBe(2 * h + h);
      }
    // Forecasts at one time do not depend on later candles: cutting the data after it changes nothing.
    const cut = 2500;
    const short = runBaselines({
      times: times.slice(0, cut + 1),
      closes: closes.slice(0, cut + 1),
      stepMs: H,
      horizons,
      fitFrom: times[0]!,
      fitTo,
      evalFrom: fitTo,
      evalTo: times[cut]!,
    });
    const a = short.forecasts.get('garch')!.get(24)!.at(-1)!;
    const b = run.forecasts
      .get('garch')!
      .get(24)!
      .find((x) => x.time === times[cut])!;
    sameDist(a.d, b.d);
    expect(a.y).toBeNull();
    expect(b.y).not.toBeNull();
  });

  it('refuses bad input', () => {
    const live = createLiveBaselines({ stepMs: H, horizons, window: WINDOW, minFit: MIN_FIT });
    live.push(START, 100);
    expect(() => live.push(START, 101)).toThrow(/does not increase/);
    expect(() => live.push(START - H, 101)).toThrow(/does not increase/);
    expect(() => live.push(START + H, 0)).toThrow(/close 0/);
    expect(() => live.push(START + H, Number.NaN)).toThrow(/close NaN/);
    expect(() => live.push(Number.NaN, 1)).toThrow(/not finite/);
    expect(live.forecast()).toEqual({ warmingUp: true, have: 1, need: MIN_FIT });
    expect(() => createLiveBaselines({ stepMs: H, horizons, window: 100, minFit: 200 })).toThrow(/minFit/);
    expect(() => createLiveBaselines({ stepMs: 0, horizons, window: 100, minFit: 50 })).toThrow(/step/);
    expect(() => createLiveBaselines({ stepMs: H, horizons: [0], window: 100, minFit: 50 })).toThrow(/horizons/);
    const base = { times, closes, stepMs: H, horizons, fitFrom: times[0]!, fitTo: times[1000]!, evalFrom: times[1000]!, evalTo: times[1100]! };
    expect(() => runBaselines({ ...base, evalFrom: times[900]! })).toThrow(/fitFrom <= fitTo <= evalFrom/);
    expect(() => runBaselines({ ...base, fitTo: times[100]!, evalFrom: times[100]! })).toThrow(/at least 200 known returns/);
    expect(() => runBaselines({ ...base, names: ['nope' as BaselineName] })).toThrow(/unknown baseline/);
    expect(() => runBaselines({ ...base, closes: closes.map((c, i) => (i === 5 ? -1 : c)) })).toThrow(/close -1/);
    expect(() => runBaselines({ ...base, times: times.map((t, i) => (i === 5 ? times[3]! : t)) })).toThrow(/does not increase/);
  });

  it('keeps the last fit serving when a refit window is too short and says why a fit failed', () => {
    const live = createLiveBaselines({ stepMs: H, horizons, window: WINDOW, minFit: MIN_FIT });
    for (let i = 0; i < 1000; i++) live.push(times[i]!, closes[i]!);
    const before = live.params();
    expect(before).not.toBeNull();
    // A jump of 60 days: the next refit window holds one candle, so the old fit keeps serving.
    live.push(times[999]! + 60 * 86_400_000, closes[999]!);
    expect(live.params()).toBe(before);
    expect(live.forecast() instanceof Map).toBe(true);
    // A flat market cannot be fitted: the error is kept, nothing is thrown.
    const flat = createLiveBaselines({ stepMs: H, horizons: [1], window: 800, minFit: 600 });
    for (let i = 0; i < 700; i++) flat.push(START + i * H, 100);
    expect(flat.lastRefitError()).toMatch(/not all zero/);
    expect(flat.forecast()).toMatchObject({ warmingUp: true });
  });
});
