// Sentiment ablation: does the LSTM-attention distributional model forecast better with the
// sentiment columns in its input than without them? Two arms per fold, identical in everything
// else: the same windows (same rows, same labels, same normaliser fitted on the training range),
// the same seed (so the same batch order), the same hyperparameters and the same early stopping
// on the same validation windows. The "without" arm has the sentiment columns REMOVED from the
// input (its model has F - k inputs), not zeroed: the network cannot learn anything from them,
// not even a bias through a constant column. (The LSTM's first kernel has a different shape, so
// its initial weights cannot be identical; every other layer is drawn from the same seed.)
// Scored per test window and horizon with the pinball loss of the calibrated distribution
// (core/forecast/scoring) and the head's Student-t NLL, compared with Diebold-Mariano (HLN, h-1
// lags: h-step labels of consecutive hours overlap). Development only: every fold ends before the
// final evaluation window.
import { BitPredictError } from '../core/errors.js';
import type { FeatureVector } from '../schemas/types.js';
import type { LoadedTf, TfModule } from '../core/models/tf.js';
import type { LayersModel } from '@tensorflow/tfjs';
import { assertNotFinal, buildWindows, fitNormalizer, FEATURE_NAMES, type WindowSet } from '../core/models/domain/dataset.js';
import { distributionsOf, studentTNll, type ForecastBlock } from '../core/models/head.js';
import { pinballLoss } from '../core/forecast/scoring.js';
import { dieboldMariano } from '../core/forecast/stats.js';
import { predictHead, trainModel, TRAIN_DEFAULTS, type EpochInfo } from './model/train.js';

const DAY = 86_400_000;
const iso = (t: number): string => new Date(t).toISOString();

/** Feature columns fed by texts (VADER, FinBERT, the text count): what "without sentiment" removes. */
const SENTIMENT_PATTERN = /vader|finbert|textcount/i;

/** Indices of the sentiment columns among `names` (default: the model's FEATURE_NAMES). */
export function sentimentColumns(names: readonly string[] = FEATURE_NAMES): number[] {
  const idx = names.flatMap((n, j) => (SENTIMENT_PATTERN.test(n) ? [j] : []));
  if (idx.length === 0) throw new BitPredictError('ERR_VALIDATION', `no sentiment columns among the feature columns [${names.join(', ')}]: nothing to ablate`);
  if (idx.length === names.length) throw new BitPredictError('ERR_VALIDATION', 'every feature column is a sentiment column: removing them leaves no input');
  return idx;
}

/** The same windows with the columns `drop` removed from every step (F shrinks by drop.length). */
export function dropColumns(set: WindowSet, drop: readonly number[]): WindowSet {
  const { n, T, F } = set;
  const gone = new Set(drop);
  if (gone.size !== drop.length || drop.some((j) => !Number.isSafeInteger(j) || j < 0 || j >= F))
    throw new BitPredictError('ERR_VALIDATION', `columns to drop ${JSON.stringify(drop)} must be distinct integers in [0, ${F})`);
  if (gone.size >= F) throw new BitPredictError('ERR_VALIDATION', `dropping ${gone.size} of ${F} columns leaves no input`);
  if (set.X.length !== n * T * F) throw new BitPredictError('ERR_VALIDATION', `windows have ${set.X.length} values, expected n*T*F = ${n * T * F}`);
  const keep = Array.from({ length: F }, (_, j) => j).filter((j) => !gone.has(j));
  const K = keep.length;
  const X = new Float32Array(n * T * K);
  for (let r = 0; r < n * T; r++) for (let k = 0; k < K; k++) X[r * K + k] = set.X[r * F + keep[k]!]!;
  return { ...set, F: K, X };
}

export interface AblationFold {
  index: number;
  trainFrom: number;
  /** = validation start. */
  trainTo: number;
  /** = test start. */
  valTo: number;
  testTo: number;
}

