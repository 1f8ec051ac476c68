// Training windows from feature vectors (pure). One series (symbol + interval) sorted by eventTime
// becomes windows of its last T scale-free feature rows, normalised with a Normalizer fitted on the
// training range only, with the next period's log return as target.
//
// Rules (issue 5): no window and no label spans a data gap; hourly data from FINAL_WINDOW_START on
// is the final evaluation window and nothing may be fitted, tuned or early-stopped on it.
//
// Time convention: t = eventTime = the candle's CLOSE time. A window "at t" uses only rows with
// eventTime <= t; its label is row i+1 (eventTime t + one interval), the candle that opened at t.
// So with `to` = FINAL_WINDOW_START, the last label is the candle that closes at 2025-01-01T00:00,
// which opened in 2024: a training range ending at FINAL_WINDOW_START never reads 2025 data.
import { BitPredictError } from '../../errors.js';
import type { FeatureVector } from '../../../schemas/types.js';

/** Windows of the last T feature rows of one series, normalised, with next-period targets. */
export interface WindowSet {
  /** Steps per window. */
  T: number;
  /** Features per step (FEATURE_COLUMNS.length). */
  F: number;
  /** Windows. */
  n: number;
  /** n*T*F, row-major [window][step][feature], normalised. */
  X: Float32Array;
  /** n: next-period log return ln(close(t+1)/close(t)). */
  yReturn: Float32Array;
  /** The forecast horizons (steps, ascending) of yHorizons. */
  horizons: number[];
  /**
   * n*H, [window][horizon]: ln(close(t+h)/close(t)) per horizon h, NaN when that label is missing
   * (a step inside it spans a gap, or it ends after the data or after `labelTo`).
   */
  yHorizons: Float32Array;
  /** n: 1 if yReturn > 0 else 0. */
  yUp: Uint8Array;
  /** n: t = eventTime of the window's last step (ms). */
  eventTimes: Float64Array;
  /** n: close at t. */
  closes: Float64Array;
}

/** Mean and standard deviation per feature column; JSON-serialisable, saved with the model. */
export interface Normalizer {
  columns: string[];
  mean: number[];
  std: number[];
}

/** The std floor of fitNormalizer; a column at the floor was constant over the training range. */
export const STD_FLOOR = 1e-8;

export interface FeatureColumn {
  name: string;
  /** Value of the column, or null when an input it needs is null (warm-up, after a gap). */
  value(f: FeatureVector): number | null;
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);
const rel = (a: number | null, b: number | null): number | null => {
  const r = ratio(a, b);
  return r === null ? null : r - 1;
};

/**
 * The model's per-step inputs, all scale-free (no raw price levels). Price/indicator columns are
 * null while an input is null; the sentiment columns are never null (no text = 0).
 */
export const FEATURE_COLUMNS: readonly FeatureColumn[] = [
  { name: 'logReturn1', value: (f) => f.logReturn1 },
  { name: 'logReturn4', value: (f) => f.logReturn4 },
  { name: 'logReturn24', value: (f) => f.logReturn24 },
  { name: 'rsi14/100', value: (f) => (f.rsi14 === null ? null : f.rsi14 / 100) },
  { name: 'macdHist/close', value: (f) => ratio(f.macdHist, f.close) },
  { name: 'bbPercentB', value: (f) => f.bbPercentB },
  { name: 'bbWidth', value: (f) => f.bbWidth },
  { name: 'atr14/close', value: (f) => ratio(f.atr14, f.close) },
  { name: 'realizedVol24', value: (f) => f.realizedVol24 },
  { name: 'volumeZ20', value: (f) => f.volumeZ20 },
  { name: 'close/sma20-1', value: (f) => rel(f.close, f.sma20) },
  { name: 'close/sma50-1', value: (f) => rel(f.close, f.sma50) },
  { name: 'close/ema50-1', value: (f) => rel(f.close, f.ema50) },
  { name: 'vwap24/close-1', value: (f) => rel(f.vwap24, f.close) },
  { name: 'vaderMean', value: (f) => f.vaderMean ?? 0 },
  { name: 'vaderStd', value: (f) => f.vaderStd ?? 0 },
  { name: 'log1p(textCount)', value: (f) => Math.log1p(f.textCount ?? 0) },
  { name: 'finbertMean', value: (f) => f.finbertMean ?? 0 },
];

