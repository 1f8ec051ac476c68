import { describe, expect, it } from 'vitest';
import type { FeatureVector } from '../../../schemas/types.js';
import { isBitPredictError } from '../../errors.js';
import {
  windowTargets,
  FEATURE_COLUMNS,
  FEATURE_NAMES,
  FINAL_WINDOW_START,
  STD_FLOOR,
  applyNormalizer,
  assertNotFinal,
  buildWindows,
  featureRow,
  fitNormalizer,
  lastWindow,
  parseNormalizer,
  type Normalizer,
} from './dataset.js';

const H = 3_600_000;
const T0 = Date.UTC(2021, 0, 1);

/** A complete hand-built vector at hour k (eventTime T0 + k h); values vary with k. */
function fv(k: number, over: Partial<FeatureVector> = {}): FeatureVector {
  const close = 100 + k;
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    eventTime: T0 + k * H,
    openTime: T0 + (k - 1) * H,
    featureSetVersion: 'fs-2',
    close,
    volume: 10 + k,
    gapBefore: false,
    return1: 0.001 * k,
    logReturn1: 0.001 * k,
    sma10: close - 1,
    sma20: close - 2,
    ema12: close,
    ema26: close,
    rsi14: 40 + k,
    return4: 0.004,
    logReturn4: 0.004 * k,
    return24: 0.02,
    logReturn24: 0.02 + k * 1e-4,
    sma50: close - 5,
    ema50: close - 4,
    macd: 1,
    macdSignal: 0.5,
    macdHist: 0.5 + k * 0.01,
    bbPercentB: 0.1 * (k % 10),
    bbWidth: 0.05,
    atr14: 2 + k * 0.1,
    realizedVol24: 0.01 + k * 1e-4,
    volumeZ20: (k % 3) - 1,
    vwap24: close + 0.5,
    sentimentWindowMs: H,
    textCount: k % 2,
    vaderMean: k % 2 ? 0.3 : null,
    vaderStd: null,
    vaderPosShare: null,
    vaderNegShare: null,
    finbertCount: 0,
    finbertMean: null,
    textWatermark: null,
    candleIngestedAt: 0,
    computedAt: 0,
    ...over,
  };
}

/** 0..n-1 hourly vectors; `gapAt` rows have gapBefore and null one-period returns (as the engine makes them). */
function series(n: number, gapAt: number[] = []): FeatureVector[] {
  const out: FeatureVector[] = [];
  for (let k = 0; k < n; k++) {
    const gap = gapAt.includes(k);
    out.push(fv(k, gap ? { gapBefore: true, return1: null, logReturn1: null } : {}));
  }
  return out;
}

const identity = (): Normalizer => ({ columns: [...FEATURE_NAMES], mean: FEATURE_NAMES.map(() => 0), std: FEATURE_NAMES.map(() => 1) });

function expectValidation(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isBitPredictError(caught) && caught.code === 'ERR_VALIDATION', `expected ERR_VALIDATION, got ${String(caught)}`).toBe(true);
  expect((caught as Error).message).toMatch(pattern);
}

describe('featureRow', () => {
  it('computes the scale-free columns of a vector', () => {
    const f = fv(3, { textCount: 4, vaderMean: 0.25, vaderStd: 0.1, finbertMean: -0.5 });
    const row = featureRow(f);
    expect(row).not.toBeNull();
    const byName = new Map(FEATURE_NAMES.map((n, j) => [n, row?.[j]]));
    expect(byName.get('logReturn1')).toBe(0.003);
    expect(byName.get('rsi14/100')).toBeCloseTo(0.43, 15);
    expect(byName.get('macdHist/close')).toBeCloseTo(0.53 / 103, 15);
    expect(byName.get('atr14/close')).toBeCloseTo(2.3 / 103, 15);
    expect(byName.get('close/sma20-1')).toBeCloseTo(103 / 101 - 1, 15);
    expect(byName.get('close/sma50-1')).toBeCloseTo(103 / 98 - 1, 15);
    expect(byName.get('close/ema50-1')).toBeCloseTo(103 / 99 - 1, 15);
    expect(byName.get('vwap24/close-1')).toBeCloseTo(103.5 / 103 - 1, 15);
    expect(byName.get('vaderMean')).toBe(0.25);
    expect(byName.get('vaderStd')).toBe(0.1);
    expect(byName.get('log1p(textCount)')).toBeCloseTo(Math.log(5), 15);
    expect(byName.get('finbertMean')).toBe(-0.5);
    expect(FEATURE_COLUMNS).toHaveLength(18);
  });

  it('maps missing sentiment to 0 but a missing indicator to null', () => {
    const row = featureRow(fv(2, { textCount: null, vaderMean: null, vaderStd: null, finbertMean: null }));
    expect(row?.slice(14)).toEqual(new Float64Array([0, 0, 0, 0]));
    expect(featureRow(fv(2, { sma50: null }))).toBeNull();
    expect(featureRow(fv(2, { logReturn1: null }))).toBeNull();
    expect(featureRow(fv(2, { realizedVol24: null }))).toBeNull();
  });
});