export interface AblationFoldOptions {
  /** End of the last test range (exclusive, ms); must not reach the final window. */
  end: number;
  count: number;
  /** Test span of each fold in calendar months (default 3: quarters). */
  testMonths?: number;
  /** Validation (early stopping, shape calibration) days before each test range (default 30). */
  valDays?: number;
  /** Training days before each validation range (default 365). */
  trainDays?: number;
}

/**
 * `count` folds whose test ranges tile the `count * testMonths` calendar months before `end`;
 * each trains on `trainDays` and validates on `valDays` right before its test range. Every fold,
 * test range included, lies before the final evaluation window (hourly data from 2025-01-01).
 */
export function ablationFolds(o: AblationFoldOptions): AblationFold[] {
  const testMonths = o.testMonths ?? 3;
  const valDays = o.valDays ?? 30;
  const trainDays = o.trainDays ?? 365;
  for (const [k, v, min] of [
    ['count', o.count, 1],
    ['testMonths', testMonths, 1],
    ['valDays', valDays, 1],
    ['trainDays', trainDays, 1],
  ] as const)
    if (!Number.isSafeInteger(v) || v < min) throw new BitPredictError('ERR_VALIDATION', `ablation folds: ${k} must be an integer >= ${min}, got ${String(v)}`);
  if (!Number.isFinite(o.end)) throw new BitPredictError('ERR_VALIDATION', `ablation folds: end must be a time in ms, got ${String(o.end)}`);
  const end = new Date(o.end);
  const monthsBack = (m: number): number => Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - m, end.getUTCDate(), end.getUTCHours());
  const folds: AblationFold[] = [];
  for (let i = 0; i < o.count; i++) {
    const testFrom = monthsBack((o.count - i) * testMonths);
    const testTo = monthsBack((o.count - i - 1) * testMonths);
    const trainTo = testFrom - valDays * DAY;
    const fold = { index: i, trainFrom: trainTo - trainDays * DAY, trainTo, valTo: testFrom, testTo };
    // Development only: nothing of a fold, its test labels included, may read the final window.
    assertNotFinal({ from: fold.trainFrom, to: fold.testTo }, '1h', 'fit');
    folds.push(fold);
  }
  return folds;
}

/** Per test window and horizon ([window][horizon], NaN where the label is missing). */
export interface WindowLosses {
  horizons: number[];
  n: number;
  eventTimes: Float64Array;
  /** Pinball loss over the quantile grid of the calibrated distribution (log-return units). */
  pinball: Float64Array;
  /** Student-t NLL of the head, in log-return units (standardised NLL + ln targetScale). */
  nll: Float64Array;
}

/** Scores a trained head on labelled windows, window by window. */
export function windowLosses(tf: TfModule, model: LayersModel, block: ForecastBlock, set: WindowSet): WindowLosses {
  const H = block.horizons.length;
  const out = predictHead(tf, model, set.X, set.n, set.T, set.F);
  const pinball = new Float64Array(set.n * H).fill(Number.NaN);
  const nll = new Float64Array(set.n * H).fill(Number.NaN);
  for (let i = 0; i < set.n; i++) {
    const d = distributionsOf(block, out.mu, out.sigma, i);
    for (let k = 0; k < H; k++) {
      const y = set.yHorizons[i * H + k]!;
      if (!Number.isFinite(y)) continue;
      const s = block.targetScales[k]!;
      pinball[i * H + k] = pinballLoss(d[k]!.quantiles, y, block.quantileLevels);
      nll[i * H + k] = studentTNll(y / s, out.mu[i * H + k]!, out.sigma[i * H + k]!, block.dof) + Math.log(s);
    }
  }
  return { horizons: [...block.horizons], n: set.n, eventTimes: Float64Array.from(set.eventTimes), pinball, nll };
}

