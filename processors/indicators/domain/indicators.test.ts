import { describe, it, expect } from 'vitest';
import { BitPredictError } from '../../../core/errors.js';
import type { Candle, FeatureVector } from '../../../schemas/types.js';
import { FEATURE_SET_VERSION, createIndicatorEngine, restoreIndicatorEngine, type IndicatorEngine } from './indicators.js';
// The first rows of the real merged hourly file, read in place from ../shared/data with a plain
// split (independent of the replay parser). Tests may do I/O; the code under test may not.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MERGED_HOURLY = resolve(REPO_ROOT, '../shared/data/btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv');

function loadHourlyCandles(count: number): Candle[] {
  const lines = readFileSync(MERGED_HOURLY, 'utf8').split('\n').slice(1, count + 1);
  return lines.map((line) => {
    const [ms, , open, high, low, close, volume] = line.trim().split(',');
    const openTime = Number(ms);
    return {
      symbol: 'BTCUSDT', interval: '1h', exchange: 'binance', openTime, closeTime: openTime + 3_600_000,
      open: Number(open), high: Number(high), low: Number(low), close: Number(close), volume: Number(volume),
      quoteVolume: null, tradeCount: null, source: 'replay:test', ingestedAt: openTime + 3_600_000 + 5,
    };
  });
}

const candles = loadHourlyCandles(3000);
const H = 3_600_000;

function feature(engine: IndicatorEngine, c: Candle): FeatureVector {
  const r = engine.update(c, c.closeTime + 42);
  if (r.kind !== 'feature') throw new Error(`expected a feature, got ${r.kind}`);
  return r.feature;
}

// Independent reference implementations, written from the textbook definitions with different
// arithmetic from the engine (fresh window sums, alpha-form EMA, RSI as gain share).
function refSma(xs: number[], p: number): Array<number | null> {
  return xs.map((_, i) => {
    if (i < p - 1) return null;
    let sum = 0;
    for (let j = i - p + 1; j <= i; j += 1) sum += xs[j] as number;
    return sum / p;
  });
}
function refEma(xs: number[], p: number): Array<number | null> {
  // Seeded with the SMA of the first p values (technicalindicators' choice, first output at p-1).
  const a = 2 / (p + 1);
  const out: Array<number | null> = [];
  let e = 0;
  xs.forEach((x, i) => {
    if (i < p - 1) out.push(null);
    else if (i === p - 1) { e = xs.slice(0, p).reduce((s, v) => s + v, 0) / p; out.push(e); }
    else { e = a * x + (1 - a) * e; out.push(e); }
  });
  return out;
}
function refRsi(xs: number[], p: number): Array<number | null> {
  // Wilder: first averages are plain means of the first p changes, then avg = (avg*(p-1)+x)/p.
  const out: Array<number | null> = [null];
  let g = 0;
  let l = 0;
  for (let i = 1; i < xs.length; i += 1) {
    const d = (xs[i] as number) - (xs[i - 1] as number);
    const gain = d > 0 ? d : 0;
    const loss = d < 0 ? -d : 0;
    if (i < p) { g += gain; l += loss; out.push(null); continue; }
    if (i === p) { g = (g + gain) / p; l = (l + loss) / p; } else { g = (g * (p - 1) + gain) / p; l = (l * (p - 1) + loss) / p; }
    out.push(l === 0 ? 100 : (100 * g) / (g + l));
  }
  return out;
}

