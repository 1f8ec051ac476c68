// Training and batched inference for the LSTM-attention model. Shuffling uses a seeded PRNG
// (mulberry32) and batches are fed by hand, so the same seed on the same backend gives the same
// weights. Early stopping reads only `val` (the caller keeps val out of the final window).
// The head is distributional (core/models/head.ts): per horizon a Student-t over the log return
// divided by a training-range target scale, trained on the masked negative log-likelihood; after
// training its standardised residual shapes are measured on `val` (the calibration windows).
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import type { TfModule } from '../../core/models/tf.js';
import type { WindowSet } from '../../core/models/domain/dataset.js';
import type { ForecastDistribution } from '../../core/forecast/distribution.js';
import { QUANTILE_LEVELS } from '../../core/forecast/distribution.js';
import { BitPredictError } from '../../core/errors.js';
import { buildModel, compileModel, headUnits } from '../../core/models/model.js';
import {
  STUDENT_T_DOF,
  calibrateShapes,
  distributionsOf,
  headSigma,
  pinballLoss,
  studentTNll,
  targetScalesOf,
  type ForecastBlock,
  type HeadOutput,
} from '../../core/models/head.js';

import { mulberry32 } from '../../core/random.js';

export { mulberry32 };

/** Fisher-Yates in place with the given PRNG. */
export function shuffleInPlace(idx: Uint32Array, rnd: () => number): Uint32Array {
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx;
}

export interface EpochInfo {
  epoch: number; // 1-based
  loss: number; // mean training loss (Student-t NLL of the standardised labels, per present label)
  valLoss: number | null;
  seconds: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Epochs without val improvement before stopping; needs val. Best-val weights are restored. */
  patience?: number;
  /** Per-horizon target scales; default: RMS of the training labels (targetScalesOf). */
  targetScales?: readonly number[];
  onEpoch?(e: EpochInfo): void;
  /** Called after each batch (progress bars). */
  onBatch?(batch: number, batches: number): void;
  /** Model size (see buildModel); ignored when `model` is given. */
  units?: number;
  attentionUnits?: number;
  dropout?: number;
  /** Continue training this model instead of building a fresh one from `seed`. */
  model?: LayersModel;
}

export interface TrainResult {
  model: LayersModel;
  /** The head's artifact block: horizons, target scales and shapes calibrated on val (else on train). */
  forecast: ForecastBlock;
  /** Which windows the shapes were measured on. */
  calibratedOn: 'validation' | 'training';
  history: EpochInfo[];
  epochSeconds: number[];
  bestEpoch: number;
  stoppedEarly: boolean;
}

/**
 * Defaults sized for "one retrain on two years of hourly data (~17.5k windows, T=48, F=18, three
 * horizons) under 10 minutes on 2 cores with wasm". Measured with the distributional head, units=32,
 * on 2,048 windows while other jobs loaded the machine (load ~10 on 2 cores): one epoch took 8.7 CPU-s
 * at batch 128 and 6.7 CPU-s at batch 256 (per-batch kernel dispatch dominates the LSTM on wasm),
 * so batch 256 is ~45 CPU-s per full epoch. 8 epochs at most; patience 2 stops once the validation
 * NLL has not improved for two epochs and restores the best-val weights.
 */
export const TRAIN_DEFAULTS = { epochs: 8, batchSize: 256, learningRate: 2e-3, patience: 2 } as const;

function checkSet(name: string, s: WindowSet, T: number, F: number, horizons: readonly number[]): void {
  if (s.T !== T || s.F !== F)
    throw new BitPredictError('ERR_VALIDATION', `${name}: window shape [T=${s.T}, F=${s.F}] does not match the model input [T=${T}, F=${F}]`);
  if (!Number.isInteger(s.n) || s.n < 0) throw new BitPredictError('ERR_VALIDATION', `${name}.n must be a non-negative integer, got ${String(s.n)}`);
  if (s.X.length !== s.n * T * F) throw new BitPredictError('ERR_VALIDATION', `${name}.X has ${s.X.length} values, expected n*T*F = ${s.n * T * F}`);
  if (s.horizons.length !== horizons.length || s.horizons.some((h, k) => h !== horizons[k]))
    throw new BitPredictError('ERR_VALIDATION', `${name}: horizons ${JSON.stringify(s.horizons)} differ from the model's ${JSON.stringify(horizons)}`);
  if (s.yHorizons.length !== s.n * horizons.length)
    throw new BitPredictError('ERR_VALIDATION', `${name}.yHorizons has ${s.yHorizons.length} values, expected n*H = ${s.n * horizons.length}`);
}

