// LSTM with additive (Bahdanau) attention over its outputs and a distributional head:
//   window [T, F] -> LSTM(units, returnSequences) -> attention -> context [units]
//     -> `forecast`: Dense(2H, linear) = [mu_1..mu_H, raw_1..raw_H], per horizon the location and
//        (through softplus) the scale of a Student-t over the standardised log return; see head.ts
//        for the units and how the outputs become distributions.
// Trained on the Student-t negative log-likelihood averaged over the present labels (a missing
// horizon label is masked out, see studentTLoss).
// Attention is one custom layer (registered for serialization, so a saved topology loads back):
//   score_t = v^T tanh(W h_t + b), a = softmax_t(score), context = sum_t a_t h_t.
// Every initializer is seeded, so two builds with the same seed have identical weights (dropout,
// off by default, is the one unseeded part: see below).
import type { TfModule } from './tf.js';
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { BitPredictError } from '../errors.js';
import { HEAD_LAYER, SIGMA_FLOOR, STUDENT_T_DOF, studentTNllConstant } from './head.js';

export const ATTENTION_CLASS_NAME = 'BitPredictAdditiveAttention';
export const INPUT_NAME = 'window';
export const OUTPUT_NAMES = [HEAD_LAYER] as const;

export interface ModelOptions {
  T: number;
  F: number;
  /** Number of forecast horizons H (the output layer has 2H units); default 1. */
  H?: number;
  units?: number;
  attentionUnits?: number;
  dropout?: number;
  seed: number;
  learningRate?: number;
}

export const MODEL_DEFAULTS = { units: 32, attentionUnits: 16, dropout: 0, learningRate: 2e-3 } as const;

interface AttentionConfig {
  attentionUnits: number;
  seed: number;
  name?: string;
  trainable?: boolean;
}

type LayerCtor = new (cfg: AttentionConfig) => InstanceType<TfModule['layers']['Layer']>;
const attentionClasses = new WeakMap<object, LayerCtor>();

/** The attention layer class bound to this tfjs instance, registered once for (de)serialization. */
export function attentionLayerClass(tf: TfModule): LayerCtor {
  const cached = attentionClasses.get(tf.serialization);
  if (cached) return cached;

  class AdditiveAttention extends tf.layers.Layer {
    static className = ATTENTION_CLASS_NAME;
    private readonly attentionUnits: number;
    private readonly seed: number;
    private W: ReturnType<AdditiveAttention['addWeight']> | null = null;
    private b: ReturnType<AdditiveAttention['addWeight']> | null = null;
    private v: ReturnType<AdditiveAttention['addWeight']> | null = null;

    constructor(cfg: AttentionConfig) {
      super(cfg);
      this.attentionUnits = cfg.attentionUnits;
      this.seed = cfg.seed;
    }

    override build(inputShape: (number | null)[] | (number | null)[][]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
      const H = shape[shape.length - 1];
      if (typeof H !== 'number') throw new BitPredictError('ERR_VALIDATION', `attention: last input dimension must be known, got ${JSON.stringify(shape)}`);
      this.W = this.addWeight('W', [H, this.attentionUnits], 'float32', tf.initializers.glorotUniform({ seed: this.seed }));
      this.b = this.addWeight('b', [this.attentionUnits], 'float32', tf.initializers.zeros());
      this.v = this.addWeight('v', [this.attentionUnits, 1], 'float32', tf.initializers.glorotUniform({ seed: this.seed + 1 }));
      this.built = true;
    }

    override computeOutputShape(inputShape: (number | null)[] | (number | null)[][]): (number | null)[] {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
      return [shape[0] ?? null, shape[shape.length - 1] ?? null];
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const h = (Array.isArray(inputs) ? inputs[0] : inputs) as Tensor;
        const [B, T, H] = h.shape as [number, number, number];
        const W = this.W!.read();
        const b = this.b!.read();
        const v = this.v!.read();
        const flat = tf.reshape(h, [B * T, H]);
        const hidden = tf.tanh(tf.add(tf.matMul(flat, W), b)); // [B*T, A]
        const scores = tf.reshape(tf.matMul(hidden, v), [B, T]); // [B, T]
        const weights = tf.softmax(scores, -1); // over t
        return tf.sum(tf.mul(h, tf.expandDims(weights, 2)), 1); // [B, H]
      });
    }

    override getConfig(): Record<string, number | boolean | string | null> {
      return { ...(super.getConfig() as Record<string, number | boolean | string | null>), attentionUnits: this.attentionUnits, seed: this.seed };
    }
  }

  tf.serialization.registerClass(AdditiveAttention);
  attentionClasses.set(tf.serialization, AdditiveAttention);
  return AdditiveAttention;
}

function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new BitPredictError('ERR_VALIDATION', `buildModel: ${name} must be a positive integer, got ${String(value)}`);
}

