// The sentiment ablation's logic on small synthetic data: the "without" arm really has no
// sentiment input, the folds stay in development, the comparison feeds Diebold-Mariano the right
// pairs in the right order, and bad input is refused with ERR_VALIDATION.
import { describe, expect, it } from 'vitest';
import type { FeatureVector } from '../schemas/types.js';
import { BitPredictError } from '../core/errors.js';
import { buildWindows, fitNormalizer, FEATURE_NAMES, FINAL_WINDOW_START } from '../core/models/domain/dataset.js';
import { dieboldMariano } from '../core/forecast/stats.js';
import { loadTf } from '../core/models/tf.js';
import { mulberry32 } from '../core/random.js';
import {
  ablationFolds,
  compareArms,
  concatLosses,
  dropColumns,
  renderAblationMarkdown,
  runSentimentAblation,
  sentimentColumns,
  verdictOf,
  type AblationFold,
  type WindowLosses,
} from './ablation.js';

const H = 3_600_000;
const T0 = Date.UTC(2021, 0, 1);

/** n hourly vectors on a seeded random walk; every column finite; the sentiment fields from `sentiment(k)`. */
function series(n: number, seed: number, sentiment: (k: number, rnd: () => number) => Partial<FeatureVector> = () => ({})): FeatureVector[] {
  const rnd = mulberry32(seed);
  const out: FeatureVector[] = [];
  let close = 100;
  for (let k = 0; k < n; k++) {
    const r = 0.01 * (rnd() - 0.5);
    close *= Math.exp(r);
    out.push({
      symbol: 'BTCUSDT',
      interval: '1h',
      eventTime: T0 + k * H,
      openTime: T0 + (k - 1) * H,
      featureSetVersion: 'fs-test',
      close,
      volume: 10 + rnd(),
      gapBefore: false,
      return1: r,
      logReturn1: r,
      sma10: close * (1 + 0.01 * (rnd() - 0.5)),
      sma20: close * (1 + 0.01 * (rnd() - 0.5)),
      ema12: close,
      ema26: close,
      rsi14: 30 + 40 * rnd(),
      return4: 0,
      logReturn4: 0.02 * (rnd() - 0.5),
      return24: 0,
      logReturn24: 0.05 * (rnd() - 0.5),
      sma50: close * (1 + 0.02 * (rnd() - 0.5)),
      ema50: close * (1 + 0.02 * (rnd() - 0.5)),
      macd: 0,
      macdSignal: 0,
      macdHist: rnd() - 0.5,
      bbPercentB: rnd(),
      bbWidth: 0.05 * rnd(),
      atr14: close * 0.01 * rnd(),
      realizedVol24: 0.01 * rnd(),
      volumeZ20: rnd() * 2 - 1,
      vwap24: close * (1 + 0.01 * (rnd() - 0.5)),
      sentimentWindowMs: 4 * H,
      textCount: k % 3,
      vaderMean: k % 3 ? rnd() - 0.5 : null,
      vaderStd: k % 3 === 2 ? rnd() * 0.3 : null,
      vaderPosShare: null,
      vaderNegShare: null,
      finbertCount: 0,
      finbertMean: null,
      textWatermark: null,
      candleIngestedAt: 0,
      computedAt: 0,
      ...sentiment(k, rnd),
    });
  }
  return out;
}

function validationError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as BitPredictError).code).toBe('ERR_VALIDATION');
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected ERR_VALIDATION, nothing was thrown');
}

async function rejection(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a BitPredictError, the promise resolved');
}

describe('sentimentColumns', () => {
  it("finds the model's text-fed columns and nothing else", () => {
    const idx = sentimentColumns(FEATURE_NAMES);
    expect(idx.map((j) => FEATURE_NAMES[j])).toEqual(['vaderMean', 'vaderStd', 'log1p(textCount)', 'finbertMean']);
    expect(idx.every((j) => FEATURE_NAMES[j] !== 'logReturn1')).toBe(true);
  });

  it('refuses a column list with no sentiment column, or only sentiment columns', () => {
    validationError(() => sentimentColumns(['logReturn1', 'rsi14/100']), /no sentiment columns/);
    validationError(() => sentimentColumns([]), /no sentiment columns/);
    validationError(() => sentimentColumns(['vaderMean', 'finbertMean']), /leaves no input/);
  });
});

