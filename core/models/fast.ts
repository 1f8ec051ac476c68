// A plain-JS forward pass of the LSTM-attention model for live, one-window-at-a-time prediction.
// tfjs runs the LSTM as ~15 small kernels per time step (~700 for T=48), each with dispatch
// overhead: ~20 ms per window on wasm on this machine, too slow for the p99 < 20 ms goal. The same
// arithmetic in Float32Arrays is ~0.5 ms. Weights are copied out of the tfjs model once; the
// result equals model.predict to float32 rounding (tested). Inference only (dropout is identity).
// One forward function serves one window and many: a batch gives bitwise the outputs of its windows
// computed one by one (no chunk-boundary dependence between the live single and batched paths).
import type { LayersModel } from '@tensorflow/tfjs';
import { BitPredictError } from '../errors.js';
import type { ForecastDistribution } from '../forecast/distribution.js';
import { HEAD_LAYER, distributionsOf, headSigma, parseForecastBlock, type ForecastBlock, type HeadOutput } from './head.js';

/** The raw head of the model in plain JS: mu and sigma per horizon (standardised units, see head.ts). */
export interface FastKernel {
  T: number;
  F: number;
  /** Horizons (the output layer has 2H units). */
  H: number;
  /** One window [T*F] (row-major [step][feature], normalised); writes H values each into mu and sigma at i*H. */
  forward(x: Float32Array, off: number, mu: Float64Array, sigma: Float64Array, i: number): void;
  /** n windows back to back. */
  forwardMany(X: Float32Array, n: number): HeadOutput;
}

/** A prediction of one window: the distribution per horizon, and the horizon-1 point fields of today's record. */
export interface FastPrediction {
  /** One distribution per horizon, in the order of the forecast block's horizons. */
  distributions: ForecastDistribution[];
  /** Mean log return over the first horizon. */
  ret: number;
  /** P(return > 0) over the first horizon. */
  probUp: number;
}

export interface FastPredictor {
  T: number;
  F: number;
  horizons: readonly number[];
  forecast: ForecastBlock;
  kernel: FastKernel;
  /** One window [T*F]; throws ERR_FORECAST_INVALID when a distribution is not valid. */
  predictOne(x: Float32Array): FastPrediction;
  /** n windows back to back: element w is bitwise predictOne of window w. */
  predictMany(X: Float32Array, n: number): FastPrediction[];
}

type Act = (x: number) => number;
const ACTIVATIONS: Record<string, Act> = {
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  hardSigmoid: (x) => Math.min(1, Math.max(0, 0.2 * x + 0.5)),
  linear: (x) => x,
};

function activation(name: unknown, where: string): Act {
  const a = typeof name === 'string' ? ACTIVATIONS[name] : undefined;
  if (!a) throw new BitPredictError('ERR_VALIDATION', `fast predictor: unsupported activation ${JSON.stringify(name)} in ${where}`);
  return a;
}

function weightsOf(model: LayersModel, layer: string, count: number): Float32Array[] {
  let l;
  try {
    l = model.getLayer(layer);
  } catch {
    throw new BitPredictError('ERR_VALIDATION', `fast predictor: the model has no layer '${layer}'`);
  }
  const ws = l.getWeights();
  if (ws.length !== count) throw new BitPredictError('ERR_VALIDATION', `fast predictor: layer '${layer}' has ${ws.length} weights, expected ${count}`);
  return ws.map((w) => Float32Array.from(w.dataSync() as Float32Array));
}

/** The weights and activations of a model built by buildModel, checked against its input shape. */
function kernelWeights(model: LayersModel) {
  const shape = model.inputs[0]?.shape;
  const t0 = shape?.[1];
  const f0 = shape?.[2];
  if (typeof t0 !== 'number' || typeof f0 !== 'number')
    throw new BitPredictError('ERR_VALIDATION', `fast predictor: model input shape ${JSON.stringify(shape)} is not [batch, T, F]`);
  const T: number = t0;
  const F: number = f0;
  const lstmCfg = model.getLayer('lstm').getConfig() as Record<string, unknown>;
  const act = activation(lstmCfg.activation, 'lstm.activation');
  const recAct = activation(lstmCfg.recurrentActivation, 'lstm.recurrentActivation');
  if (lstmCfg.useBias === false) throw new BitPredictError('ERR_VALIDATION', 'fast predictor: lstm without bias is not supported');
  const [K, U, B] = weightsOf(model, 'lstm', 3) as [Float32Array, Float32Array, Float32Array];
  const units = B.length / 4;
  if (K.length !== F * 4 * units || U.length !== units * 4 * units)
    throw new BitPredictError('ERR_VALIDATION', 'fast predictor: lstm weight shapes do not match the input');
  const [aW, aB, aV] = weightsOf(model, 'attention', 3) as [Float32Array, Float32Array, Float32Array];
  const A = aB.length;
  const [hW, hB] = weightsOf(model, HEAD_LAYER, 2) as [Float32Array, Float32Array];
  const headAct = activation((model.getLayer(HEAD_LAYER).getConfig() as Record<string, unknown>).activation, `${HEAD_LAYER}.activation`);
  const O = hB.length;
  if (O < 2 || O % 2 !== 0 || hW.length !== units * O)
    throw new BitPredictError('ERR_FORECAST_INVALID', `fast predictor: the '${HEAD_LAYER}' layer has ${O} units; it needs 2 per horizon`);
  const H = O / 2;
  const G = 4 * units;
  return { T, F, act, recAct, K, U, B, units, aW, aB, aV, A, hW, hB, headAct, O, H, G };
}