function expectClose(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    expect(actual, what).toBeNull();
    return;
  }
  expect(actual, what).not.toBeNull();
  const rel = Math.abs((actual as number) - expected) / Math.max(Math.abs(expected), 1e-300);
  expect(rel, `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1e-9);
}

describe('indicator engine on the first 3000 real hourly candles', () => {
  const engine = createIndicatorEngine();
  const features = candles.map((c) => feature(engine, c));
  const closes = candles.map((c) => c.close);

  it('matches independent SMA, EMA and Wilder RSI references to 1e-9 relative', () => {
    const refs = { sma10: refSma(closes, 10), sma20: refSma(closes, 20), ema12: refEma(closes, 12), ema26: refEma(closes, 26), rsi14: refRsi(closes, 14) };
    for (const [name, ref] of Object.entries(refs) as Array<[keyof typeof refs, Array<number | null>]>) {
      features.forEach((f, i) => expectClose(f[name], ref[i] ?? null, `${name} at ${i}`));
    }
    expect(features[8]?.sma10).toBeNull();
    expect(features[9]?.sma10).not.toBeNull();
    expect(features[13]?.rsi14).toBeNull();
    expect(features[14]?.rsi14).not.toBeNull();
    expect(features[25]?.ema26).not.toBeNull();
    expect(features[24]?.ema26).toBeNull();
  });

  it('RSI is not quantised to 2 decimals', () => {
    const rsis = features.map((f) => f.rsi14).filter((x): x is number => x !== null);
    expect(rsis.filter((x) => Number.parseFloat(x.toFixed(2)) !== x).length).toBeGreaterThan(rsis.length * 0.98);
  });

  it('computes one-period returns only between adjacent candles and flags the real gap', () => {
    const gaps = features.map((f, i) => (f.gapBefore ? i : -1)).filter((i) => i >= 0);
    expect(gaps).toEqual([493]);
    expect(new Date(features[493]?.openTime ?? 0).toISOString()).toBe('2017-09-06T23:00:00.000Z');
    features.forEach((f, i) => {
      const prev = candles[i - 1];
      if (i === 0 || f.gapBefore) {
        expect(f.return1, `return1 at ${i}`).toBeNull();
        expect(f.logReturn1, `logReturn1 at ${i}`).toBeNull();
      } else {
        expectClose(f.return1, (closes[i] as number) / (prev?.close as number) - 1, `return1 at ${i}`);
        expectClose(f.logReturn1, Math.log((closes[i] as number) / (prev?.close as number)), `logReturn1 at ${i}`);
      }
    });
    // Indicators run on across the gap: the SMA right after it still averages the 10 last closes.
    expectClose(features[493]?.sma10 ?? null, closes.slice(484, 494).reduce((a, b) => a + b, 0) / 10, 'sma10 after gap');
  });

  it('fills the feature envelope from the candle', () => {
    const c = candles[100] as Candle;
    expect(features[100]).toMatchObject({
      symbol: 'BTCUSDT', interval: '1h', eventTime: c.closeTime, openTime: c.openTime, featureSetVersion: FEATURE_SET_VERSION,
      close: c.close, volume: c.volume, candleIngestedAt: c.ingestedAt, computedAt: c.closeTime + 42,
    });
  });

  it('snapshot at 1500 -> JSON -> restore -> continue gives exactly the uninterrupted features', () => {
    const first = createIndicatorEngine();
    candles.slice(0, 1500).forEach((c) => feature(first, c));
    const json = JSON.stringify(first.snapshot());
    // Later updates of the original engine do not leak into a snapshot already taken.
    const taken = first.snapshot();
    feature(first, candles[1500] as Candle);
    expect(JSON.stringify(taken)).toBe(json);

    const restored = restoreIndicatorEngine(JSON.parse(json));
    const continued = candles.slice(1500).map((c) => feature(restored, c));
    expect(continued).toEqual(features.slice(1500));
    expect(JSON.stringify(restored.snapshot())).toBe(JSON.stringify(engine.snapshot()));
  });
});

function candle(hour: number, close: number, over: Partial<Candle> = {}): Candle {
  const openTime = Date.UTC(2024, 0, 1) + hour * H;
  return {
    symbol: 'BTCUSDT', interval: '1h', exchange: 'binance', openTime, closeTime: openTime + H, open: close, high: close, low: close, close,
    volume: 1, quoteVolume: null, tradeCount: null, source: 'test', ingestedAt: openTime + H, ...over,
  };
}

describe('indicator engine: bad and repeated input', () => {
  it('reports a duplicate open time and leaves the state unchanged', () => {
    const e = createIndicatorEngine();
    feature(e, candle(0, 100));
    feature(e, candle(1, 110));
    const before = JSON.stringify(e.snapshot());
    expect(e.update(candle(1, 999), 0)).toEqual({ kind: 'duplicate' });
    expect(JSON.stringify(e.snapshot())).toBe(before);
    expect(feature(e, candle(2, 121)).return1).toBeCloseTo(0.1, 12);
  });

  it('reports an older candle as out of order and leaves the state unchanged', () => {
    const e = createIndicatorEngine();
    feature(e, candle(5, 100));
    const before = JSON.stringify(e.snapshot());
    expect(e.update(candle(3, 50), 0)).toEqual({ kind: 'out_of_order', lastOpenTime: candle(5, 100).openTime });
    expect(JSON.stringify(e.snapshot())).toBe(before);
  });

  it('sets gapBefore and null returns after a gap, never across it', () => {
    const e = createIndicatorEngine();
    const f0 = feature(e, candle(0, 100));
    expect(f0.gapBefore).toBe(false);
    expect(f0.return1).toBeNull();
    const f1 = feature(e, candle(3, 130));
    expect(f1).toMatchObject({ gapBefore: true, return1: null, logReturn1: null });
    const f2 = feature(e, candle(4, 143));
    expect(f2.gapBefore).toBe(false);
    expect(f2.return1).toBeCloseTo(0.1, 12);
    expect(f2.logReturn1).toBeCloseTo(Math.log(1.1), 12);
  });

  const bad: Array<[string, Partial<Candle>, RegExp]> = [
    ['NaN close', { close: Number.NaN }, /close NaN/],
    ['zero close', { close: 0 }, /close 0/],
    ['negative close', { close: -5 }, /close -5/],
    ['infinite volume', { volume: Number.POSITIVE_INFINITY }, /volume Infinity/],
    ['closeTime before openTime', { closeTime: Date.UTC(2024, 0, 1) }, /closeTime > openTime/],
    ['fractional time', { openTime: 0.5 }, /integer ms/],
  ];
  it.each(bad)('throws ERR_VALIDATION for %s without changing state', (_name, over, message) => {
    const e = createIndicatorEngine();
    feature(e, candle(0, 100));
    const before = JSON.stringify(e.snapshot());
    let err: unknown;
    try { e.update(candle(1, 100, over), 0); } catch (x) { err = x; }
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as BitPredictError).code).toBe('ERR_VALIDATION');
    expect((err as Error).message).toMatch(message);
    expect(JSON.stringify(e.snapshot())).toBe(before);
  });

  it('refuses candles of another series and overlapping candles', () => {
    const e = createIndicatorEngine();
    feature(e, candle(0, 100));
    expect(() => e.update(candle(1, 100, { symbol: 'ETHUSDT' }), 0)).toThrow(/another series/);
    expect(() => e.update(candle(1, 100, { interval: '1m' }), 0)).toThrow(/another series/);
    const shifted = candle(0, 100, { openTime: Date.UTC(2024, 0, 1) + 60_000, closeTime: Date.UTC(2024, 0, 1) + 60_000 + H });
    expect(() => e.update(shifted, 0)).toThrow(/overlaps the previous candle/);
  });
});

describe('restoreIndicatorEngine: bad snapshots', () => {
  const good = (() => {
    const e = createIndicatorEngine();
    for (let h = 0; h < 30; h += 1) feature(e, candle(h, 100 + (h % 7)));
    return JSON.parse(JSON.stringify(e.snapshot())) as Record<string, unknown>;
  })();
  function mutate(path: Array<string | number>, value: unknown): unknown {
    const copy = structuredClone(good);
    let at: Record<string | number, unknown> = copy;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
    const leaf = path.at(-1) as string | number;
    if (value === undefined) delete at[leaf];
    else at[leaf] = value;
    return copy;
  }
  const cases: Array<[string, unknown, RegExp]> = [
    ['null', null, /snapshot is not an object/],
    ['a string', 'snapshot', /snapshot is not an object/],
    ['an array', [], /snapshot is not an object/],
    ['a future version', mutate(['version'], 2), /snapshot.version is 2, expected 1/],
    ['another feature set', mutate(['featureSetVersion'], 'fs-0'), /featureSetVersion is "fs-0"/],
    ['missing state', mutate(['state'], undefined), /state is not an object/],
    ['a NaN-poisoned sum (JSON null)', mutate(['state', 'sma10', 'sum'], null), /state.sma10.sum is not a finite number/],
    ['an oversized window', mutate(['state', 'sma10', 'window'], Array.from({ length: 11 }, () => 1)), /state.sma10.window is not an array of at most 10/],
    ['a negative close in a window', mutate(['state', 'sma20', 'window', 0], -1), /state.sma20.window\[0\] is not > 0/],
    ['a changed period', mutate(['state', 'ema12', 'period'], 13), /state.ema12.period is not 12/],
    ['half an RSI', mutate(['state', 'rsi14', 'avgLoss'], null), /only one of avgGain and avgLoss/],
    ['a string time', mutate(['state', 'last', 'openTime'], '1704067200000'), /state.last.openTime is not an integer/],
    ['last without series', mutate(['state', 'series'], null), /only one of series and last/],
  ];
  it.each(cases)('rejects %s with ERR_VALIDATION', (_name, snap, message) => {
    let err: unknown;
    try { restoreIndicatorEngine(snap); } catch (x) { err = x; }
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as BitPredictError).code).toBe('ERR_VALIDATION');
    expect((err as Error).message).toMatch(message);
  });
  it('accepts the good one and an empty engine', () => {
    expect(() => restoreIndicatorEngine(good)).not.toThrow();
    expect(restoreIndicatorEngine(JSON.parse(JSON.stringify(createIndicatorEngine().snapshot()))).snapshot()).toEqual(createIndicatorEngine().snapshot());
  });
});
