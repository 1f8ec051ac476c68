// Training and batched inference for the LSTM-attention model. Shuffling uses a seeded PRNG
// (mulberry32) and batches are fed by hand, so the same seed on the same backend gives the same
// weights. Early stopping reads only `val` (the caller keeps val out of the final window).
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import type { TfModule } from '../../core/models/tf.js';
import type { WindowSet } from '../../core/models/domain/dataset.js';
import { BitPredictError } from '../../core/errors.js';
import { RETURN_SCALE, buildModel, compileModel } from '../../core/models/model.js';

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
  loss: number; // mean training loss (ret MSE on scaled returns + up BCE)
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
  returnScale?: number;
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
  history: EpochInfo[];
  epochSeconds: number[];
  bestEpoch: number;
  stoppedEarly: boolean;
}

/**
 * Defaults sized for "one retrain on two years of hourly data (~16k windows, T=48, F=18) under
 * 10 minutes on 2 cores with wasm". Measured here with units=32, batch 128: ~26 s per epoch on a
 * quiet machine, up to ~65 s while CI and other jobs share the 2 cores. 8 epochs is then 3.5 to
 * 9 minutes worst case; in practice the val loss on hourly returns (mostly noise) bottoms out within
 * 2-3 epochs at lr 2e-3 and patience 3 stops the run early, restoring the best-val weights.
 */
export const TRAIN_DEFAULTS = { epochs: 8, batchSize: 128, learningRate: 2e-3, patience: 3 } as const;

function checkSet(name: string, s: WindowSet, T: number, F: number): void {
  if (s.T !== T || s.F !== F)
    throw new BitPredictError('ERR_VALIDATION', `${name}: window shape [T=${s.T}, F=${s.F}] does not match the model input [T=${T}, F=${F}]`);
  if (!Number.isInteger(s.n) || s.n < 0) throw new BitPredictError('ERR_VALIDATION', `${name}.n must be a non-negative integer, got ${String(s.n)}`);
  if (s.X.length !== s.n * T * F) throw new BitPredictError('ERR_VALIDATION', `${name}.X has ${s.X.length} values, expected n*T*F = ${s.n * T * F}`);
  if (s.yReturn.length !== s.n || s.yUp.length !== s.n)
    throw new BitPredictError('ERR_VALIDATION', `${name}: yReturn/yUp lengths ${s.yReturn.length}/${s.yUp.length} differ from n = ${s.n}`);
}

function modelInputShape(model: LayersModel): [number, number] {
  const shape = model.inputs[0]?.shape;
  const T = shape?.[1];
  const F = shape?.[2];
  if (typeof T !== 'number' || typeof F !== 'number')
    throw new BitPredictError('ERR_VALIDATION', `model input shape ${JSON.stringify(shape)} is not [batch, T, F]`);
  return [T, F];
}

/** Copies the rows `idx[from..to)` of a WindowSet into batch buffers. */
function gather(s: WindowSet, idx: Uint32Array, from: number, to: number, scale: number): { x: Float32Array; yr: Float32Array; yu: Float32Array } {
  const row = s.T * s.F;
  const m = to - from;
  const x = new Float32Array(m * row);
  const yr = new Float32Array(m);
  const yu = new Float32Array(m);
  for (let k = 0; k < m; k++) {
    const i = idx[from + k]!;
    x.set(s.X.subarray(i * row, (i + 1) * row), k * row);
    yr[k] = s.yReturn[i]! / scale;
    yu[k] = s.yUp[i]!;
  }
  return { x, yr, yu };
}

/** Mean loss (scaled-return MSE + direction BCE) of the model over a whole set, batched. */
export function evaluateLoss(tf: TfModule, model: LayersModel, s: WindowSet, batchSize = 1024, returnScale = RETURN_SCALE): number {
  if (s.n === 0) return Number.NaN;
  const { ret, probUp } = predict(tf, model, s.X, s.n, s.T, s.F, batchSize, returnScale);
  let mse = 0;
  let bce = 0;
  const eps = 1e-7; // as tfjs clips in binaryCrossentropy
  for (let i = 0; i < s.n; i++) {
    const d = (ret[i]! - s.yReturn[i]!) / returnScale;
    mse += d * d;
    const p = Math.min(1 - eps, Math.max(eps, probUp[i]!));
    bce -= s.yUp[i] ? Math.log(p) : Math.log(1 - p);
  }
  return (mse + bce) / s.n;
}