/** Builds and compiles (Adam; masked Student-t NLL) the LSTM-attention model. */
export function buildModel(tf: TfModule, opts: ModelOptions): LayersModel {
  const units = opts.units ?? MODEL_DEFAULTS.units;
  const attentionUnits = opts.attentionUnits ?? MODEL_DEFAULTS.attentionUnits;
  const dropout = opts.dropout ?? MODEL_DEFAULTS.dropout;
  const learningRate = opts.learningRate ?? MODEL_DEFAULTS.learningRate;
  checkPositiveInt('T', opts.T);
  checkPositiveInt('F', opts.F);
  const H = opts.H ?? 1;
  checkPositiveInt('H', H);
  checkPositiveInt('units', units);
  checkPositiveInt('attentionUnits', attentionUnits);
  if (!Number.isInteger(opts.seed)) throw new BitPredictError('ERR_VALIDATION', `buildModel: seed must be an integer, got ${String(opts.seed)}`);
  if (!(dropout >= 0 && dropout < 1)) throw new BitPredictError('ERR_VALIDATION', `buildModel: dropout must be in [0, 1), got ${String(dropout)}`);
  if (!(learningRate > 0)) throw new BitPredictError('ERR_VALIDATION', `buildModel: learningRate must be > 0, got ${String(learningRate)}`);

  const Attention = attentionLayerClass(tf);
  const s = opts.seed;
  const input = tf.input({ shape: [opts.T, opts.F], name: INPUT_NAME });
  const seq = tf.layers
    .lstm({
      units,
      returnSequences: true,
      name: 'lstm',
      kernelInitializer: tf.initializers.glorotUniform({ seed: s }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: s + 1, gain: 1 }),
      biasInitializer: 'zeros',
      unitForgetBias: true,
    })
    .apply(input) as SymbolicTensor;
  let context = new Attention({ attentionUnits, seed: s + 2, name: 'attention' }).apply(seq) as SymbolicTensor;
  // Not seeded on purpose: tfjs re-seeds its generator on every call, so a seeded Dropout draws the
  // SAME mask for every batch (a fixed pruning, not regularisation). Hence dropout > 0 makes
  // training not bit-reproducible; the default is 0.
  if (dropout > 0) context = tf.layers.dropout({ rate: dropout, name: 'dropout' }).apply(context) as SymbolicTensor;
  const head = tf.layers
    .dense({ units: 2 * H, activation: 'linear', name: HEAD_LAYER, kernelInitializer: tf.initializers.glorotUniform({ seed: s + 5 }) })
    .apply(context) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: head, name: 'lstm_attention' });
  compileModel(tf, model, learningRate);
  return model;
}

/** Units of the model's output layer (2H), or null when it has no `forecast` layer. */
export function headUnits(model: LayersModel): number | null {
  try {
    const cfg = model.getLayer(HEAD_LAYER).getConfig() as { units?: unknown };
    return typeof cfg.units === 'number' ? cfg.units : null;
  } catch {
    return null;
  }
}

/**
 * The training loss for H horizons: yTrue is [B, 2H] = [y_1..y_H, m_1..m_H], the standardised
 * labels (0 where missing) and their masks (1 present, 0 missing); yPred is the head output. The
 * loss is the Student-t(dof) negative log-likelihood summed over the present labels divided by
 * their count, so a missing label contributes nothing (and a batch with none gives 0).
 */
export function studentTLoss(tf: TfModule, H: number, dof: number = STUDENT_T_DOF): (yTrue: Tensor, yPred: Tensor) => Tensor {
  const c = studentTNllConstant(dof);
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const y = tf.slice(yTrue, [0, 0], [-1, H]);
      const mask = tf.slice(yTrue, [0, H], [-1, H]);
      const mu = tf.slice(yPred, [0, 0], [-1, H]);
      const sigma = tf.add(tf.softplus(tf.slice(yPred, [0, H], [-1, H])), SIGMA_FLOOR);
      const z = tf.div(tf.sub(y, mu), sigma);
      const nll = tf.add(tf.add(tf.log(sigma), tf.mul(tf.log1p(tf.div(tf.square(z), dof)), (dof + 1) / 2)), c);
      return tf.div(tf.sum(tf.mul(nll, mask)), tf.maximum(tf.sum(mask), 1));
    });
}

/** (Re)compiles with Adam and the masked Student-t loss; also used after loading an artifact for fine-tuning. */
export function compileModel(tf: TfModule, model: LayersModel, learningRate: number = MODEL_DEFAULTS.learningRate): void {
  const units = headUnits(model);
  if (units === null || units < 2 || units % 2 !== 0)
    throw new BitPredictError(
      'ERR_FORECAST_INVALID',
      `compileModel: the model has no '${HEAD_LAYER}' output layer with 2 units per horizon (got ${String(units)})`,
    );
  model.compile({ optimizer: tf.train.adam(learningRate), loss: studentTLoss(tf, units / 2) });
}