describe('buildWindows', () => {
  it('builds exact windows and next-period labels', () => {
    const s = series(6);
    const ws = buildWindows(s, { T: 3, normalizer: identity() });
    // Ends at rows 2, 3, 4 (row 5 has no label row).
    expect(ws.n).toBe(3);
    expect(ws.T).toBe(3);
    expect(ws.F).toBe(FEATURE_NAMES.length);
    expect(Array.from(ws.eventTimes)).toEqual([2, 3, 4].map((k) => T0 + k * H));
    expect(Array.from(ws.closes)).toEqual([102, 103, 104]);
    expect(Array.from(ws.yReturn)).toEqual(Array.from(new Float32Array([0.003, 0.004, 0.005])));
    expect(Array.from(ws.yUp)).toEqual([1, 1, 1]);
    expect(ws.X).toHaveLength(3 * 3 * ws.F);
    // Window 1 (ending at row 3) = rows 1, 2, 3 in order.
    for (let step = 0; step < 3; step++) {
      const got = ws.X.slice((1 * 3 + step) * ws.F, (1 * 3 + step + 1) * ws.F);
      expect(Array.from(got)).toEqual(Array.from(new Float32Array(featureRow(s[1 + step] as FeatureVector) as Float64Array)));
    }
  });

  it('labels every horizon with ln(close(t+h)/close(t)), NaN past the data end or labelTo', () => {
    const s = series(10);
    const ws = buildWindows(s, { T: 2, normalizer: identity(), horizons: [1, 3] });
    expect(ws.horizons).toEqual([1, 3]);
    // Windows end at rows 1..8; row i's close is 100 + i.
    expect(ws.n).toBe(8);
    const y = (w: number, k: number): number => ws.yHorizons[w * 2 + k]!;
    expect(y(0, 0)).toBeCloseTo(Math.log(102 / 101), 7);
    expect(y(0, 1)).toBeCloseTo(Math.log(104 / 101), 7);
    // The window ending at row 7 has a 1-step label (row 8) but no 3-step one (row 10 does not exist).
    expect(Number.isNaN(y(6, 1))).toBe(true);
    expect(Number.isNaN(y(7, 1))).toBe(true);
    expect(Number.isFinite(y(7, 0))).toBe(true);
    // labelTo drops labels that close after it, never the window itself.
    const cut = buildWindows(s, { T: 2, normalizer: identity(), horizons: [1, 3], labelTo: T0 + 6 * H });
    expect(cut.n).toBe(8);
    expect(Array.from({ length: 8 }, (_, w) => Number.isFinite(cut.yHorizons[w * 2 + 1]!))).toEqual([true, true, true, false, false, false, false, false]);
    expect(Array.from({ length: 8 }, (_, w) => Number.isFinite(cut.yHorizons[w * 2]!))).toEqual([true, true, true, true, true, false, false, false]);
    // Default: the one-step horizon, equal to yReturn.
    const one = buildWindows(s, { T: 2, normalizer: identity() });
    expect(one.horizons).toEqual([1]);
    expect(Array.from(one.yHorizons)).toEqual(Array.from({ length: one.n }, (_, w) => Math.fround(Math.log(s[w + 2]!.close / s[w + 1]!.close))));
  });

  it('never lets a horizon label span a gap, and refuses bad horizons or labelTo', () => {
    const s = series(12, [6]);
    const ws = buildWindows(s, { T: 2, normalizer: identity(), horizons: [1, 2] });
    for (let w = 0; w < ws.n; w++) {
      const end = Math.round((ws.eventTimes[w]! - T0) / H);
      // A 2-step label from row `end` reads rows end+1, end+2: missing when row 6 (after the gap) is
      // one of them, or row 12 (past the data).
      expect(Number.isNaN(ws.yHorizons[w * 2 + 1]!), `window ending at row ${end}`).toBe((end + 1 <= 6 && 6 <= end + 2) || end + 2 > 11);
    }
    for (const horizons of [[], [0], [2, 1], [1, 1], [1.5], [Number.NaN]])
      expectValidation(() => buildWindows(s, { T: 2, normalizer: identity(), horizons }), /horizons must be ascending positive integers/);
    expectValidation(() => buildWindows(s, { T: 2, normalizer: identity(), labelTo: Number.NaN }), /labelTo must be a number/);
  });

  it('labels a zero or negative return as down', () => {
    const s = series(5);
    s[3] = fv(3, { logReturn1: 0 });
    s[4] = fv(4, { logReturn1: -0.01 });
    const ws = buildWindows(s, { T: 2, normalizer: identity() });
    expect(Array.from(ws.eventTimes)).toEqual([1, 2, 3].map((k) => T0 + k * H));
    expect(Array.from(ws.yUp)).toEqual([1, 0, 0]);
  });

  it('never lets a window or a label span a gap', () => {
    // Gap before row 5: rows 0..4 and 5..11 are separate runs.
    const s = series(12, [5]);
    const ws = buildWindows(s, { T: 3, normalizer: identity() });
    // Row 5 has a null logReturn1, so its feature row is null: the first window after the gap ends
    // at row 8 (rows 6, 7, 8). Before the gap: row 4 cannot end a window (its label row 5 follows a gap).
    expect(Array.from(ws.eventTimes)).toEqual([2, 3, 8, 9, 10].map((k) => T0 + k * H));
    for (let w = 0; w < ws.n; w++) {
      const end = Math.round(((ws.eventTimes[w] as number) - T0) / H);
      // Rows after the window's first, and the label row, never follow a gap.
      for (let k = end - 1; k <= end + 1; k++) expect(s[k]?.gapBefore, `window ending at row ${end}: row ${k} follows a gap`).toBe(false);
    }
  });

  it('uses gapBefore even when the row after a gap has complete features', () => {
    // A synthetic row after a gap that still carries a logReturn1: gapBefore alone must split.
    const s = series(8);
    s[4] = fv(4, { gapBefore: true });
    const ws = buildWindows(s, { T: 2, normalizer: identity() });
    // Windows may start at the gap row (4,5) but not contain it later (3,4); label row 4 is refused for end 3.
    expect(Array.from(ws.eventTimes)).toEqual([1, 2, 5, 6].map((k) => T0 + k * H));
  });

  it('drops windows with a warm-up row and windows whose label has no logReturn1', () => {
    const s = series(8);
    s[1] = fv(1, { sma50: null });
    s[6] = fv(6, { logReturn1: null });
    const ws = buildWindows(s, { T: 2, normalizer: identity() });
    // Ends: 3 (rows 2,3), 4 (3,4); end 5 has label 6 without logReturn1; end 6 has a null row.
    expect(Array.from(ws.eventTimes)).toEqual([3, 4].map((k) => T0 + k * H));
  });

  it('keeps only windows with from <= t < to', () => {
    const s = series(20);
    const ws = buildWindows(s, { T: 4, from: T0 + 5 * H, to: T0 + 10 * H, normalizer: identity() });
    expect(Array.from(ws.eventTimes)).toEqual([5, 6, 7, 8, 9].map((k) => T0 + k * H));
    const all = buildWindows(s, { T: 4, normalizer: identity() });
    expect(all.n).toBe(16);
    // The filtered windows are the same bytes as in the full set.
    expect(Array.from(ws.X)).toEqual(Array.from(all.X.slice(2 * 4 * ws.F, 7 * 4 * ws.F)));
  });

  it('windowTargets gives the times and targets of exactly the windows buildWindows builds', () => {
    const s = series(30, [12]);
    s[20] = fv(20, { logReturn1: null });
    for (const opts of [{ T: 3 }, { T: 5, from: T0 + 8 * H, to: T0 + 25 * H }]) {
      const ws = buildWindows(s, { ...opts, normalizer: identity() });
      const tg = windowTargets(s, opts);
      expect(tg.n).toBe(ws.n);
      expect(Array.from(tg.eventTimes)).toEqual(Array.from(ws.eventTimes));
      expect(Array.from(tg.yReturn)).toEqual(Array.from(ws.yReturn));
    }
    expect(() => windowTargets(s, { T: 0 })).toThrow(/T/);
  });

  it('normalises with the given normalizer', () => {
    const s = series(5);
    const norm = fitNormalizer(s, { from: T0, to: T0 + 5 * H });
    const ws = buildWindows(s, { T: 1, normalizer: norm });
    const raw = featureRow(s[2] as FeatureVector) as Float64Array;
    const got = ws.X.slice(2 * ws.F, 3 * ws.F);
    for (let j = 0; j < ws.F; j++) expect(got[j]).toBeCloseTo(((raw[j] as number) - (norm.mean[j] as number)) / (norm.std[j] as number), 5);
  });

  it('refuses unsorted, duplicate, mixed-series and mixed-version input and bad options', () => {
    const n = identity();
    expectValidation(() => buildWindows([fv(1), fv(0)], { T: 1, normalizer: n }), /sorted by eventTime/);
    expectValidation(() => buildWindows([fv(1), fv(1)], { T: 1, normalizer: n }), /no duplicates/);
    expectValidation(() => buildWindows([fv(0), fv(1, { symbol: 'ETHUSDT' })], { T: 1, normalizer: n }), /mixes series.*ETHUSDT:1h/);
    expectValidation(() => buildWindows([fv(0), fv(1, { interval: '1d' })], { T: 1, normalizer: n }), /mixes series/);
    expectValidation(() => buildWindows([fv(0), fv(1, { featureSetVersion: 'fs-1' })], { T: 1, normalizer: n }), /feature set versions.*fs-1/);
    expectValidation(() => buildWindows(series(3), { T: 0, normalizer: n }), /T \(steps per window\)/);
    expectValidation(() => buildWindows(series(3), { T: 1.5, normalizer: n }), /T \(steps per window\)/);
    expectValidation(() => buildWindows(series(3), { T: 1, from: 10, to: 5, normalizer: n }), /from .* must be before to/);
    expectValidation(() => buildWindows(series(3), { T: 1, normalizer: { ...n, columns: n.columns.slice(1) } }), /do not match/);
    expect(buildWindows([], { T: 3, normalizer: n }).n).toBe(0);
  });
});