/** Concatenates the losses of consecutive folds (in time order) for the pooled comparison. */
export function concatLosses(parts: readonly WindowLosses[]): WindowLosses {
  const first = parts[0];
  if (first === undefined) throw new BitPredictError('ERR_VALIDATION', 'no folds to pool');
  for (const p of parts)
    if (p.horizons.join(',') !== first.horizons.join(','))
      throw new BitPredictError('ERR_VALIDATION', `folds with different horizons: ${JSON.stringify(p.horizons)} vs ${JSON.stringify(first.horizons)}`);
  const cat = (f: (p: WindowLosses) => Float64Array): Float64Array => {
    const out = new Float64Array(parts.reduce((a, p) => a + f(p).length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(f(p), at);
      at += f(p).length;
    }
    return out;
  };
  return {
    horizons: [...first.horizons],
    n: parts.reduce((a, p) => a + p.n, 0),
    eventTimes: cat((p) => p.eventTimes),
    pinball: cat((p) => p.pinball),
    nll: cat((p) => p.nll),
  };
}

export interface DmTest {
  stat: number;
  pValue: number;
}

export interface HorizonComparison {
  horizon: number;
  /** Windows scored at this horizon (the same in both arms). */
  n: number;
  withSentiment: { pinball: number; nll: number };
  withoutSentiment: { pinball: number; nll: number };
  /** without - with: > 0 means the sentiment columns lower the loss (help). */
  gain: { pinball: number; nll: number; pinballPct: number };
  /** Diebold-Mariano on the per-window differences (without - with), h-1 lags; null when too few pairs. */
  dmPinball: DmTest | null;
  dmNll: DmTest | null;
}

/** The significance level of the verdicts. */
export const ALPHA = 0.05;

function dmOrNull(a: number[], b: number[], h: number): DmTest | null {
  if (a.length < Math.max(3, 2 * h)) return null;
  const r = dieboldMariano(a, b, h);
  return { stat: r.stat, pValue: r.pValue };
}

/**
 * Per horizon: mean losses of both arms over the windows, their difference and the DM tests.
 * The arms were scored on the same windows, so a label present in one and missing in the other is
 * a wiring error, not data.
 */
export function compareArms(withL: WindowLosses, withoutL: WindowLosses): HorizonComparison[] {
  const hs = withL.horizons;
  if (withL.n !== withoutL.n || hs.join(',') !== withoutL.horizons.join(','))
    throw new BitPredictError(
      'ERR_VALIDATION',
      `the arms were scored on different windows: ${withL.n} vs ${withoutL.n} windows, horizons ${JSON.stringify(hs)} vs ${JSON.stringify(withoutL.horizons)}`,
    );
  if (withL.n === 0) throw new BitPredictError('ERR_VALIDATION', 'no test windows to compare');
  const H = hs.length;
  return hs.map((h, k) => {
    const p = { w: [] as number[], wo: [] as number[] };
    const l = { w: [] as number[], wo: [] as number[] };
    for (let i = 0; i < withL.n; i++) {
      if (withL.eventTimes[i] !== withoutL.eventTimes[i]) throw new BitPredictError('ERR_VALIDATION', `the arms' window ${i} differ in time`);
      const a = withL.pinball[i * H + k]!;
      const b = withoutL.pinball[i * H + k]!;
      if (Number.isNaN(a) !== Number.isNaN(b)) throw new BitPredictError('ERR_VALIDATION', `window ${i}, horizon ${h}: scored in one arm only`);
      if (Number.isNaN(a)) continue;
      p.w.push(a);
      p.wo.push(b);
      l.w.push(withL.nll[i * H + k]!);
      l.wo.push(withoutL.nll[i * H + k]!);
    }
    if (p.w.length === 0) throw new BitPredictError('ERR_VALIDATION', `horizon ${h}: no test window has a label`);
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    const withSentiment = { pinball: mean(p.w), nll: mean(l.w) };
    const withoutSentiment = { pinball: mean(p.wo), nll: mean(l.wo) };
    const gainPinball = withoutSentiment.pinball - withSentiment.pinball;
    return {
      horizon: h,
      n: p.w.length,
      withSentiment,
      withoutSentiment,
      gain: { pinball: gainPinball, nll: withoutSentiment.nll - withSentiment.nll, pinballPct: (100 * gainPinball) / withoutSentiment.pinball },
      dmPinball: dmOrNull(p.wo, p.w, h),
      dmNll: dmOrNull(l.wo, l.w, h),
    };
  });
}

/** One line per horizon: helps / hurts at ALPHA on the pinball DM test, or no detectable difference. */
export function verdictOf(c: HorizonComparison): string {
  const pct = `${c.gain.pinballPct >= 0 ? '-' : '+'}${Math.abs(c.gain.pinballPct).toFixed(2)} % pinball loss with sentiment`;
  if (c.dmPinball === null) return `h=${c.horizon}: ${pct}; too few windows for a test`;
  const p = `DM p = ${c.dmPinball.pValue.toPrecision(2)}`;
  if (c.dmPinball.pValue >= ALPHA) return `h=${c.horizon}: no detectable difference (${pct}, ${p})`;
  return `h=${c.horizon}: sentiment ${c.gain.pinball > 0 ? 'helps' : 'hurts'} (${pct}, ${p})`;
}

/** Share of the vectors with from <= eventTime < to that had at least one text in their sentiment window. */
export function sentimentCoverage(series: readonly FeatureVector[], from: number, to: number): number {
  let n = 0;
  let withText = 0;
  for (const f of series) {
    if (f.eventTime < from || f.eventTime >= to) continue;
    n++;
    if ((f.textCount ?? 0) > 0) withText++;
  }
  return n === 0 ? 0 : withText / n;
}

export interface AblationOptions {
  loaded: LoadedTf;
  series: FeatureVector[];
  interval: string;
  horizons: readonly number[];
  folds: readonly AblationFold[];
  T: number;
  epochs: number;
  units: number;
  seed: number;
  batchSize?: number;
  learningRate?: number;
  onProgress?(line: string): void;
  onEpoch?(fold: number, arm: Arm, e: EpochInfo): void;
  onBatch?(fold: number, arm: Arm, batch: number, batches: number): void;
}

export type Arm = 'with' | 'without';

export interface ArmRun {
  F: number;
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  calibratedOn: 'validation' | 'training';
  trainSeconds: number;
}

export interface AblationFoldResult {
  index: number;
  trainFrom: string;
  trainTo: string;
  valTo: string;
  testFrom: string;
  testTo: string;
  nTrain: number;
  nVal: number;
  nTest: number;
  /** Share of hours with >= 1 text in the sentiment window, on the training and test ranges. */
  textCoverage: { train: number; test: number };
  arms: Record<Arm, ArmRun>;
  horizons: HorizonComparison[];
}

export interface AblationResult {
  schemaVersion: 1;
  question: string;
  purpose: 'development';
  interval: string;
  config: {
    T: number;
    epochs: number;
    patience: number;
    units: number;
    seed: number;
    batchSize: number;
    learningRate: number;
    horizons: number[];
    featureColumns: string[];
    droppedColumns: string[];
    method: string;
  };
  folds: AblationFoldResult[];
  /** All folds' test windows together (DM over the concatenated series). */
  pooled: HorizonComparison[];
  verdicts: string[];
}

async function trainArm(
  o: AblationOptions,
  fold: AblationFold,
  arm: Arm,
  sets: { train: WindowSet; val: WindowSet; test: WindowSet },
): Promise<{ run: ArmRun; losses: WindowLosses }> {
  const t0 = performance.now();
  const trained = await trainModel(o.loaded.tf, sets.train, sets.val.n > 0 ? sets.val : null, {
    epochs: o.epochs,
    batchSize: o.batchSize ?? TRAIN_DEFAULTS.batchSize,
    learningRate: o.learningRate ?? TRAIN_DEFAULTS.learningRate,
    // Same seed in both arms: the same batch order and the same draws for every layer whose shape
    // does not depend on F.
    seed: o.seed + fold.index,
    units: o.units,
    patience: TRAIN_DEFAULTS.patience,
    onEpoch: (e) => o.onEpoch?.(fold.index + 1, arm, e),
    onBatch: (b, bs) => o.onBatch?.(fold.index + 1, arm, b, bs),
  });
  try {
    const losses = windowLosses(o.loaded.tf, trained.model, trained.forecast, sets.test);
    return {
      run: {
        F: sets.train.F,
        bestEpoch: trained.bestEpoch,
        epochsRun: trained.history.length,
        stoppedEarly: trained.stoppedEarly,
        calibratedOn: trained.calibratedOn,
        trainSeconds: (performance.now() - t0) / 1000,
      },
      losses,
    };
  } finally {
    trained.model.dispose();
  }
}

/** Both arms on every fold, then the per-fold and pooled comparisons. */
export async function runSentimentAblation(o: AblationOptions): Promise<AblationResult> {
  if (o.folds.length === 0) throw new BitPredictError('ERR_VALIDATION', 'the ablation needs at least one fold');
  if (o.series.length === 0) throw new BitPredictError('ERR_VALIDATION', 'the ablation needs a non-empty feature series');
  const drop = sentimentColumns(FEATURE_NAMES);
  const say = o.onProgress ?? (() => undefined);
  const horizons = [...o.horizons];
  const folds: AblationFoldResult[] = [];
  const pooled: Record<Arm, WindowLosses[]> = { with: [], without: [] };
  for (const fold of o.folds) {
    assertNotFinal({ from: fold.trainFrom, to: fold.testTo }, o.interval, 'fit');
    const normalizer = fitNormalizer(o.series, { from: fold.trainFrom, to: fold.trainTo });
    // labelTo per range: no training label reads validation, no validation label reads the test range.
    const full = {
      train: buildWindows(o.series, { T: o.T, from: fold.trainFrom, to: fold.trainTo, normalizer, horizons, labelTo: fold.trainTo }),
      val: buildWindows(o.series, { T: o.T, from: fold.trainTo, to: fold.valTo, normalizer, horizons, labelTo: fold.valTo }),
      test: buildWindows(o.series, { T: o.T, from: fold.valTo, to: fold.testTo, normalizer, horizons, labelTo: fold.testTo }),
    };
    if (full.train.n === 0 || full.test.n === 0)
      throw new BitPredictError(
        'ERR_VALIDATION',
        `fold ${fold.index + 1}: ${full.train.n} training and ${full.test.n} test windows in ${iso(fold.trainFrom)} .. ${iso(fold.testTo)}; the series does not cover it`,
      );
    const reduced = { train: dropColumns(full.train, drop), val: dropColumns(full.val, drop), test: dropColumns(full.test, drop) };
    const coverage = { train: sentimentCoverage(o.series, fold.trainFrom, fold.trainTo), test: sentimentCoverage(o.series, fold.valTo, fold.testTo) };
    say(
      `fold ${fold.index + 1}/${o.folds.length}: train ${iso(fold.trainFrom)}..${iso(fold.trainTo)} (${full.train.n}), val ${full.val.n}, test ${iso(fold.valTo)}..${iso(fold.testTo)} (${full.test.n}); hours with text: train ${(100 * coverage.train).toFixed(0)} %, test ${(100 * coverage.test).toFixed(0)} %`,
    );
    const withArm = await trainArm(o, fold, 'with', full);
    say(`fold ${fold.index + 1}: with sentiment (F=${withArm.run.F}) trained in ${withArm.run.trainSeconds.toFixed(0)} s`);
    const withoutArm = await trainArm(o, fold, 'without', reduced);
    say(`fold ${fold.index + 1}: without sentiment (F=${withoutArm.run.F}) trained in ${withoutArm.run.trainSeconds.toFixed(0)} s`);
    const comparison = compareArms(withArm.losses, withoutArm.losses);
    for (const c of comparison) say(`fold ${fold.index + 1}: ${verdictOf(c)}`);
    pooled.with.push(withArm.losses);
    pooled.without.push(withoutArm.losses);
    folds.push({
      index: fold.index,
      trainFrom: iso(fold.trainFrom),
      trainTo: iso(fold.trainTo),
      valTo: iso(fold.valTo),
      testFrom: iso(fold.valTo),
      testTo: iso(fold.testTo),
      nTrain: full.train.n,
      nVal: full.val.n,
      nTest: full.test.n,
      textCoverage: coverage,
      arms: { with: withArm.run, without: withoutArm.run },
      horizons: comparison,
    });
  }
  const all = compareArms(concatLosses(pooled.with), concatLosses(pooled.without));
  return {
    schemaVersion: 1,
    question: 'Does the LSTM-attention distributional model forecast better with the sentiment columns than without them?',
    purpose: 'development',
    interval: o.interval,
    config: {
      T: o.T,
      epochs: o.epochs,
      patience: TRAIN_DEFAULTS.patience,
      units: o.units,
      seed: o.seed,
      batchSize: o.batchSize ?? TRAIN_DEFAULTS.batchSize,
      learningRate: o.learningRate ?? TRAIN_DEFAULTS.learningRate,
      horizons,
      featureColumns: [...FEATURE_NAMES],
      droppedColumns: drop.map((j) => FEATURE_NAMES[j]!),
      method: `without = the ${drop.length} sentiment columns removed from the model input (F ${FEATURE_NAMES.length} -> ${FEATURE_NAMES.length - drop.length}); same windows, normaliser, seed, hyperparameters, early stopping`,
    },
    folds,
    pooled: all,
    verdicts: all.map(verdictOf),
  };
}

const num = (x: number, d = 3): string => (Number.isFinite(x) ? x.toExponential(d) : String(x));
const pv = (t: DmTest | null): string => (t === null ? 'n/a' : `${t.stat.toFixed(2)} (p ${t.pValue.toPrecision(2)})`);

/** A markdown summary of a result: one table row per fold and horizon, then the pooled rows. */
export function renderAblationMarkdown(r: AblationResult): string {
  const head =
    '| fold | test | h | n | pinball with | pinball without | gain % | DM pinball (p) | NLL with | NLL without | DM NLL (p) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |';
  const row = (fold: string, test: string, c: HorizonComparison): string =>
    `| ${fold} | ${test} | ${c.horizon} | ${c.n} | ${num(c.withSentiment.pinball)} | ${num(c.withoutSentiment.pinball)} | ${c.gain.pinballPct.toFixed(2)} | ${pv(c.dmPinball)} | ${c.withSentiment.nll.toFixed(4)} | ${c.withoutSentiment.nll.toFixed(4)} | ${pv(c.dmNll)} |`;
  const rows = [
    ...r.folds.flatMap((f) => f.horizons.map((c) => row(String(f.index + 1), `${f.testFrom.slice(0, 10)}..${f.testTo.slice(0, 10)}`, c))),
    ...r.pooled.map((c) => row('all', 'pooled', c)),
  ];
  return [
    `# Sentiment ablation (${r.interval}, development)`,
    '',
    r.question,
    '',
    `Method: ${r.config.method}. T=${r.config.T}, units=${r.config.units}, epochs<=${r.config.epochs} (patience ${r.config.patience}), seed ${r.config.seed}.`,
    `Dropped: ${r.config.droppedColumns.join(', ')}. Gain = (without - with) / without: > 0 means sentiment lowers the loss. DM: HLN-corrected, h-1 lags, two-sided.`,
    '',
    head,
    ...rows,
    '',
    ...r.verdicts.map((v) => `- ${v}`),
    '',
  ].join('\n');
}