/**
 * The input projection b + x_t K of a feature row, cached: it depends on the row x_t alone, and consecutive windows of a series
 * share T-1 rows (a backtest or a replay predicts every bar; the live predictor sees each row in
 * T windows). A row is projected once and found again by its exact bits (a hit needs all F
 * float32 values bitwise equal), so a window's result does not depend on what came before it.
 */
function createRowProjector(
  F: number,
  G: number,
  B: Float32Array,
  KT: Float64Array,
): (X: Float32Array, bits: Uint32Array, xo: number, z: Float64Array) => void {
  const SLOTS = 2048;
  const cacheRows = new Uint32Array(SLOTS * F);
  const cacheZ = new Float64Array(SLOTS * G);
  const cacheUsed = new Uint8Array(SLOTS);
  /** Writes b + x K of the row at xo into z (from the cache when the same bits were projected before). */
  return function project(X: Float32Array, bits: Uint32Array, xo: number, z: Float64Array): void {
    let hash = 2166136261;
    for (let f = 0; f < F; f++) hash = Math.imul(hash ^ bits[xo + f]!, 16777619);
    const slot = (hash >>> 0) & (SLOTS - 1);
    const ro = slot * F;
    const zo = slot * G;
    if (cacheUsed[slot] === 1) {
      let same = true;
      for (let f = 0; f < F; f++)
        if (cacheRows[ro + f] !== bits[xo + f]) {
          same = false;
          break;
        }
      if (same) {
        for (let g = 0; g < G; g++) z[g] = cacheZ[zo + g]!;
        return;
      }
    }
    for (let g = 0; g < G; g++) {
      let acc = B[g]!;
      const ko = g * F;
      for (let f = 0; f < F; f++) {
        const xv = X[xo + f]!;
        if (xv !== 0) acc += xv * KT[ko + f]!;
      }
      z[g] = acc;
      cacheZ[zo + g] = acc;
    }
    for (let f = 0; f < F; f++) cacheRows[ro + f] = bits[xo + f]!;
    cacheUsed[slot] = 1;
  };
}