/**
 * Builds a model from `seed` (or takes `opts.model`) and trains it (compiled with Adam at
 * `learningRate`). With `val` and `patience`,
 * stops after `patience` epochs without a lower val loss and restores the best weights.
 */
export async function trainModel(tf: TfModule, train: WindowSet, val: WindowSet | null, opts: TrainOptions): Promise<TrainResult> {
  const model =
    opts.model ??
    buildModel(tf, {
      T: train.T,
      F: train.F,
      units: opts.units,
      attentionUnits: opts.attentionUnits,
      dropout: opts.dropout,
      seed: opts.seed,
      learningRate: opts.learningRate,
    });
  const [T, F] = modelInputShape(model);
  checkSet('train', train, T, F);
  if (val) checkSet('val', val, T, F);
  if (train.n === 0) throw new BitPredictError('ERR_VALIDATION', 'train: no windows to train on');
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1)
    throw new BitPredictError('ERR_VALIDATION', `epochs must be a positive integer, got ${String(opts.epochs)}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
    throw new BitPredictError('ERR_VALIDATION', `batchSize must be a positive integer, got ${String(opts.batchSize)}`);
  if (opts.patience !== undefined && (!Number.isInteger(opts.patience) || opts.patience < 1))
    throw new BitPredictError('ERR_VALIDATION', `patience must be a positive integer, got ${String(opts.patience)}`);
  const scale = opts.returnScale ?? RETURN_SCALE;
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
        const { x, yr, yu } = gather(train, idx, from, to, scale);
        const m = to - from;
        const xs = tf.tensor3d(x, [m, T, F]);
        const yrT = tf.tensor2d(yr, [m, 1]);
        const yuT = tf.tensor2d(yu, [m, 1]);
        try {
          const out = await model.trainOnBatch(xs, { ret: yrT, up: yuT });
          const total = Array.isArray(out) ? out[0]! : out;
          lossSum += total * m;
        } finally {
          xs.dispose();
          yrT.dispose();
          yuT.dispose();
        }
        opts.onBatch?.(b + 1, batches);
      }
      const loss = lossSum / train.n;
      const valLoss = val && val.n > 0 ? evaluateLoss(tf, model, val, 1024, scale) : null;
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
  return { model, history, epochSeconds, bestEpoch, stoppedEarly };
}

export interface Prediction {
  /** Predicted next-period log returns (unscaled). */
  ret: Float32Array;
  /** Probability that the next return is > 0. */
  probUp: Float32Array;
}

/** Batched inference over n windows laid out [window][step][feature]; leaks no tensors. */
export function predict(
  tf: TfModule,
  model: LayersModel,
  X: Float32Array,
  n: number,
  T: number,
  F: number,
  batchSize = 512,
  returnScale = RETURN_SCALE,
): Prediction {
  if (X.length !== n * T * F) throw new BitPredictError('ERR_VALIDATION', `predict: X has ${X.length} values, expected n*T*F = ${n * T * F}`);
  const [mT, mF] = modelInputShape(model);
  if (mT !== T || mF !== F) throw new BitPredictError('ERR_VALIDATION', `predict: windows [T=${T}, F=${F}] do not match the model input [T=${mT}, F=${mF}]`);
  const ret = new Float32Array(n);
  const probUp = new Float32Array(n);
  const row = T * F;
  for (let from = 0; from < n; from += batchSize) {
    const m = Math.min(batchSize, n - from);
    tf.tidy(() => {
      const xs = tf.tensor3d(X.subarray(from * row, (from + m) * row), [m, T, F]);
      const [r, u] = model.predict(xs) as Tensor[];
      const rv = r!.dataSync();
      const uv = u!.dataSync();
      for (let k = 0; k < m; k++) {
        ret[from + k] = rv[k]! * returnScale;
        probUp[from + k] = uv[k]!;
      }
    });
  }
  return { ret, probUp };
}