describe('fitNormalizer', () => {
  it('computes mean and population std over the training range only', () => {
    const s = series(10);
    const range = { from: T0 + 2 * H, to: T0 + 6 * H };
    const norm = fitNormalizer(s, range);
    const j = FEATURE_NAMES.indexOf('logReturn1');
    expect(norm.mean[j]).toBeCloseTo((0.002 + 0.003 + 0.004 + 0.005) / 4, 15);
    expect(norm.std[j]).toBeCloseTo(Math.sqrt(((1.5e-3 ** 2 + 0.5e-3 ** 2) * 2) / 4), 15);
    // A column that is constant over the range gets the 1e-8 floor.
    expect(norm.std[FEATURE_NAMES.indexOf('bbWidth')]).toBe(1e-8);
    // Changing rows outside [from, to) changes nothing.
    const changed = s.map((f, k) => (k < 2 || k >= 6 ? { ...f, logReturn1: 5, rsi14: 99, vaderMean: -1 } : f));
    expect(fitNormalizer(changed, range)).toEqual(norm);
    // Changing a row inside does.
    const inside = s.map((f, k) => (k === 3 ? { ...f, logReturn1: 5 } : f));
    expect(fitNormalizer(inside, range).mean[j]).not.toBe(norm.mean[j]);
    expect(JSON.parse(JSON.stringify(norm))).toEqual(norm);
    expect(parseNormalizer(JSON.parse(JSON.stringify(norm)))).toEqual(norm);
  });

  it('skips incomplete rows and refuses an empty range or one reaching the final window', () => {
    const s = series(4);
    s[1] = fv(1, { sma50: null });
    const norm = fitNormalizer(s, { from: T0, to: T0 + 3 * H });
    expect(norm.mean[0]).toBeCloseTo((0 + 0.002) / 2, 15);
    expectValidation(() => fitNormalizer(s, { from: T0 + 100 * H, to: T0 + 200 * H }), /no complete feature rows/);
    const late = [fv(0, { eventTime: FINAL_WINDOW_START - H })];
    expectValidation(() => fitNormalizer(late, { from: 0, to: FINAL_WINDOW_START + 1 }), /final evaluation window/);
    expect(fitNormalizer(late, { from: 0, to: FINAL_WINDOW_START }).mean).toHaveLength(FEATURE_NAMES.length);
    // The live trainer fits on the latest data: the final-window rule guards research figures only.
    const live = [fv(0, { eventTime: FINAL_WINDOW_START + H })];
    expectValidation(() => fitNormalizer(live, { from: 0, to: FINAL_WINDOW_START + 2 * H }), /final evaluation window/);
    expect(fitNormalizer(live, { from: 0, to: FINAL_WINDOW_START + 2 * H }, 'live').mean).toHaveLength(FEATURE_NAMES.length);
    expectValidation(() => fitNormalizer(live, { from: 0, to: FINAL_WINDOW_START + 2 * H }, 'final' as 'live'), /purpose must be research or live/);
  });
});