/** Copies the weights of a model built by buildModel into a plain-JS kernel of its raw head. */
export function createFastKernel(model: LayersModel): FastKernel {
  const { T, F, act, recAct, K, U, B, units, aW, aB, aV, A, hW, hB, headAct, O, H, G } = kernelWeights(model);
  // Weights transposed to [gate][input] so that each gate's sum runs in a register over a
  // contiguous row. Every z[g] still adds its terms in the same order (b, then x_f for f = 0..F-1
  // skipping zeros, then h_k for k = 0..units-1), so the result is bitwise that of the
  // [input][gate] loop this replaced (tested), just without a memory round trip per term.
  const KT = new Float64Array(G * F);
  for (let f = 0; f < F; f++) for (let g = 0; g < G; g++) KT[g * F + f] = K[f * G + g]!;
  const UT = new Float64Array(G * units);
  for (let k = 0; k < units; k++) for (let g = 0; g < G; g++) UT[g * units + k] = U[k * G + g]!;
  const project = createRowProjector(F, G, B, KT);

  // Scratch buffers, reused across calls (the predictor is not re-entrant, JS is single-threaded).
  const hs = new Float64Array(T * units);
  const z = new Float64Array(G);
  const c = new Float64Array(units);
  const scores = new Float64Array(T);
  const ctx = new Float64Array(units);

  function forward(X: Float32Array, off: number, mu: Float64Array, sigma: Float64Array, i: number): void {
    const bits = new Uint32Array(X.buffer, X.byteOffset, X.length);
    c.fill(0);
    for (let t = 0; t < T; t++) {
      // z = x_t K + h_{t-1} U + b
      project(X, bits, off + t * F, z);
      if (t > 0) {
        const ho = (t - 1) * units;
        for (let g = 0; g < G; g++) {
          let acc = z[g]!;
          const uo = g * units;
          for (let k = 0; k < units; k++) acc += hs[ho + k]! * UT[uo + k]!;
          z[g] = acc;
        }
      }
      const out = t * units;
      for (let k = 0; k < units; k++) {
        const i = recAct(z[k]!);
        const fg = recAct(z[units + k]!);
        const cc = fg * c[k]! + i * act(z[2 * units + k]!);
        c[k] = cc;
        const o = recAct(z[3 * units + k]!);
        hs[out + k] = o * act(cc);
      }
    }
    // Additive attention: score_t = v . tanh(h_t W + b); softmax over t; context = sum a_t h_t.
    let max = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let a = 0; a < A; a++) {
        let e = aB[a]!;
        for (let k = 0; k < units; k++) e += hs[t * units + k]! * aW[k * A + a]!;
        s += Math.tanh(e) * aV[a]!;
      }
      scores[t] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let t = 0; t < T; t++) sum += scores[t] = Math.exp(scores[t]! - max);
    ctx.fill(0);
    for (let t = 0; t < T; t++) {
      const w = scores[t]! / sum;
      for (let k = 0; k < units; k++) ctx[k]! += w * hs[t * units + k]!;
    }
    // Dense head: [mu_1..mu_H, raw_1..raw_H]; sigma = softplus(raw) + floor (head.ts, shared with tfjs predict).
    for (let o = 0; o < O; o++) {
      let v = hB[o]!;
      for (let k = 0; k < units; k++) v += ctx[k]! * hW[k * O + o]!;
      v = headAct(v);
      if (o < H) mu[i * H + o] = v;
      else sigma[i * H + o - H] = headSigma(v);
    }
  }

  return {
    T,
    F,
    H,
    forward(x, off, mu, sigma, i) {
      if (off < 0 || off + T * F > x.length) throw new BitPredictError('ERR_VALIDATION', `fast predictor: window at ${off} runs past the ${x.length} values`);
      forward(x, off, mu, sigma, i);
    },
    forwardMany(X, n) {
      if (!Number.isSafeInteger(n) || n < 0 || X.length !== n * T * F)
        throw new BitPredictError('ERR_VALIDATION', `fast predictor: X has ${X.length} values, expected n*T*F = ${n * T * F}`);
      const mu = new Float64Array(n * H);
      const sigma = new Float64Array(n * H);
      for (let w = 0; w < n; w++) forward(X, w * T * F, mu, sigma, w);
      return { mu, sigma };
    },
  };
}

/**
 * The live forecaster: the kernel plus the artifact's forecast block. Refuses (ERR_FORECAST_INVALID)
 * a block that is not servable or whose horizons do not match the output layer.
 */
export function createFastPredictor(model: LayersModel, forecast: ForecastBlock): FastPredictor {
  const kernel = createFastKernel(model);
  const block = parseForecastBlock(forecast, 2 * kernel.H, 'forecast block');
  const { T, F, H } = kernel;
  const mu = new Float64Array(H);
  const sigma = new Float64Array(H);
  function one(X: Float32Array, off: number): FastPrediction {
    kernel.forward(X, off, mu, sigma, 0);
    const distributions = distributionsOf(block, mu, sigma);
    return { distributions, ret: distributions[0]!.mean, probUp: distributions[0]!.probUp };
  }
  return {
    T,
    F,
    horizons: block.horizons,
    forecast: block,
    kernel,
    predictOne(x) {
      if (x.length !== T * F) throw new BitPredictError('ERR_VALIDATION', `fast predictor: window has ${x.length} values, expected T*F = ${T * F}`);
      return one(x, 0);
    },
    predictMany(X, n) {
      if (!Number.isSafeInteger(n) || n < 0 || X.length !== n * T * F)
        throw new BitPredictError('ERR_VALIDATION', `fast predictor: X has ${X.length} values, expected n*T*F = ${n * T * F}`);
      const out: FastPrediction[] = [];
      for (let w = 0; w < n; w++) out.push(one(X, w * T * F));
      return out;
    },
  };
}

/** The forecast distributions (one per horizon) of one normalised window: research and live use this. */
export function forecastDistributions(predictor: FastPredictor, x: Float32Array): ForecastDistribution[] {
  return predictor.predictOne(x).distributions;
}