/** Names of FEATURE_COLUMNS, in order (recorded with a model; a model refuses other lists). */
export const FEATURE_NAMES: string[] = FEATURE_COLUMNS.map((c) => c.name);

const F = FEATURE_COLUMNS.length;

/** The feature row of one vector, or null when any non-sentiment input is null (or not finite). */
export function featureRow(f: FeatureVector): Float64Array | null {
  const row = new Float64Array(F);
  for (let j = 0; j < F; j++) {
    const v = (FEATURE_COLUMNS[j] as FeatureColumn).value(f);
    if (v === null || !Number.isFinite(v)) return null;
    row[j] = v;
  }
  return row;
}

/** Start of the final evaluation window of hourly data (2025-01-01T00:00Z). */
export const FINAL_WINDOW_START = Date.UTC(2025, 0, 1);

export type DataPurpose = 'fit' | 'tune' | 'early-stop' | 'final-report';

/**
 * Why a model is fitted: 'research' (train, evaluate, walk-forward, backtest: the final-window rule
 * holds) or 'live' (the trainer service, the demo, `train --live`: the range ends at the latest data).
 */
export type FitPurpose = 'research' | 'live';

export interface TimeRange {
  from: number;
  to: number;
}

/**
 * Guards the final evaluation window: fitting, tuning and early stopping on hourly data may not
 * read anything at or after FINAL_WINDOW_START (range.to is exclusive, so to = FINAL_WINDOW_START
 * is allowed). Only 'final-report' may.
 */
export function assertNotFinal(range: TimeRange, interval: string, purpose: DataPurpose): void {
  if (purpose !== 'fit' && purpose !== 'tune' && purpose !== 'early-stop' && purpose !== 'final-report') {
    throw new BitPredictError('ERR_VALIDATION', `assertNotFinal: purpose must be fit, tune, early-stop or final-report, got ${JSON.stringify(purpose)}`);
  }
  if (typeof range.to !== 'number' || Number.isNaN(range.to)) {
    throw new BitPredictError('ERR_VALIDATION', `assertNotFinal: range.to must be a number (ms), got ${String(range.to)}`);
  }
  if (purpose === 'final-report') return;
  if (interval === '1h' && range.to > FINAL_WINDOW_START) {
    throw new BitPredictError(
      'ERR_VALIDATION',
      `range.to ${new Date(range.to).toISOString()} reaches into the final evaluation window (hourly data from ${new Date(FINAL_WINDOW_START).toISOString()}); '${purpose}' may not read it, only the final report may`,
    );
  }
}

/**
 * Checks that `series` is one symbol+interval, one featureSetVersion, strictly increasing
 * eventTime (sorted, unique). Throws ERR_VALIDATION naming the first offending row.
 */
export function validateSeries(series: readonly FeatureVector[]): void {
  const first = series[0];
  if (first === undefined) return;
  for (let i = 0; i < series.length; i++) {
    const f = series[i] as FeatureVector;
    if (!Number.isSafeInteger(f.eventTime)) {
      throw new BitPredictError('ERR_VALIDATION', `series[${i}].eventTime must be a safe integer (ms), got ${String(f.eventTime)}`);
    }
    if (f.symbol !== first.symbol || f.interval !== first.interval) {
      throw new BitPredictError(
        'ERR_VALIDATION',
        `series mixes series: series[${i}] is ${f.symbol}:${f.interval}, series[0] is ${first.symbol}:${first.interval}`,
      );
    }
    if (f.featureSetVersion !== first.featureSetVersion) {
      throw new BitPredictError(
        'ERR_VALIDATION',
        `series mixes feature set versions: series[${i}].featureSetVersion is "${f.featureSetVersion}", series[0] has "${first.featureSetVersion}"`,
      );
    }
    if (i > 0) {
      const prev = (series[i - 1] as FeatureVector).eventTime;
      if (f.eventTime <= prev) {
        throw new BitPredictError(
          'ERR_VALIDATION',
          `series must be sorted by eventTime with no duplicates: series[${i}].eventTime ${new Date(f.eventTime).toISOString()} is not after series[${i - 1}] (${new Date(prev).toISOString()})`,
        );
      }
    }
  }
}