describe('dropColumns', () => {
  const T = 4;
  const build = (s: FeatureVector[]) => {
    const normalizer = fitNormalizer(s, { from: T0, to: T0 + 200 * H });
    return buildWindows(s, { T, normalizer, from: T0, to: T0 + 200 * H, horizons: [1, 2] });
  };

  it('removes the sentiment columns: the reduced inputs do not depend on the sentiment fields at all', () => {
    const a = build(series(220, 7));
    // Same candles and indicators (same seed), entirely different texts.
    const b = build(series(220, 7, (k) => ({ textCount: 5 + (k % 7), vaderMean: Math.sin(k), vaderStd: 0.2 + 0.1 * Math.cos(k), finbertMean: 0.3 })));
    const drop = sentimentColumns();
    expect(Array.from(a.X)).not.toEqual(Array.from(b.X));
    const ra = dropColumns(a, drop);
    const rb = dropColumns(b, drop);
    expect(ra.F).toBe(FEATURE_NAMES.length - drop.length);
    expect(ra.X.length).toBe(a.n * T * ra.F);
    expect(Array.from(ra.X)).toEqual(Array.from(rb.X));
    // The kept columns are the originals, in order, and the labels are untouched.
    const keep = FEATURE_NAMES.map((_, j) => j).filter((j) => !drop.includes(j));
    for (const [w, s] of [
      [0, 0],
      [a.n - 1, T - 1],
    ] as const)
      keep.forEach((j, k) => expect(ra.X[(w * T + s) * ra.F + k]).toBe(a.X[(w * T + s) * a.F + j]));
    expect(Array.from(ra.yHorizons)).toEqual(Array.from(a.yHorizons));
    expect(Array.from(ra.eventTimes)).toEqual(Array.from(a.eventTimes));
  });

  it('refuses duplicate, out-of-range or all columns, and a malformed set', () => {
    const a = build(series(220, 7));
    validationError(() => dropColumns(a, [14, 14]), /distinct/);
    validationError(() => dropColumns(a, [-1]), /distinct/);
    validationError(() => dropColumns(a, [a.F]), /distinct/);
    validationError(() => dropColumns(a, [Number.NaN]), /distinct/);
    validationError(
      () =>
        dropColumns(
          a,
          FEATURE_NAMES.map((_, j) => j),
        ),
      /leaves no input/,
    );
    validationError(() => dropColumns({ ...a, X: a.X.subarray(1) }, [14]), /n\*T\*F/);
  });
});

describe('ablationFolds', () => {
  it('tiles the quarters before the end, training and validating right before each test range', () => {
    const folds = ablationFolds({ end: Date.UTC(2024, 0, 1), count: 3 });
    expect(folds.map((f) => [new Date(f.valTo).toISOString().slice(0, 10), new Date(f.testTo).toISOString().slice(0, 10)])).toEqual([
      ['2023-04-01', '2023-07-01'],
      ['2023-07-01', '2023-10-01'],
      ['2023-10-01', '2024-01-01'],
    ]);
    for (const f of folds) {
      expect(f.valTo - f.trainTo).toBe(30 * 86_400_000);
      expect(f.trainTo - f.trainFrom).toBe(365 * 86_400_000);
    }
  });

  it('stays out of the final evaluation window and refuses bad spans', () => {
    validationError(() => ablationFolds({ end: FINAL_WINDOW_START + H, count: 1 }), /final evaluation window/);
    expect(ablationFolds({ end: FINAL_WINDOW_START, count: 1 })).toHaveLength(1);
    validationError(() => ablationFolds({ end: Date.UTC(2024, 0, 1), count: 0 }), /count/);
    validationError(() => ablationFolds({ end: Date.UTC(2024, 0, 1), count: 2, valDays: 1.5 }), /valDays/);
    validationError(() => ablationFolds({ end: Number.NaN, count: 1 }), /end/);
  });
});

