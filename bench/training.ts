// training: seconds per epoch of the LSTM-attention model with its distributional head (trainer/model;
// Student-t NLL over the horizons 1, 4 and 24 h) on two years of real hourly BTCUSDT windows for
// every TensorFlow.js backend that loads here, and one full retrain with the wasm backend and the
// default hyperparameters (goal < 600 s), including the shape calibration on the validation range.
// The ranges are `bitpredict train`'s defaults: 730 days of training ending 30 days before
// 2025-01-01, then 30 validation days (never the 2025+ final window; no label reads past its range).
// cpu is timed on a subset and scaled (it is ~5x slower).
// ratio = cpu epoch seconds / wasm epoch seconds (the speed-up of the backend we ship).
//
// Inputs: the trainer's own pipeline (core/data/load.ts -> core/features/batch.ts ->
// core/models/domain/dataset.ts, feature set fs-2 without texts, so the 4 sentiment columns are 0) when it imports;
// otherwise simple scale-free columns computed here from the merged CSV (the output says which).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT, median, progress } from './common.js';
import { availableBackends, loadTf, type TfBackend } from '../core/models/tf.js';
import { trainModel, predict, scoreHead, TRAIN_DEFAULTS } from '../trainer/model/train.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import type { WindowSet } from '../core/models/domain/dataset.js';

export const T = 48;
const DATA_DIR = process.env.BITPREDICT_DATA_DIR ?? resolve(REPO_ROOT, '../shared/data');
const CSV = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TO = Date.UTC(2025, 0, 1); // exclusive: the final evaluation window starts here
const VAL_FROM = TO - 30 * DAY; // 30 validation days: early stopping and shape calibration only
const FROM = VAL_FROM - 730 * DAY;
const WARMUP_FROM = FROM - 60 * DAY; // indicators (SMA50, ...) warm up before FROM
/** The hourly forecast horizons (config default 1h:1,4,24). */
export const HORIZONS = [1, 4, 24];

export interface BenchData {
  source: string;
  train: WindowSet;
  val: WindowSet;
  columns: string[];
}

/** Two years of windows from the trainer pipeline (H7's dataset code). */
async function viaTrainerPipeline(): Promise<BenchData> {
  const { loadCandlesFromFile } = await import('../core/data/load.js');
  const { featuresFromCandles, seriesOf } = await import('../core/features/batch.js');
  const ds = await import('../core/models/domain/dataset.js');
  const candles = await loadCandlesFromFile(DATA_DIR, CSV, 'BTCUSDT', '1h', { from: WARMUP_FROM, to: TO });
  const series = seriesOf(featuresFromCandles(candles, [], { windowMs: 4 * HOUR }), 'BTCUSDT', '1h');
  // The label of the window at t is the candle closing at t+1h: keep windows with t + 1h <= TO.
  const normalizer = ds.fitNormalizer(series, { from: FROM, to: VAL_FROM });
  const train = ds.buildWindows(series, { T, from: FROM, to: VAL_FROM, normalizer, horizons: HORIZONS, labelTo: VAL_FROM });
  const val = ds.buildWindows(series, { T, from: VAL_FROM, to: TO - HOUR + 1, normalizer, horizons: HORIZONS, labelTo: TO });
  return { source: 'trainer pipeline (fs-2 features, no texts)', train, val, columns: [...ds.FEATURE_NAMES] };
}