function validateRange(name: string, from: number | undefined, to: number | undefined): void {
  if (from !== undefined && (typeof from !== 'number' || Number.isNaN(from)))
    throw new BitPredictError('ERR_VALIDATION', `${name}: from must be a number (ms), got ${String(from)}`);
  if (to !== undefined && (typeof to !== 'number' || Number.isNaN(to)))
    throw new BitPredictError('ERR_VALIDATION', `${name}: to must be a number (ms), got ${String(to)}`);
  if (from !== undefined && to !== undefined && from >= to) {
    throw new BitPredictError('ERR_VALIDATION', `${name}: from (${String(from)}) must be before to (${String(to)})`);
  }
}

/**
 * Mean and population standard deviation (floored at 1e-8) of every feature column over the rows
 * with from <= eventTime < to whose featureRow is not null. Only that range is read: this is the
 * training range. For research ('research', the default) hourly data may not reach the final window
 * (assertNotFinal 'fit'); the live trainer ('live') fits on the latest data, which the final-window
 * rule does not cover: it protects research figures, not the model serving now.
 */
export function fitNormalizer(series: readonly FeatureVector[], range: TimeRange, purpose: FitPurpose = 'research'): Normalizer {
  validateRange('fitNormalizer', range.from, range.to);
  validateSeries(series);
  if (purpose !== 'research' && purpose !== 'live')
    throw new BitPredictError('ERR_VALIDATION', `fitNormalizer: purpose must be research or live, got ${JSON.stringify(purpose)}`);
  const first = series[0];
  if (first !== undefined && purpose === 'research') assertNotFinal(range, first.interval, 'fit');
  const sum = new Float64Array(F);
  let n = 0;
  const rows: Float64Array[] = [];
  for (const f of series) {
    if (f.eventTime < range.from || f.eventTime >= range.to) continue;
    const row = featureRow(f);
    if (row === null) continue;
    rows.push(row);
    for (let j = 0; j < F; j++) sum[j] = (sum[j] as number) + (row[j] as number);
    n++;
  }
  if (n === 0) {
    throw new BitPredictError(
      'ERR_VALIDATION',
      `fitNormalizer: no complete feature rows with eventTime in [${new Date(range.from).toISOString()}, ${new Date(range.to).toISOString()})`,
    );
  }
  const mean = Array.from(sum, (s) => s / n);
  const sq = new Float64Array(F);
  for (const row of rows) {
    for (let j = 0; j < F; j++) {
      const d = (row[j] as number) - (mean[j] as number);
      sq[j] = (sq[j] as number) + d * d;
    }
  }
  const std = Array.from(sq, (s) => Math.max(Math.sqrt(s / n), STD_FLOOR));
  return { columns: [...FEATURE_NAMES], mean, std };
}

/**
 * Checks a normalizer (for example one loaded from a model artifact): columns must be exactly
 * FEATURE_NAMES, mean/std finite, std > 0. Returns it typed; throws ERR_VALIDATION otherwise.
 */
export function parseNormalizer(value: unknown): Normalizer {
  if (typeof value !== 'object' || value === null) throw new BitPredictError('ERR_VALIDATION', 'normalizer must be an object with columns, mean and std');
  const v = value as Record<string, unknown>;
  const { columns, mean, std } = v;
  if (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string'))
    throw new BitPredictError('ERR_VALIDATION', 'normalizer.columns must be an array of strings');
  if (columns.length !== F || columns.some((c, j) => c !== FEATURE_NAMES[j])) {
    throw new BitPredictError(
      'ERR_VALIDATION',
      `normalizer.columns [${columns.join(', ')}] do not match this code's feature columns [${FEATURE_NAMES.join(', ')}]`,
    );
  }
  if (!Array.isArray(mean) || mean.length !== F || !mean.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new BitPredictError('ERR_VALIDATION', `normalizer.mean must be ${F} finite numbers`);
  }
  if (!Array.isArray(std) || std.length !== F || !std.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)) {
    throw new BitPredictError('ERR_VALIDATION', `normalizer.std must be ${F} finite numbers > 0`);
  }
  return { columns, mean: mean as number[], std: std as number[] };
}