function modelInputShape(model: LayersModel): [number, number] {
  const shape = model.inputs[0]?.shape;
  const T = shape?.[1];
  const F = shape?.[2];
  if (typeof T !== 'number' || typeof F !== 'number')
    throw new BitPredictError('ERR_VALIDATION', `model input shape ${JSON.stringify(shape)} is not [batch, T, F]`);
  return [T, F];
}

/**
 * Copies the rows `idx[from..to)` of a WindowSet into batch buffers: inputs, and targets [m, 2H] =
 * standardised labels (0 where missing) then their masks (the layout studentTLoss reads).
 */
function gather(s: WindowSet, idx: Uint32Array, from: number, to: number, scales: readonly number[]): { x: Float32Array; y: Float32Array } {
  const row = s.T * s.F;
  const H = scales.length;
  const m = to - from;
  const x = new Float32Array(m * row);
  const y = new Float32Array(m * 2 * H);
  for (let k = 0; k < m; k++) {
    const i = idx[from + k]!;
    x.set(s.X.subarray(i * row, (i + 1) * row), k * row);
    for (let h = 0; h < H; h++) {
      const v = s.yHorizons[i * H + h]!;
      if (Number.isFinite(v)) {
        y[k * 2 * H + h] = v / scales[h]!;
        y[k * 2 * H + H + h] = 1;
      }
    }
  }
  return { x, y };
}

/** Mean Student-t NLL (standardised units) over the present labels of a whole set, batched. */
export function evaluateLoss(tf: TfModule, model: LayersModel, s: WindowSet, targetScales: readonly number[], batchSize = 1024): number {
  if (s.n === 0) return Number.NaN;
  const H = targetScales.length;
  const out = predictHead(tf, model, s.X, s.n, s.T, s.F, batchSize);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < s.n * H; i++) {
    const v = s.yHorizons[i]!;
    if (!Number.isFinite(v)) continue;
    sum += studentTNll(v / targetScales[i % H]!, out.mu[i]!, out.sigma[i]!, STUDENT_T_DOF);
    count++;
  }
  return count === 0 ? Number.NaN : sum / count;
}

/**
 * Builds a model from `seed` (or takes `opts.model`) and trains it (compiled with Adam at
 * `learningRate`). With `val` and `patience`,
 * stops after `patience` epochs without a lower val loss and restores the best weights.
 */