/** Fallback: 8 scale-free columns from the raw CSV, z-scored on the training range. */
function viaCsv(): BenchData {
  const lines = readFileSync(resolve(DATA_DIR, CSV), 'utf8').trim().split('\n').slice(1);
  const rows = lines
    .map((l) => l.split(','))
    .map((p) => ({ t: Number(p[0]) + HOUR, o: Number(p[2]), h: Number(p[3]), l: Number(p[4]), c: Number(p[5]), v: Number(p[6]) }))
    .filter((r) => r.t >= WARMUP_FROM && r.t <= TO);
  const columns = ['logRet1', 'logRet4', 'logRet24', 'ln(h/l)', 'ln(c/o)', 'ln(c/sma24)', 'ln(v/vmean24)', 'hourOfDay'];
  const F = columns.length;
  const feat: (number[] | null)[] = rows.map((r, i) => {
    if (i < 24 || rows[i - 24]!.t !== r.t - 24 * HOUR) return null;
    let sma = 0;
    let vm = 0;
    for (let k = i - 23; k <= i; k++) {
      sma += rows[k]!.c / 24;
      vm += rows[k]!.v / 24;
    }
    return [
      Math.log(r.c / rows[i - 1]!.c),
      Math.log(r.c / rows[i - 4]!.c),
      Math.log(r.c / rows[i - 24]!.c),
      Math.log(r.h / r.l),
      Math.log(r.c / r.o),
      Math.log(r.c / sma),
      Math.log((r.v + 1e-9) / (vm + 1e-9)),
      new Date(r.t).getUTCHours() / 23,
    ];
  });
  const mean = new Array<number>(F).fill(0);
  const sq = new Array<number>(F).fill(0);
  let m = 0;
  rows.forEach((r, i) => {
    const f = feat[i];
    if (f && r.t >= FROM && r.t < VAL_FROM) {
      m++;
      f.forEach((x, j) => {
        mean[j]! += x;
        sq[j]! += x * x;
      });
    }
  });
  const mu = mean.map((s) => s / m);
  const sd = sq.map((s, j) => Math.sqrt(Math.max(s / m - mu[j]! ** 2, 1e-12)));
  const r0 = (i: number): number => rows[i]!.t;
  const build = (from: number, to: number): WindowSet => {
    const ends: number[] = [];
    for (let i = T - 1; i < rows.length - 1; i++) {
      const r = rows[i]!;
      if (r.t < from || r.t >= to || rows[i + 1]!.t !== r.t + HOUR) continue;
      let ok = true;
      for (let k = i - T + 1; k <= i && ok; k++) ok = feat[k] !== null && (k === i - T + 1 || rows[k]!.t === rows[k - 1]!.t + HOUR);
      if (ok) ends.push(i);
    }
    const n = ends.length;
    const H = HORIZONS.length;
    const X = new Float32Array(n * T * F);
    const yReturn = new Float32Array(n);
    const yHorizons = new Float32Array(n * H);
    ends.forEach((i, w) => {
      for (let s = 0; s < T; s++)
        feat[i - T + 1 + s]!.forEach((x, j) => {
          X[(w * T + s) * F + j] = (x - mu[j]!) / sd[j]!;
        });
      yReturn[w] = Math.log(rows[i + 1]!.c / rows[i]!.c);
      HORIZONS.forEach((h, k) => {
        const end = rows[i + h];
        // Missing when the label runs past the range or over a gap (h consecutive hours).
        yHorizons[w * H + k] = end && end.t === r0(i) + h * HOUR && end.t <= to ? Math.log(end.c / rows[i]!.c) : Number.NaN;
      });
    });
    return {
      T,
      F,
      n,
      X,
      yReturn,
      horizons: [...HORIZONS],
      yHorizons,
      yUp: Uint8Array.from(yReturn, (r) => (r > 0 ? 1 : 0)),
      eventTimes: Float64Array.from(ends, (i) => rows[i]!.t),
      closes: Float64Array.from(ends, (i) => rows[i]!.c),
    };
  };
  return { source: 'bench CSV fallback (8 scale-free columns)', train: build(FROM, VAL_FROM), val: build(VAL_FROM, TO - HOUR + 1), columns };
}

