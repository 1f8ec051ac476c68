import { describe, it, expect } from 'vitest';
import { ATR, BollingerBands, EMA, MACD, SMA, getConfig } from 'technicalindicators';
import { BitPredictError } from '../errors.js';
import type { Candle } from '../../schemas/types.js';
import {
  FEATURE_SET_VERSION,
  INDICATOR_SNAPSHOT_VERSION,
  createIndicatorEngine,
  restoreIndicatorEngine,
  type IndicatorEngine,
  type IndicatorFeatures,
} from './indicators.js';
// The first rows of the real merged hourly file, read in place from ../shared/data with a plain
// split (independent of the replay parser). Tests may do I/O; the code under test may not.
import { readFileSync } from 'node:fs';
import { hasSharedData, sharedDataPath } from '../../test/helpers/shared-data.js';

const MERGED_FILE = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const MERGED_HOURLY = sharedDataPath(MERGED_FILE);
const HAS_MERGED = hasSharedData(MERGED_FILE);

function toCandle(line: string): Candle {
  const [ms, , open, high, low, close, volume] = line.trim().split(',');
  const openTime = Number(ms);
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    exchange: 'binance',
    openTime,
    closeTime: openTime + 3_600_000,
    open: Number(open),
    high: Number(high),
    low: Number(low),
    close: Number(close),
    volume: Number(volume),
    quoteVolume: null,
    tradeCount: null,
    source: 'replay:test',
    ingestedAt: openTime + 3_600_000 + 5,
  };
}