/**
 * (row - mean) / std per column, written to `out` at `offset` (a new Float32Array by default).
 * A column whose std is at the floor (constant in training, e.g. finbertMean when the training
 * features had no FinBERT scores) maps to 0, the only value the model ever saw there: dividing a
 * live value by 1e-8 would feed it numbers around 1e7.
 */
export function applyNormalizer(row: ArrayLike<number>, normalizer: Normalizer, out: Float32Array = new Float32Array(F), offset = 0): Float32Array {
  if (row.length !== normalizer.mean.length) {
    throw new BitPredictError('ERR_VALIDATION', `applyNormalizer: row has ${row.length} values, normalizer has ${normalizer.mean.length} columns`);
  }
  for (let j = 0; j < row.length; j++) {
    const sd = normalizer.std[j] as number;
    out[offset + j] = sd <= STD_FLOOR ? 0 : ((row[j] as number) - (normalizer.mean[j] as number)) / sd;
  }
  return out;
}

export interface BuildWindowsOptions {
  /** Steps per window (>= 1). */
  T: number;
  /** Include windows whose last step has eventTime >= from (default: all). */
  from?: number;
  /** Include windows whose last step has eventTime < to (default: all). */
  to?: number;
  normalizer: Normalizer;
  /** Forecast horizons in steps (ascending positive integers; default [1]). */
  horizons?: readonly number[];
  /**
   * Horizon labels whose last candle closes after this time (ms) are missing (NaN). Training passes
   * the end of its range, so no label reads the validation range or the final window.
   */
  labelTo?: number;
}

function checkHorizons(horizons: readonly number[]): number[] {
  const hs: number[] = Array.isArray(horizons) ? Array.from(horizons as readonly number[]) : [];
  if (hs.length === 0 || !hs.every((h, i) => Number.isSafeInteger(h) && h >= 1 && (i === 0 || h > hs[i - 1]!)))
    throw new BitPredictError('ERR_VALIDATION', `horizons must be ascending positive integers, got ${JSON.stringify(horizons)}`);
  return hs;
}

/**
 * ln(close(i+h)/close(i)), or NaN when a row i+1..i+h is missing, follows a gap, has no finite
 * logReturn1 (the rule windowEnds applies to the one-step label), or closes after labelTo.
 */
function horizonLabel(series: readonly FeatureVector[], i: number, h: number, labelTo: number): number {
  const end = series[i + h];
  if (end === undefined || end.eventTime > labelTo) return Number.NaN;
  for (let k = i + 1; k <= i + h; k++) {
    const f = series[k] as FeatureVector;
    if (f.gapBefore || f.logReturn1 === null || !Number.isFinite(f.logReturn1)) return Number.NaN;
  }
  const r = Math.log(end.close / (series[i] as FeatureVector).close);
  return Number.isFinite(r) ? r : Number.NaN;
}

function checkT(T: number): void {
  if (!Number.isSafeInteger(T) || T < 1) throw new BitPredictError('ERR_VALIDATION', `T (steps per window) must be an integer >= 1, got ${String(T)}`);
}

/**
 * Indices i of the rows that end a valid window: all T rows i-T+1..i have a feature row, no row
 * after the first has gapBefore, the label row i+1 exists with gapBefore false and a logReturn1,
 * and from <= eventTime(i) < to. `raws` are the series' featureRow values.
 */
function windowEnds(
  series: readonly FeatureVector[],
  raws: readonly (Float64Array | null)[],
  T: number,
  from = Number.NEGATIVE_INFINITY,
  to = Number.POSITIVE_INFINITY,
): number[] {
  const N = series.length;
  // For each i, the length of the run of consecutive usable rows ending at i (a row with
  // gapBefore starts a new run).
  const run = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    if (raws[i] === null) run[i] = 0;
    else run[i] = (series[i] as FeatureVector).gapBefore || i === 0 ? 1 : (run[i - 1] as number) + 1;
  }
  const ends: number[] = [];
  for (let i = T - 1; i < N - 1; i++) {
    const f = series[i] as FeatureVector;
    if (f.eventTime < from || f.eventTime >= to) continue;
    if ((run[i] as number) < T) continue;
    const label = series[i + 1] as FeatureVector;
    if (label.gapBefore || label.logReturn1 === null || !Number.isFinite(label.logReturn1)) continue;
    ends.push(i);
  }
  return ends;
}