describe('applyNormalizer / parseNormalizer / lastWindow', () => {
  it('applies (x - mean) / std and refuses a wrong length', () => {
    const n: Normalizer = { columns: [...FEATURE_NAMES], mean: FEATURE_NAMES.map((_, j) => j), std: FEATURE_NAMES.map(() => 2) };
    const out = applyNormalizer(
      FEATURE_NAMES.map((_, j) => j + 4),
      n,
    );
    expect(Array.from(out)).toEqual(FEATURE_NAMES.map(() => 2));
    expectValidation(() => applyNormalizer([1, 2], n), /row has 2 values/);
    // A column constant in training (std at the floor) maps to 0, never to (x - mean) / 1e-8.
    const floored: Normalizer = { ...n, std: n.std.map((s, j) => (j === 3 ? STD_FLOOR : s)) };
    const got = applyNormalizer(
      FEATURE_NAMES.map((_, j) => j + 4),
      floored,
    );
    expect(got[3]).toBe(0);
    expect(got[4]).toBe(2);
  });

  it('refuses malformed normalizers', () => {
    expectValidation(() => parseNormalizer(null), /must be an object/);
    expectValidation(() => parseNormalizer({ ...identity(), std: identity().std.map(() => 0) }), /std must be/);
    expectValidation(() => parseNormalizer({ ...identity(), mean: [1] }), /mean must be/);
  });

  it('gives the live window at the last row, or null across a gap', () => {
    const s = series(10);
    const w = lastWindow(s, 3, identity());
    const built = buildWindows([...s, fv(10)], { T: 3, from: T0 + 9 * H, normalizer: identity() });
    expect(built.n).toBe(1);
    expect(Array.from(w ?? [])).toEqual(Array.from(built.X));
    expect(lastWindow(series(10, [8]), 3, identity())).toBeNull();
    expect(lastWindow(series(2), 3, identity())).toBeNull();
  });
});

describe('assertNotFinal', () => {
  it('refuses fit, tune and early-stop on hourly data from 2025 on, allows the final report', () => {
    expect(FINAL_WINDOW_START).toBe(Date.parse('2025-01-01T00:00:00Z'));
    for (const purpose of ['fit', 'tune', 'early-stop'] as const) {
      expectValidation(() => assertNotFinal({ from: 0, to: FINAL_WINDOW_START + 1 }, '1h', purpose), new RegExp(`'${purpose}' may not read it`));
      expect(() => assertNotFinal({ from: 0, to: FINAL_WINDOW_START }, '1h', purpose)).not.toThrow();
      // Other intervals are not part of the final evaluation window.
      expect(() => assertNotFinal({ from: 0, to: FINAL_WINDOW_START + H }, '1d', purpose)).not.toThrow();
    }
    expect(() => assertNotFinal({ from: FINAL_WINDOW_START, to: Date.UTC(2026, 0, 1) }, '1h', 'final-report')).not.toThrow();
    expectValidation(() => assertNotFinal({ from: 0, to: 1 }, '1h', 'train' as 'fit'), /purpose must be/);
  });
});