/** Real hourly candles with open time in [from, to), in file order (the file is sorted). */
function loadHourlyRange(from: number, to: number): Candle[] {
  return readFileSync(MERGED_HOURLY, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map(toCandle)
    .filter((c) => c.openTime >= from && c.openTime < to);
}

function loadHourlyCandles(count: number): Candle[] {
  return readFileSync(MERGED_HOURLY, 'utf8')
    .split('\n')
    .slice(1, count + 1)
    .map(toCandle);
}

const candles = HAS_MERGED ? loadHourlyCandles(3000) : [];
const H = 3_600_000;

function feature(engine: IndicatorEngine, c: Candle): IndicatorFeatures {
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
    else if (i === p - 1) {
      e = xs.slice(0, p).reduce((s, v) => s + v, 0) / p;
      out.push(e);
    } else {
      e = a * x + (1 - a) * e;
      out.push(e);
    }
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
    if (i < p) {
      g += gain;
      l += loss;
      out.push(null);
      continue;
    }
    if (i === p) {
      g = (g + gain) / p;
      l = (l + loss) / p;
    } else {
      g = (g * (p - 1) + gain) / p;
      l = (l * (p - 1) + loss) / p;
    }
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

describe.skipIf(!HAS_MERGED)('indicator engine on the first 3000 real hourly candles', () => {
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
      symbol: 'BTCUSDT',
      interval: '1h',
      eventTime: c.closeTime,
      openTime: c.openTime,
      featureSetVersion: FEATURE_SET_VERSION,
      close: c.close,
      volume: c.volume,
      candleIngestedAt: c.ingestedAt,
      computedAt: c.closeTime + 42,
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
    symbol: 'BTCUSDT',
    interval: '1h',
    exchange: 'binance',
    openTime,
    closeTime: openTime + H,
    open: close,
    high: close,
    low: close,
    close,
    volume: 1,
    quoteVolume: null,
    tradeCount: null,
    source: 'test',
    ingestedAt: openTime + H,
    ...over,
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

  it('names its last accepted candle (the feature store expects its vector), also after a restore', () => {
    const e = createIndicatorEngine();
    expect(e.lastCandle()).toBeNull();
    feature(e, candle(5, 100));
    e.update(candle(5, 999), 0);
    e.update(candle(3, 50), 0);
    const want = { symbol: 'BTCUSDT', interval: '1h', openTime: candle(5, 100).openTime, closeTime: candle(5, 100).closeTime };
    expect(e.lastCandle()).toEqual(want);
    expect(restoreIndicatorEngine(JSON.parse(JSON.stringify(e.snapshot()))).lastCandle()).toEqual(want);
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
    ['negative volume', { volume: -1 }, /volume -1 is not a finite number >= 0/],
    ['low above high', { high: 99, low: 101 }, /high 99 \/ low 101/],
    ['NaN high', { high: Number.NaN }, /high NaN/],
    ['closeTime before openTime', { closeTime: Date.UTC(2024, 0, 1) }, /closeTime > openTime/],
    ['fractional time', { openTime: 0.5 }, /integer ms/],
  ];
  it.each(bad)('throws ERR_VALIDATION for %s without changing state', (_name, over, message) => {
    const e = createIndicatorEngine();
    feature(e, candle(0, 100));
    const before = JSON.stringify(e.snapshot());
    let err: unknown;
    try {
      e.update(candle(1, 100, over), 0);
    } catch (x) {
      err = x;
    }
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
    for (let h = 0; h < 40; h += 1) feature(e, candle(h, 100 + (h % 7), { volume: 1 + (h % 3) }));
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
    ['an fs-1 snapshot (version 1)', mutate(['version'], 1), /snapshot.version is 1, expected 2/],
    ['a future version', mutate(['version'], 3), /snapshot.version is 3, expected 2/],
    ['another feature set', mutate(['featureSetVersion'], 'fs-1'), /featureSetVersion is "fs-1", this engine computes fs-2/],
    ['missing state', mutate(['state'], undefined), /state is not an object/],
    ['a NaN-poisoned sum (JSON null)', mutate(['state', 'sma10', 'sum'], null), /state.sma10.sum is not a finite number/],
    [
      'an oversized window',
      mutate(
        ['state', 'sma10', 'window'],
        Array.from({ length: 11 }, () => 1),
      ),
      /state.sma10.window is not an array of at most 10/,
    ],
    ['a negative close in a window', mutate(['state', 'sma20', 'window', 0], -1), /state.sma20.window\[0\] is not > 0/],
    ['a changed period', mutate(['state', 'ema12', 'period'], 13), /state.ema12.period is not 12/],
    ['half an RSI', mutate(['state', 'rsi14', 'avgLoss'], null), /only one of avgGain and avgLoss/],
    ['a string time', mutate(['state', 'last', 'openTime'], '1704067200000'), /state.last.openTime is not an integer/],
    ['last without series', mutate(['state', 'series'], null), /only one of series and last/],
    // fs-2 state
    ['a missing sma50', mutate(['state', 'sma50'], undefined), /state.sma50 is not an object/],
    ['a missing ema50', mutate(['state', 'ema50'], undefined), /state.ema50 is not an object/],
    [
      'an ema50 with a value and a seed',
      mutate(['state', 'ema12', 'seed', 'window'], [1]),
      /state.ema12.seed.window is not empty although the EMA has a value/,
    ],
    ['a missing MACD signal', mutate(['state', 'macdSignal'], undefined), /state.macdSignal is not an object/],
    ['a MACD signal of another period', mutate(['state', 'macdSignal', 'period'], 12), /state.macdSignal.period is not 9/],
    [
      'a MACD seed window too long',
      mutate(
        ['state', 'macdSignal', 'seed', 'window'],
        Array.from({ length: 10 }, () => -1),
      ),
      /state.macdSignal.seed.window is not an array of at most 9 MACD values/,
    ],
    ['a string MACD value', mutate(['state', 'macdSignal', 'value'], '0.5'), /state.macdSignal.value is not a finite number/],
    ['a MACD signal before ema26 exists', mutate(['state', 'ema26', 'value'], null), /state.macdSignal has MACD values although state.ema26 has no value yet/],
    ['a missing ATR', mutate(['state', 'atr14'], undefined), /state.atr14 is not an object/],
    ['a negative ATR', mutate(['state', 'atr14', 'value'], -1), /state.atr14.value is not >= 0/],
    ['an ATR without a previous close', mutate(['state', 'atr14', 'prevClose'], null), /state.atr14.prevClose is null although true ranges were seen/],
    [
      'an ATR seed window too long',
      mutate(
        ['state', 'atr14', 'seed', 'window'],
        Array.from({ length: 15 }, () => 1),
      ),
      /state.atr14.seed.window is not an array of at most 14 true ranges/,
    ],
    ['a missing recent', mutate(['state', 'recent'], undefined), /state.recent is not an object/],
    [
      'a recent window too long',
      mutate(
        ['state', 'recent', 'volume'],
        Array.from({ length: 25 }, () => 1),
      ),
      /state.recent.volume is not an array of at most 24 volumes/,
    ],
    ['a missing recent.typical', mutate(['state', 'recent', 'typical'], undefined), /state.recent.typical is not an array of at most 24 typical prices/],
    ['a string volume', mutate(['state', 'recent', 'volume', 3], '1'), /state.recent.volume\[3\] is not a finite number/],
    ['a negative volume', mutate(['state', 'recent', 'volume', 3], -2), /state.recent.volume\[3\] is not >= 0/],
    ['recent arrays of different lengths', mutate(['state', 'recent', 'close'], [100]), /state.recent.close has 1 entries, state.recent.openTime has 24/],
    ['unordered recent open times', mutate(['state', 'recent', 'openTime', 5], 0), /state.recent.openTime\[5\] is not after the one before it/],
    ['recent not ending with last', mutate(['state', 'last', 'close'], 12345), /state.recent does not end with the candle in state.last/],
    ['a missing logReturns', mutate(['state', 'logReturns'], undefined), /state.logReturns is not an array of at most 24 log returns/],
    [
      'logReturns too long',
      mutate(
        ['state', 'logReturns'],
        Array.from({ length: 25 }, () => 0),
      ),
      /state.logReturns is not an array of at most 24/,
    ],
    ['a null log return', mutate(['state', 'logReturns', 0], null), /state.logReturns\[0\] is not a finite number/],
  ];
  it.each(cases)('rejects %s with ERR_VALIDATION', (_name, snap, message) => {
    let err: unknown;
    try {
      restoreIndicatorEngine(snap);
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as BitPredictError).code).toBe('ERR_VALIDATION');
    expect((err as Error).message).toMatch(message);
  });
  it('accepts the good one and an empty engine', () => {
    expect(() => restoreIndicatorEngine(good)).not.toThrow();
    expect(restoreIndicatorEngine(JSON.parse(JSON.stringify(createIndicatorEngine().snapshot()))).snapshot()).toEqual(createIndicatorEngine().snapshot());
  });
});

// ---------------------------------------------------------------------------------------------
// fs-2 indicators on 2018-01-01 .. 2018-07-01 (4300+ real candles, with the 33-hour outage
// 2018-02-08 01:00 .. 2018-02-09 09:00 and the other real gaps of that half year).

const candles2018 = HAS_MERGED ? loadHourlyRange(Date.UTC(2018, 0, 1), Date.UTC(2018, 6, 1)) : [];
const GAP_END = Date.UTC(2018, 1, 9, 10); // first candle after the outage

function runAll(cs: Candle[]): IndicatorFeatures[] {
  const e = createIndicatorEngine();
  return cs.map((c) => feature(e, c));
}
const features2018 = runAll(candles2018);

/** |actual - expected| <= tol * max(1, |expected|); null must match null. */
function expectNear(actual: number | null, expected: number | null, what: string, tol = 1e-9): void {
  if (expected === null) {
    expect(actual, what).toBeNull();
    return;
  }
  expect(actual, what).not.toBeNull();
  expect(Math.abs((actual as number) - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
}

describe.skipIf(!HAS_MERGED)('fs-2 indicators vs technicalindicators 3.1.0 on real 2018 hourly candles', () => {
  // The library's `precision` config is unset (its default): its format() is then the identity, no
  // rounding. The library knows nothing about gaps, and neither do these indicators: both run on the
  // sequence of candles. Every comparison below is bit-identical (toBe / Object.is).
  it('uses the library without rounding and real data with gaps', () => {
    expect(getConfig('precision')).toBeUndefined();
    expect(candles2018.length).toBeGreaterThan(4000);
    expect(features2018.filter((f) => f.gapBefore).length).toBeGreaterThanOrEqual(2);
    expect(features2018.find((f) => f.openTime === GAP_END)?.gapBefore).toBe(true);
  });

  it('SMA50 and EMA50 are bit-identical', () => {
    const sma = new SMA({ period: 50, values: [] });
    const ema = new EMA({ period: 50, values: [] });
    let n = 0;
    candles2018.forEach((c, i) => {
      const f = features2018[i] as IndicatorFeatures;
      expect(f.sma50 ?? undefined, `sma50 at ${i}`).toBe(sma.nextValue(c.close));
      expect(f.ema50 ?? undefined, `ema50 at ${i}`).toBe(ema.nextValue(c.close));
      if (f.ema50 !== null) n += 1;
    });
    expect(n).toBe(candles2018.length - 49);
  });

  it('MACD 12/26/9 (EMA oscillator and signal) is bit-identical: line, signal and histogram', () => {
    const lib = new MACD({ values: [], fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false });
    let withSignal = 0;
    candles2018.forEach((c, i) => {
      const f = features2018[i] as IndicatorFeatures;
      const m = lib.nextValue(c.close);
      expect(f.macd ?? undefined, `macd at ${i}`).toBe(m?.MACD);
      expect(f.macdSignal ?? undefined, `macdSignal at ${i}`).toBe(m?.signal);
      expect(f.macdHist ?? undefined, `macdHist at ${i}`).toBe(m?.histogram);
      if (f.macdSignal !== null) withSignal += 1;
    });
    // Line from the 26th candle, signal and histogram from the 34th (9 MACD values).
    expect(features2018[24]?.macd).toBeNull();
    expect(features2018[25]?.macd).not.toBeNull();
    expect(features2018[32]?.macdSignal).toBeNull();
    expect(features2018[33]?.macdHist).not.toBeNull();
    expect(withSignal).toBe(candles2018.length - 33);
  });

  it('Bollinger 20/2: %b is bit-identical to pb, width to (upper - lower) / middle of the library bands', () => {
    const lib = new BollingerBands({ period: 20, stdDev: 2, values: [] });
    candles2018.forEach((c, i) => {
      const f = features2018[i] as IndicatorFeatures;
      const b = lib.nextValue(c.close);
      expect(f.bbPercentB ?? undefined, `bbPercentB at ${i}`).toBe(b?.pb);
      expect(f.bbWidth ?? undefined, `bbWidth at ${i}`).toBe(b === undefined ? undefined : (b.upper - b.lower) / b.middle);
    });
    expect(features2018[18]?.bbWidth).toBeNull();
    expect(features2018[19]?.bbWidth).not.toBeNull();
  });

  it('ATR14 (Wilder) is bit-identical; like the library, the first candle has no true range', () => {
    const lib = new ATR({ period: 14, high: [], low: [], close: [] });
    candles2018.forEach((c, i) => {
      const f = features2018[i] as IndicatorFeatures;
      expect(f.atr14 ?? undefined, `atr14 at ${i}`).toBe(lib.nextValue({ high: c.high, low: c.low, close: c.close }));
    });
    // First value with the 15th candle: the SMA of the true ranges of candles 2..15.
    expect(features2018[13]?.atr14).toBeNull();
    const tr = (i: number): number => {
      const c = candles2018[i] as Candle;
      const pc = (candles2018[i - 1] as Candle).close;
      return Math.max(c.high - c.low, Math.abs(c.high - pc), Math.abs(c.low - pc));
    };
    const first = Array.from({ length: 14 }, (_, k) => tr(k + 1)).reduce((a, b) => a + b, 0) / 14;
    expectNear(features2018[14]?.atr14 ?? null, first, 'first atr14', 1e-12);
  });
});

describe.skipIf(!HAS_MERGED)('fs-2 indicators vs a naive recomputation on real 2018 hourly candles (with gaps)', () => {
  const byOpen = new Map(candles2018.map((c) => [c.openTime, c]));
  // Naive references: look each needed candle up by open time, recompute every window from scratch.
  function refReturn(i: number, h: number): [number | null, number | null] {
    const c = candles2018[i] as Candle;
    const back = byOpen.get(c.openTime - h * H);
    return back === undefined ? [null, null] : [c.close / back.close - 1, Math.log(c.close / back.close)];
  }
  function refRealizedVol(i: number): number | null {
    const c = candles2018[i] as Candle;
    let sumSq = 0;
    for (let k = 0; k < 24; k += 1) {
      const now = byOpen.get(c.openTime - k * H);
      const before = byOpen.get(c.openTime - (k + 1) * H);
      if (now === undefined || before === undefined) return null;
      sumSq += Math.log(now.close / before.close) ** 2;
    }
    return Math.sqrt(sumSq);
  }
  function lastN(i: number, n: number): Candle[] | null {
    return i + 1 < n ? null : candles2018.slice(i + 1 - n, i + 1);
  }
  function refVolumeZ(i: number): number | null {
    const w = lastN(i, 20);
    if (w === null) return null;
    const vols = w.map((c) => c.volume);
    const mean = vols.reduce((a, b) => a + b, 0) / vols.length;
    const sd = Math.sqrt(vols.reduce((a, v) => a + (v - mean) ** 2, 0) / vols.length);
    return sd === 0 ? null : ((candles2018[i] as Candle).volume - mean) / sd;
  }
  function refVwap(i: number): number | null {
    const w = lastN(i, 24);
    if (w === null) return null;
    const vol = w.reduce((a, c) => a + c.volume, 0);
    return vol === 0 ? null : w.reduce((a, c) => a + ((c.high + c.low + c.close) / 3) * c.volume, 0) / vol;
  }
  function refBollinger(i: number): [number | null, number | null] {
    const w = lastN(i, 20);
    if (w === null) return [null, null];
    const xs = w.map((c) => c.close);
    const mean = xs.reduce((a, b) => a + b, 0) / 20;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) * (x - mean), 0) / 20);
    const upper = mean + 2 * sd;
    const lower = mean - 2 * sd;
    return [upper === lower ? null : ((candles2018[i] as Candle).close - lower) / (upper - lower), (upper - lower) / mean];
  }

  it('returns over 4 and 24 intervals use the candle exactly h hours back, null when it is missing', () => {
    let nulls4 = 0;
    features2018.forEach((f, i) => {
      const [r4, l4] = refReturn(i, 4);
      const [r24, l24] = refReturn(i, 24);
      expectNear(f.return4, r4, `return4 at ${i}`, 1e-12);
      expectNear(f.logReturn4, l4, `logReturn4 at ${i}`, 1e-12);
      expectNear(f.return24, r24, `return24 at ${i}`, 1e-12);
      expectNear(f.logReturn24, l24, `logReturn24 at ${i}`, 1e-12);
      if (f.return4 === null) nulls4 += 1;
    });
    // Around the 33-hour outage: nothing 4 or 24 hours back until the series has refilled.
    const g = features2018.findIndex((f) => f.openTime === GAP_END);
    expect(features2018.slice(g, g + 4).map((f) => f.return4)).toEqual([null, null, null, null]);
    expect(features2018[g + 4]?.return4).not.toBeNull();
    expect(features2018.slice(g, g + 24).every((f) => f.return24 === null)).toBe(true);
    expect(features2018[g + 24]?.return24).not.toBeNull();
    expect(nulls4).toBeGreaterThan(4); // the start and every gap
  });

  it('realizedVol24 needs 24 adjacent one-hour log returns', () => {
    let nonNull = 0;
    features2018.forEach((f, i) => {
      expectNear(f.realizedVol24, refRealizedVol(i), `realizedVol24 at ${i}`);
      if (f.realizedVol24 !== null) nonNull += 1;
    });
    const g = features2018.findIndex((f) => f.openTime === GAP_END);
    expect(features2018.slice(g, g + 24).every((f) => f.realizedVol24 === null)).toBe(true);
    expect(features2018[g + 24]?.realizedVol24).not.toBeNull();
    expect(features2018[g - 1]?.realizedVol24).not.toBeNull();
    expect(nonNull).toBeGreaterThan(candles2018.length * 0.9);
  });

  it('volumeZ20, vwap24, %b and band width match the naive windows (running on across gaps)', () => {
    features2018.forEach((f, i) => {
      expectNear(f.volumeZ20, refVolumeZ(i), `volumeZ20 at ${i}`);
      expectNear(f.vwap24, refVwap(i), `vwap24 at ${i}`);
      const [pb, width] = refBollinger(i);
      expectNear(f.bbPercentB, pb, `bbPercentB at ${i}`);
      expectNear(f.bbWidth, width, `bbWidth at ${i}`);
    });
    const g = features2018.findIndex((f) => f.openTime === GAP_END);
    for (const name of ['volumeZ20', 'vwap24', 'bbPercentB', 'bbWidth', 'atr14', 'macd', 'sma50'] as const) {
      expect(features2018[g]?.[name], `${name} right after the gap`).not.toBeNull();
    }
    expect(features2018[22]?.vwap24).toBeNull();
    expect(features2018[23]?.vwap24).not.toBeNull();
    expect(features2018[18]?.volumeZ20).toBeNull();
    expect(features2018[19]?.volumeZ20).not.toBeNull();
  });

  it('snapshot -> JSON -> restore at random cut points continues exactly like an uninterrupted run', () => {
    // Deterministic pseudo-random cuts (mulberry32), plus the edges and the candles around the outage.
    let seed = 20180208;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const g = features2018.findIndex((f) => f.openTime === GAP_END);
    const cuts = [0, 1, 13, 25, 33, 49, g - 1, g, g + 1, g + 23, ...Array.from({ length: 8 }, () => 1 + Math.floor(rand() * (candles2018.length - 2)))];
    for (const cut of cuts) {
      const first = createIndicatorEngine();
      candles2018.slice(0, cut).forEach((c) => feature(first, c));
      const restored = restoreIndicatorEngine(JSON.parse(JSON.stringify(first.snapshot())));
      const end = Math.min(candles2018.length, cut + 300);
      for (let i = cut; i < end; i += 1) {
        const got = feature(restored, candles2018[i] as Candle);
        const want = features2018[i] as IndicatorFeatures;
        for (const k of Object.keys(want) as Array<keyof IndicatorFeatures>) {
          if (!Object.is(got[k], want[k])) expect.fail(`cut ${cut}, candle ${i}, ${k}: ${String(got[k])} vs ${String(want[k])}`);
        }
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      }
    }
  });
});

describe('fs-2 indicators worked by hand', () => {
  it('returns over 4 and 24 intervals go by open time, not by count', () => {
    const e = createIndicatorEngine();
    // Hours 0..5, then hour 6 is missing, then 7..10.
    const closes: Array<[number, number]> = [
      [0, 100],
      [1, 110],
      [2, 120],
      [3, 130],
      [4, 125],
      [5, 150],
      [7, 180],
      [8, 200],
      [9, 250],
      [10, 260],
    ];
    const f = new Map(closes.map(([h, x]) => [h, feature(e, candle(h, x))]));
    expect([0, 1, 2, 3].map((h) => f.get(h)?.return4)).toEqual([null, null, null, null]);
    expect(f.get(4)?.return4).toBe(125 / 100 - 1); // 0.25
    expect(f.get(4)?.logReturn4).toBe(Math.log(1.25));
    expect(f.get(5)?.return4).toBe(150 / 110 - 1);
    // Hour 7 comes after a gap: no one-hour return, but hour 3 (4 hours back) is there: 180/130 - 1.
    expect(f.get(7)).toMatchObject({ gapBefore: true, return1: null, return4: 180 / 130 - 1 });
    expect(f.get(8)?.return4).toBeCloseTo(0.6, 15); // 200 / 125 - 1
    expect(f.get(9)?.return4).toBeCloseTo(2 / 3, 15); // 250 / 150 - 1
    expect(f.get(10)?.return4).toBeNull(); // hour 6 is missing
    expect(f.get(10)?.return24).toBeNull();

    const e24 = createIndicatorEngine();
    const out = Array.from({ length: 26 }, (_, h) => feature(e24, candle(h, 100 + h)));
    expect(out[23]?.return24).toBeNull();
    expect(out[24]?.return24).toBe(124 / 100 - 1);
    expect(out[24]?.logReturn24).toBe(Math.log(124 / 100));
    expect(out[25]?.return24).toBe(125 / 101 - 1);
  });

  it('vwap24 is sum(typical * volume) / sum(volume) over the last 24 candles', () => {
    const e = createIndicatorEngine();
    const out: IndicatorFeatures[] = [];
    for (let h = 0; h < 22; h += 1) out.push(feature(e, candle(h, 100))); // typical 100, volume 1
    out.push(feature(e, candle(22, 120, { high: 130, low: 110, volume: 2 }))); // typical (130+110+120)/3 = 120
    out.push(feature(e, candle(23, 90, { high: 90, low: 60, volume: 1 }))); // typical (90+60+90)/3 = 80
    out.push(feature(e, candle(24, 100, { volume: 3 })));
    expect(out[22]?.vwap24).toBeNull(); // 23 candles
    // (22 * 100 + 2 * 120 + 80) / (22 + 2 + 1) = 2520 / 25 = 100.8
    expect(out[23]?.vwap24).toBeCloseTo(100.8, 12);
    // Hour 0 leaves: (21 * 100 + 240 + 80 + 3 * 100) / (21 + 2 + 1 + 3) = 2720 / 27
    expect(out[24]?.vwap24).toBeCloseTo(2720 / 27, 12);

    const zero = createIndicatorEngine();
    const z = Array.from({ length: 25 }, (_, h) => feature(zero, candle(h, 100 + h, { volume: 0 })));
    expect(z.every((f) => f.vwap24 === null && f.volumeZ20 === null)).toBe(true);
  });

  it('volumeZ20 of volumes 1..20 is (20 - 10.5) / sqrt(33.25); constant volume gives null', () => {
    const e = createIndicatorEngine();
    const out = Array.from({ length: 20 }, (_, h) => feature(e, candle(h, 100, { volume: h + 1 })));
    expect(out[18]?.volumeZ20).toBeNull();
    // mean 10.5, population variance (20^2 - 1) / 12 = 33.25
    expect(out[19]?.volumeZ20).toBeCloseTo(9.5 / Math.sqrt(33.25), 12);
    const flat = createIndicatorEngine();
    const f = Array.from({ length: 21 }, (_, h) => feature(flat, candle(h, 100 + h, { volume: 0.1 })));
    expect(f[20]?.volumeZ20).toBeNull();
  });

  it('realizedVol24 of 24 returns of +-10% is sqrt(24) * ln(1.1)-ish, and a gap resets it', () => {
    const e = createIndicatorEngine();
    // Closes alternate 100, 110: log returns +ln(1.1), -ln(1.1), each squared ln(1.1)^2.
    const out = Array.from({ length: 26 }, (_, h) => feature(e, candle(h, h % 2 === 0 ? 100 : 110)));
    expect(out[23]?.realizedVol24).toBeNull(); // 23 returns
    expect(out[24]?.realizedVol24).toBeCloseTo(Math.sqrt(24) * Math.log(1.1), 12);
    const afterGap = feature(e, candle(30, 100));
    expect(afterGap.realizedVol24).toBeNull();
  });

  it('a flat series has zero band width and no %b; ATR of constant true range is that range', () => {
    const e = createIndicatorEngine();
    const out = Array.from({ length: 20 }, (_, h) => feature(e, candle(h, 100, { high: 101, low: 99 })));
    expect(out[19]).toMatchObject({ bbWidth: 0, bbPercentB: null });
    expect(out[13]?.atr14).toBeNull();
    expect(out[14]?.atr14).toBe(2);
    expect(out[19]?.atr14).toBe(2);
  });
});

describe('snapshot envelope', () => {
  it('carries version 2 and fs-2', () => {
    expect(createIndicatorEngine().snapshot()).toMatchObject({ version: INDICATOR_SNAPSHOT_VERSION, featureSetVersion: 'fs-2' });
    expect(INDICATOR_SNAPSHOT_VERSION).toBe(2);
    expect(FEATURE_SET_VERSION).toBe('fs-2');
  });
});
