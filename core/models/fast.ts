// A plain-JS forward pass of the LSTM-attention model for live, one-window-at-a-time prediction.
// tfjs runs the LSTM as ~15 small kernels per time step (~700 for T=48), each with dispatch
// overhead: ~20 ms per window on wasm on this machine, too slow for the p99 < 20 ms goal. The same
// arithmetic in Float32Arrays is ~0.5 ms. Weights are copied out of the tfjs model once; the
// result equals model.predict to float32 rounding (tested). Inference only (dropout is identity).
import type { LayersModel } from '@tensorflow/tfjs';
import { BitPredictError } from '../errors.js';
import { RETURN_SCALE } from './model.js';

export interface FastPrediction {
  /** Predicted next-period log return (unscaled). */
  ret: number;
  /** Probability that the next return is > 0. */
  probUp: number;
}

export interface FastPredictor {
  T: number;
  F: number;
  /** One window [T*F] (row-major [step][feature], normalised). */
  predictOne(x: Float32Array): FastPrediction;
  /** n windows back to back; same outputs as trainer/model/train.ts predict. */
  predictMany(X: Float32Array, n: number): { ret: Float32Array; probUp: Float32Array };
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

/** Copies the weights of a model built by buildModel into a plain-JS predictor. */
export function createFastPredictor(model: LayersModel, returnScale = RETURN_SCALE): FastPredictor {
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
  const [rW, rB] = weightsOf(model, 'ret', 2) as [Float32Array, Float32Array];
  const [uW, uB] = weightsOf(model, 'up', 2) as [Float32Array, Float32Array];
  const upAct = activation((model.getLayer('up').getConfig() as Record<string, unknown>).activation, 'up.activation');
  const G = 4 * units;

  // Scratch buffers, reused across calls (the predictor is not re-entrant, JS is single-threaded).
  const hs = new Float64Array(T * units);
  const z = new Float64Array(G);
  const c = new Float64Array(units);
  const scores = new Float64Array(T);
  const ctx = new Float64Array(units);

  function forward(X: Float32Array, off: number): FastPrediction {
    c.fill(0);
    for (let t = 0; t < T; t++) {
      // z = x_t K + h_{t-1} U + b
      for (let g = 0; g < G; g++) z[g] = B[g]!;
      const xo = off + t * F;
      for (let f = 0; f < F; f++) {
        const xv = X[xo + f]!;
        if (xv === 0) continue;
        const ko = f * G;
        for (let g = 0; g < G; g++) z[g]! += xv * K[ko + g]!;
      }
      if (t > 0) {
        const ho = (t - 1) * units;
        for (let k = 0; k < units; k++) {
          const hv = hs[ho + k]!;
          const uo = k * G;
          for (let g = 0; g < G; g++) z[g]! += hv * U[uo + g]!;
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
    let r = rB[0]!;
    let u = uB[0]!;
    for (let k = 0; k < units; k++) {
      r += ctx[k]! * rW[k]!;
      u += ctx[k]! * uW[k]!;
    }
    return { ret: r * returnScale, probUp: upAct(u) };
  }

  return {
    T,
    F,
    predictOne(x) {
      if (x.length !== T * F) throw new BitPredictError('ERR_VALIDATION', `fast predictor: window has ${x.length} values, expected T*F = ${T * F}`);
      return forward(x, 0);
    },
    predictMany(X, n) {
      if (X.length !== n * T * F) throw new BitPredictError('ERR_VALIDATION', `fast predictor: X has ${X.length} values, expected n*T*F = ${n * T * F}`);
      const ret = new Float32Array(n);
      const probUp = new Float32Array(n);
      for (let w = 0; w < n; w++) {
        const p = forward(X, w * T * F);
        ret[w] = p.ret;
        probUp[w] = p.probUp;
      }
      return { ret, probUp };
    },
  };
}
