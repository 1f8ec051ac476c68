// LSTM with additive (Bahdanau) attention over its outputs and two heads:
//   window [T, F] -> LSTM(units, returnSequences) -> attention -> context [units]
//     -> `ret`: Dense(1, linear), the next log return divided by RETURN_SCALE
//     -> `up`:  Dense(1, sigmoid), the probability that the next return is > 0
// Attention is one custom layer (registered for serialization, so a saved topology loads back):
//   score_t = v^T tanh(W h_t + b), a = softmax_t(score), context = sum_t a_t h_t.
// Every initializer is seeded, so two builds with the same seed have identical weights (dropout,
// off by default, is the one unseeded part: see below).
import type { TfModule } from './tf.js';
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { BitPredictError } from '../errors.js';

/** The `ret` head learns returns / RETURN_SCALE (hourly log returns are ~1e-2, so targets are ~1). */
export const RETURN_SCALE = 0.01;
export const ATTENTION_CLASS_NAME = 'BitPredictAdditiveAttention';
export const INPUT_NAME = 'window';
export const OUTPUT_NAMES = ['ret', 'up'] as const;

export interface ModelOptions {
  T: number;
  F: number;
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

/** Builds and compiles (Adam; ret: MSE, up: binary cross-entropy) the LSTM-attention model. */
export function buildModel(tf: TfModule, opts: ModelOptions): LayersModel {
  const units = opts.units ?? MODEL_DEFAULTS.units;
  const attentionUnits = opts.attentionUnits ?? MODEL_DEFAULTS.attentionUnits;
  const dropout = opts.dropout ?? MODEL_DEFAULTS.dropout;
  const learningRate = opts.learningRate ?? MODEL_DEFAULTS.learningRate;
  checkPositiveInt('T', opts.T);
  checkPositiveInt('F', opts.F);
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
  const ret = tf.layers
    .dense({ units: 1, activation: 'linear', name: 'ret', kernelInitializer: tf.initializers.glorotUniform({ seed: s + 5 }) })
    .apply(context) as SymbolicTensor;
  const up = tf.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'up', kernelInitializer: tf.initializers.glorotUniform({ seed: s + 6 }) })
    .apply(context) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [ret, up], name: 'lstm_attention' });
  compileModel(tf, model, learningRate);
  return model;
}

/** (Re)compiles with Adam and the two losses; also used after loading an artifact for fine-tuning. */
export function compileModel(tf: TfModule, model: LayersModel, learningRate: number = MODEL_DEFAULTS.learningRate): void {
  model.compile({ optimizer: tf.train.adam(learningRate), loss: { ret: 'meanSquaredError', up: 'binaryCrossentropy' } });
}