/**
 * The times and targets of the windows buildWindows would build, without building them (no
 * normaliser, no n*T*F inputs): what fold planning and causal baselines need.
 */
export function windowTargets(
  series: readonly FeatureVector[],
  opts: Omit<BuildWindowsOptions, 'normalizer'>,
): { n: number; eventTimes: Float64Array; yReturn: Float32Array } {
  checkT(opts.T);
  validateRange('windowTargets', opts.from, opts.to);
  validateSeries(series);
  const ends = windowEnds(series, series.map(featureRow), opts.T, opts.from, opts.to);
  const eventTimes = new Float64Array(ends.length);
  const yReturn = new Float32Array(ends.length);
  ends.forEach((i, w) => {
    eventTimes[w] = (series[i] as FeatureVector).eventTime;
    yReturn[w] = (series[i + 1] as FeatureVector).logReturn1 as number;
  });
  return { n: ends.length, eventTimes, yReturn };
}

/**
 * The windows of one series. The window ending at row i holds rows i-T+1..i and is kept only when
 * all T rows have a feature row, no row after its first has gapBefore, and the label row i+1
 * exists with gapBefore false and a logReturn1; and from <= eventTime(i) < to.
 */
export function buildWindows(series: readonly FeatureVector[], opts: BuildWindowsOptions): WindowSet {
  const { T } = opts;
  checkT(T);
  validateRange('buildWindows', opts.from, opts.to);
  validateSeries(series);
  const normalizer = parseNormalizer(opts.normalizer);
  const raws = series.map(featureRow);
  const rows = raws.map((raw) => (raw === null ? null : applyNormalizer(raw, normalizer)));
  const ends = windowEnds(series, raws, T, opts.from, opts.to);
  const n = ends.length;
  const horizons = checkHorizons(opts.horizons ?? [1]);
  const H = horizons.length;
  const labelTo = opts.labelTo ?? Number.POSITIVE_INFINITY;
  if (typeof labelTo !== 'number' || Number.isNaN(labelTo))
    throw new BitPredictError('ERR_VALIDATION', `buildWindows: labelTo must be a number (ms), got ${String(labelTo)}`);
  const X = new Float32Array(n * T * F);
  const yReturn = new Float32Array(n);
  const yHorizons = new Float32Array(n * H);
  const yUp = new Uint8Array(n);
  const eventTimes = new Float64Array(n);
  const closes = new Float64Array(n);
  for (let w = 0; w < n; w++) {
    const i = ends[w] as number;
    for (let s = 0; s < T; s++) X.set(rows[i - T + 1 + s] as Float32Array, (w * T + s) * F);
    const r = (series[i + 1] as FeatureVector).logReturn1 as number;
    yReturn[w] = r;
    yUp[w] = r > 0 ? 1 : 0;
    eventTimes[w] = (series[i] as FeatureVector).eventTime;
    closes[w] = (series[i] as FeatureVector).close;
    for (let k = 0; k < H; k++) yHorizons[w * H + k] = horizonLabel(series, i, horizons[k]!, labelTo);
  }
  return { T, F, n, X, yReturn, horizons, yHorizons, yUp, eventTimes, closes };
}

/**
 * The normalised window ending at the series' LAST row (for live prediction: no label needed), or
 * null when the last T rows do not form a valid window (warm-up, or a gap inside it). `series` is
 * validated like buildWindows (one series, sorted, unique); only its last T rows are read.
 */
export function lastWindow(series: readonly FeatureVector[], T: number, normalizerValue: Normalizer): Float32Array | null {
  checkT(T);
  const tail = series.slice(Math.max(0, series.length - T));
  validateSeries(tail);
  if (tail.length < T) return null;
  const normalizer = parseNormalizer(normalizerValue);
  const X = new Float32Array(T * F);
  for (let s = 0; s < T; s++) {
    const f = tail[s] as FeatureVector;
    if (s > 0 && f.gapBefore) return null;
    const raw = featureRow(f);
    if (raw === null) return null;
    applyNormalizer(raw, normalizer, X, s * F);
  }
  return X;
}