export async function loadBenchData(): Promise<BenchData> {
  const t0 = performance.now();
  let data: BenchData;
  try {
    data = await viaTrainerPipeline();
  } catch (err) {
    progress(`trainer pipeline unavailable (${err instanceof Error ? err.message : String(err)}); using the CSV fallback`);
    data = viaCsv();
  }
  const last = Math.max(data.train.eventTimes.at(-1) ?? 0, data.val.eventTimes.at(-1) ?? 0);
  if (last + HOUR > TO) throw new Error(`bench data reaches into the final window (${new Date(last).toISOString()})`);
  progress(
    `data: ${data.source}; train ${data.train.n} windows, val ${data.val.n}, T=${T}, F=${data.train.F} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return data;
}

/** A text progress bar on stderr, redrawn in place. */
export function bar(label: string, done: number, total: number, extra = ''): void {
  const width = 30;
  const k = Math.round((done / total) * width);
  process.stderr.write(`\r[bench] ${label} [${'#'.repeat(k)}${'.'.repeat(width - k)}] ${done}/${total} ${extra}`.padEnd(100) + (done === total ? '\n' : ''));
}

function subset(s: WindowSet, n: number): WindowSet {
  const m = Math.min(n, s.n);
  const row = s.T * s.F;
  return {
    ...s,
    n: m,
    X: s.X.subarray(0, m * row),
    yReturn: s.yReturn.subarray(0, m),
    yHorizons: s.yHorizons.subarray(0, m * s.horizons.length),
    yUp: s.yUp.subarray(0, m),
    eventTimes: s.eventTimes.subarray(0, m),
    closes: s.closes.subarray(0, m),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const data = await loadBenchData();
  const limit = Number(process.env.BENCH_TRAIN_LIMIT ?? 0);
  const train = limit > 0 ? subset(data.train, limit) : data.train;
  const epochs = Number(process.env.BENCH_EPOCHS ?? TRAIN_DEFAULTS.epochs);
  const cpuSubset = Number(process.env.BENCH_CPU_SUBSET ?? 1024);
  const batchSize = Number(process.env.BENCH_BATCH ?? TRAIN_DEFAULTS.batchSize);
  const hp = { ...MODEL_DEFAULTS, ...TRAIN_DEFAULTS, epochs, batchSize, seed: 1 };
  const backends = await availableBackends();
  progress(`backends that load here: ${backends.join(', ')}; hyperparameters ${JSON.stringify(hp)}`);

  const epochS: Partial<Record<TfBackend, number>> = {};
  const notes: string[] = [];
  // Non-default backends: one epoch on a subset, scaled linearly to the full training set.
  for (const b of backends.filter((x) => x !== 'wasm')) {
    const { tf } = await loadTf(b);
    const sub = subset(train, b === 'tensorflow' ? train.n : cpuSubset);
    const r = await trainModel(tf, sub, null, { ...hp, epochs: 1, onBatch: (d, n) => bar(`${b} epoch (${sub.n} windows)`, d, n) });
    r.model.dispose();
    epochS[b] = Number(((r.epochSeconds[0]! * train.n) / sub.n).toFixed(2));
    if (sub.n < train.n)
      notes.push(`${b}: 1 epoch on ${sub.n} windows (${r.epochSeconds[0]!.toFixed(1)} s) scaled x${(train.n / sub.n).toFixed(1)} to ${train.n}`);
    progress(`${b}: ${epochS[b]} s/epoch (full set equivalent)`);
  }

  // The shipped path: wasm, full two-year retrain with the defaults (early stopping on val).
  let retrain: Record<string, unknown> = {};
  if (backends.includes('wasm')) {
    const { tf } = await loadTf('wasm');
    const t0 = performance.now();
    // CPU seconds beside wall seconds: on a shared machine the wall time measures the neighbours
    // too; the wasm backend runs on one thread here, so CPU seconds ~ wall seconds on a quiet machine.
    const cpu0 = process.cpuUsage();
    const r = await trainModel(tf, train, data.val, {
      ...hp,
      onBatch: (d, n) => bar('wasm retrain epoch', d, n),
      onEpoch: (e) => progress(`epoch ${e.epoch}/${epochs}: loss ${e.loss.toFixed(4)}, val ${e.valLoss?.toFixed(4) ?? '-'}, ${e.seconds.toFixed(1)} s`),
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const p = predict(tf, r.model, r.forecast, data.val.X, data.val.n, data.val.T, data.val.F);
    const scores = scoreHead(tf, r.model, r.forecast, data.val);
    let hits = 0;
    for (let i = 0; i < data.val.n; i++) if ((p.probUp[i]! > 0.5 ? 1 : 0) === data.val.yUp[i]) hits++;
    r.model.dispose();
    epochS.wasm = Number(median(r.epochSeconds).toFixed(2));
    const perH = (xs: number[]): Record<string, number> => Object.fromEntries(HORIZONS.map((h, k) => [`h${h}`, Number(xs[k]!.toExponential(4))]));
    retrain = {
      retrain_2y_s: Number(seconds.toFixed(1)),
      retrain_2y_cpu_s: Number(cpuSeconds.toFixed(1)),
      retrain_epochs_run: r.history.length,
      retrain_best_epoch: r.bestEpoch,
      retrain_stopped_early: r.stoppedEarly,
      horizons: HORIZONS,
      val_nll: Number(r.history[r.bestEpoch - 1]?.valLoss?.toFixed(4) ?? Number.NaN),
      val_nll_per_horizon: perH(scores.nll),
      val_pinball_per_horizon: perH(scores.pinball),
      target_scales: perH(r.forecast.targetScales),
      val_direction_accuracy_h1: Number((hits / data.val.n).toFixed(4)),
    };
  }
  const ratio = epochS.cpu !== undefined && epochS.wasm !== undefined ? Number((epochS.cpu / epochS.wasm).toFixed(2)) : null;
  return {
    data: data.source,
    train_windows: train.n,
    val_windows: data.val.n,
    T,
    F: train.F,
    hyperparameters: hp,
    epoch_s: epochS,
    ...retrain,
    goal_retrain_2y_s: 600,
    baseline: 'cpu backend epoch seconds',
    ratio,
    notes,
  };
}