describe('compareArms', () => {
  /** Losses of n windows at horizons [1, 4]: `base` plus a per-window offset; window 3 has no 4-step label. */
  function losses(n: number, seed: number, offset: number): WindowLosses {
    const rnd = mulberry32(seed);
    const pinball = new Float64Array(n * 2);
    const nll = new Float64Array(n * 2);
    for (let i = 0; i < n * 2; i++) {
      pinball[i] = 0.002 + 0.001 * rnd() + offset;
      nll[i] = -3 + rnd() + offset * 100;
    }
    pinball[3 * 2 + 1] = Number.NaN;
    nll[3 * 2 + 1] = Number.NaN;
    return { horizons: [1, 4], n, eventTimes: Float64Array.from({ length: n }, (_, i) => i * H), pinball, nll };
  }

  it('averages over the scored windows and runs DM on (without, with) with h-1 lags', () => {
    const withL = losses(200, 1, 0);
    const withoutL = losses(200, 2, 0.0004);
    const [h1, h4] = compareArms(withL, withoutL);
    expect(h1!.n).toBe(200);
    expect(h4!.n).toBe(199);
    const col = (l: WindowLosses, k: number) => Array.from({ length: l.n }, (_, i) => l.pinball[i * 2 + k]!).filter((v) => !Number.isNaN(v));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(h4!.withSentiment.pinball).toBeCloseTo(mean(col(withL, 1)), 15);
    expect(h4!.gain.pinball).toBeCloseTo(mean(col(withoutL, 1)) - mean(col(withL, 1)), 15);
    const dm = dieboldMariano(col(withoutL, 1), col(withL, 1), 4);
    expect(h4!.dmPinball).toEqual({ stat: dm.stat, pValue: dm.pValue });
    // Without sentiment is worse by construction: a gain, and a significant one.
    expect(h1!.gain.pinball).toBeGreaterThan(0);
    expect(h1!.dmPinball!.stat).toBeGreaterThan(0);
    expect(verdictOf(h1!)).toMatch(/^h=1: sentiment helps/);
    expect(verdictOf(compareArms(withoutL, withL)[0]!)).toMatch(/^h=1: sentiment hurts/);
    expect(verdictOf(compareArms(withL, withL)[0]!)).toMatch(/no detectable difference/);
  });

  it('pools folds in order and says when there are too few windows for a test', () => {
    const a = losses(5, 1, 0);
    const b = losses(5, 2, 0.001);
    const pooledWith = concatLosses([a, a]);
    expect(pooledWith.n).toBe(10);
    expect(pooledWith.pinball.length).toBe(20);
    const [, h4] = compareArms(losses(6, 1, 0), losses(6, 2, 0));
    expect(h4!.dmPinball).toBeNull();
    expect(verdictOf(h4!)).toMatch(/too few windows/);
    expect(compareArms(a, b)[0]!.dmPinball).not.toBeNull();
  });

  it('refuses arms scored on different windows, empty arms and no folds', () => {
    const a = losses(20, 1, 0);
    validationError(() => compareArms(a, losses(21, 2, 0)), /different windows/);
    validationError(() => compareArms(a, { ...losses(20, 2, 0), horizons: [1, 24] }), /different windows/);
    const shifted = losses(20, 2, 0);
    shifted.eventTimes[5] = 999;
    validationError(() => compareArms(a, shifted), /differ in time/);
    const holed = losses(20, 2, 0);
    holed.pinball[0] = Number.NaN;
    validationError(() => compareArms(a, holed), /one arm only/);
    const empty = { horizons: [1], n: 0, eventTimes: new Float64Array(0), pinball: new Float64Array(0), nll: new Float64Array(0) };
    validationError(() => compareArms(empty, empty), /no test windows/);
    const unlabelled = { horizons: [1], n: 1, eventTimes: new Float64Array(1), pinball: new Float64Array([Number.NaN]), nll: new Float64Array([Number.NaN]) };
    validationError(() => compareArms(unlabelled, unlabelled), /no test window has a label/);
    validationError(() => concatLosses([]), /no folds/);
    validationError(() => concatLosses([a, { ...a, horizons: [1] }]), /different horizons/);
  });
});

describe('runSentimentAblation (tiny model, cpu)', () => {
  const s = series(700, 11);
  const day = 24 * H;
  const fold = (index: number, start: number): AblationFold => ({
    index,
    trainFrom: start,
    trainTo: start + 10 * day,
    valTo: start + 12 * day,
    testTo: start + 14 * day,
  });
  const base = { series: s, interval: '1h', horizons: [1, 2], T: 4, epochs: 1, units: 4, seed: 3, batchSize: 64 };

  it('trains the with-arm on every column and the without-arm without the sentiment columns, on the same windows', async () => {
    const loaded = await loadTf('cpu');
    const r = await runSentimentAblation({ ...base, loaded, folds: [fold(0, T0 + day), fold(1, T0 + 15 * day)] });
    expect(r.folds).toHaveLength(2);
    for (const f of r.folds) {
      expect(f.arms.with.F).toBe(FEATURE_NAMES.length);
      expect(f.arms.without.F).toBe(FEATURE_NAMES.length - 4);
      expect(f.nTest).toBeGreaterThan(0);
      expect(f.horizons.map((c) => c.horizon)).toEqual([1, 2]);
      expect(f.textCoverage.test).toBeCloseTo(2 / 3, 1);
      for (const c of f.horizons) {
        expect(Number.isFinite(c.withSentiment.pinball) && Number.isFinite(c.withoutSentiment.pinball)).toBe(true);
        // Different inputs, different models: the arms' losses are not copies of each other.
        expect(c.withSentiment.pinball).not.toBe(c.withoutSentiment.pinball);
      }
    }
    expect(r.pooled[0]!.n).toBe(r.folds[0]!.horizons[0]!.n + r.folds[1]!.horizons[0]!.n);
    expect(r.config.droppedColumns).toEqual(['vaderMean', 'vaderStd', 'log1p(textCount)', 'finbertMean']);
    expect(r.verdicts).toHaveLength(2);
    const md = renderAblationMarkdown(r);
    expect(md).toMatch(/\| all \| pooled \| 1 \|/);
    expect(md.split('\n').filter((l) => l.startsWith('| 1 |') || l.startsWith('| 2 |'))).toHaveLength(4);
  });

  it('refuses no folds, an empty series, a fold the series does not cover and a fold in the final window', async () => {
    const loaded = await loadTf('cpu');
    await rejection(runSentimentAblation({ ...base, loaded, folds: [] }), /at least one fold/);
    await rejection(runSentimentAblation({ ...base, loaded, series: [], folds: [fold(0, T0 + day)] }), /non-empty/);
    await rejection(runSentimentAblation({ ...base, loaded, folds: [fold(0, T0 + 25 * day)] }), /does not cover|no complete feature rows/);
    await rejection(runSentimentAblation({ ...base, loaded, folds: [fold(0, FINAL_WINDOW_START - 5 * day)] }), /final evaluation window/);
  });
});