export async function trainModel(tf: TfModule, train: WindowSet, val: WindowSet | null, opts: TrainOptions): Promise<TrainResult> {
  const horizons = train.horizons;
  const H = horizons.length;
  const model =
    opts.model ??
    buildModel(tf, {
      T: train.T,
      F: train.F,
      H,
      units: opts.units,
      attentionUnits: opts.attentionUnits,
      dropout: opts.dropout,
      seed: opts.seed,
      learningRate: opts.learningRate,
    });
  const [T, F] = modelInputShape(model);
  checkSet('train', train, T, F, horizons);
  if (val) checkSet('val', val, T, F, horizons);
  if (headUnits(model) !== 2 * H)
    throw new BitPredictError(
      'ERR_FORECAST_INVALID',
      `the model's output layer has ${String(headUnits(model))} units, the windows have ${H} horizons (needs ${2 * H})`,
    );
  if (train.n === 0) throw new BitPredictError('ERR_VALIDATION', 'train: no windows to train on');
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1)
    throw new BitPredictError('ERR_VALIDATION', `epochs must be a positive integer, got ${String(opts.epochs)}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
    throw new BitPredictError('ERR_VALIDATION', `batchSize must be a positive integer, got ${String(opts.batchSize)}`);
  if (opts.patience !== undefined && (!Number.isInteger(opts.patience) || opts.patience < 1))
    throw new BitPredictError('ERR_VALIDATION', `patience must be a positive integer, got ${String(opts.patience)}`);
  const scales = opts.targetScales ? [...opts.targetScales] : targetScalesOf(train.yHorizons, train.n, horizons);
  if (scales.length !== H || !scales.every((v) => Number.isFinite(v) && v > 0))
    throw new BitPredictError('ERR_FORECAST_INVALID', `targetScales ${JSON.stringify(scales)} must be ${H} finite numbers > 0`);
  compileModel(tf, model, opts.learningRate);

  const rnd = mulberry32(opts.seed);
  const idx = new Uint32Array(train.n);
  const history: EpochInfo[] = [];
  const epochSeconds: number[] = [];
  const batches = Math.ceil(train.n / opts.batchSize);
  let best = Number.POSITIVE_INFINITY;
  let bestEpoch = 0;
  let bestWeights: Tensor[] | null = null;
  let stale = 0;
  let stoppedEarly = false;
  try {
    for (let epoch = 1; epoch <= opts.epochs; epoch++) {
      const t0 = performance.now();
      for (let i = 0; i < idx.length; i++) idx[i] = i;
      shuffleInPlace(idx, rnd);
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        const from = b * opts.batchSize;
        const to = Math.min(train.n, from + opts.batchSize);
        const { x, y } = gather(train, idx, from, to, scales);
        const m = to - from;
        const xs = tf.tensor3d(x, [m, T, F]);
        const ys = tf.tensor2d(y, [m, 2 * H]);
        try {
          const out = await model.trainOnBatch(xs, ys);
          const total = Array.isArray(out) ? out[0]! : out;
          lossSum += total * m;
        } finally {
          xs.dispose();
          ys.dispose();
        }
        opts.onBatch?.(b + 1, batches);
      }
      const loss = lossSum / train.n;
      const valLoss = val && val.n > 0 ? evaluateLoss(tf, model, val, scales) : null;
      const seconds = (performance.now() - t0) / 1000;
      const info: EpochInfo = { epoch, loss, valLoss, seconds };
      history.push(info);
      epochSeconds.push(seconds);
      opts.onEpoch?.(info);
      if (!Number.isFinite(loss)) throw new BitPredictError('ERR_VALIDATION', `training diverged at epoch ${epoch}: loss ${String(loss)} (lower learningRate)`);
      if (valLoss !== null && opts.patience !== undefined) {
        if (valLoss < best) {
          best = valLoss;
          bestEpoch = epoch;
          stale = 0;
          bestWeights?.forEach((w) => w.dispose());
          bestWeights = model.getWeights().map((w) => w.clone());
        } else if (++stale >= opts.patience) {
          stoppedEarly = true;
          break;
        }
      } else {
        bestEpoch = epoch;
      }
    }
    if (bestWeights && bestEpoch !== history.length) model.setWeights(bestWeights);
  } finally {
    bestWeights?.forEach((w) => w.dispose());
  }
  const calibratedOn = val && val.n > 0 ? 'validation' : 'training';
  const forecast = calibrateHead(tf, model, calibratedOn === 'validation' ? val! : train, scales);
  return { model, forecast, calibratedOn, history, epochSeconds, bestEpoch, stoppedEarly };
}

/**
 * The forecast block of a trained model: its target scales and the empirical shape of the
 * standardised residuals z = (y - mean) / scale on `calib` (the validation windows).
 */
export function calibrateHead(tf: TfModule, model: LayersModel, calib: WindowSet, targetScales: readonly number[]): ForecastBlock {
  const base = { horizons: [...calib.horizons], dof: STUDENT_T_DOF, targetScales: [...targetScales] };
  const out = predictHead(tf, model, calib.X, calib.n, calib.T, calib.F);
  return { ...base, quantileLevels: [...QUANTILE_LEVELS], shapes: calibrateShapes(base, out, calib.yHorizons, calib.n) };
}

export interface Prediction {
  /** Per window, one distribution per horizon. */
  distributions: ForecastDistribution[][];
  /** Mean log return over the first horizon, per window. */
  ret: Float64Array;
  /** P(return > 0) over the first horizon, per window. */
  probUp: Float64Array;
}

/** Batched tfjs inference of the raw head (mu, sigma per horizon; head.ts) over n windows; leaks no tensors. */
export function predictHead(tf: TfModule, model: LayersModel, X: Float32Array, n: number, T: number, F: number, batchSize = 512): HeadOutput {
  if (X.length !== n * T * F) throw new BitPredictError('ERR_VALIDATION', `predict: X has ${X.length} values, expected n*T*F = ${n * T * F}`);
  const [mT, mF] = modelInputShape(model);
  if (mT !== T || mF !== F) throw new BitPredictError('ERR_VALIDATION', `predict: windows [T=${T}, F=${F}] do not match the model input [T=${mT}, F=${mF}]`);
  const units = headUnits(model);
  if (units === null || units < 2 || units % 2 !== 0)
    throw new BitPredictError('ERR_FORECAST_INVALID', `predict: the model has no forecast head (${String(units)} units)`);
  const H = units / 2;
  const mu = new Float64Array(n * H);
  const sigma = new Float64Array(n * H);
  const row = T * F;
  for (let from = 0; from < n; from += batchSize) {
    const m = Math.min(batchSize, n - from);
    tf.tidy(() => {
      const xs = tf.tensor3d(X.subarray(from * row, (from + m) * row), [m, T, F]);
      const raw = (model.predict(xs) as Tensor).dataSync();
      for (let k = 0; k < m; k++) {
        for (let h = 0; h < H; h++) {
          mu[(from + k) * H + h] = raw[k * 2 * H + h]!;
          sigma[(from + k) * H + h] = headSigma(raw[k * 2 * H + H + h]!);
        }
      }
    });
  }
  return { mu, sigma };
}

/**
 * Batched tfjs inference of the distributions over n windows (research); throws
 * ERR_FORECAST_INVALID when one is not valid. Live uses the fast kernel with the same block.
 */
export function predict(
  tf: TfModule,
  model: LayersModel,
  forecast: ForecastBlock,
  X: Float32Array,
  n: number,
  T: number,
  F: number,
  batchSize = 512,
): Prediction {
  const out = predictHead(tf, model, X, n, T, F, batchSize);
  const distributions: ForecastDistribution[][] = [];
  const ret = new Float64Array(n);
  const probUp = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = distributionsOf(forecast, out.mu, out.sigma, i);
    distributions.push(d);
    ret[i] = d[0]!.mean;
    probUp[i] = d[0]!.probUp;
  }
  return { distributions, ret, probUp };
}

/** Per-horizon scores of a head on labelled windows: what the artifact's metrics record. */
export interface HeadScores {
  horizons: number[];
  /** Mean Student-t NLL of the standardised labels (the training loss), per horizon. */
  nll: number[];
  /** Mean pinball loss over QUANTILE_LEVELS of the calibrated distributions, in log-return units, per horizon. */
  pinball: number[];
  /** Present labels per horizon. */
  count: number[];
}

/** Scores `forecast` on the labelled windows s (tfjs batch inference). */
export function scoreHead(tf: TfModule, model: LayersModel, forecast: ForecastBlock, s: WindowSet): HeadScores {
  const H = forecast.horizons.length;
  const out = predictHead(tf, model, s.X, s.n, s.T, s.F);
  const nll = new Array<number>(H).fill(0);
  const pinball = new Array<number>(H).fill(0);
  const count = new Array<number>(H).fill(0);
  for (let i = 0; i < s.n; i++) {
    const d = distributionsOf(forecast, out.mu, out.sigma, i);
    for (let k = 0; k < H; k++) {
      const y = s.yHorizons[i * H + k]!;
      if (!Number.isFinite(y)) continue;
      nll[k]! += studentTNll(y / forecast.targetScales[k]!, out.mu[i * H + k]!, out.sigma[i * H + k]!, forecast.dof);
      pinball[k]! += pinballLoss(y, d[k]!.quantiles, forecast.quantileLevels);
      count[k]!++;
    }
  }
  return {
    horizons: [...forecast.horizons],
    nll: nll.map((v, k) => v / count[k]!),
    pinball: pinball.map((v, k) => v / count[k]!),
    count,
  };
}
