import { describe, expect, it } from 'vitest';
import { loadTf } from './tf.js';
import { buildModel } from './model.js';
import { mulberry32, predict, predictHead, trainModel } from '../../trainer/model/train.js';
import { createFastKernel, createFastPredictor, forecastDistributions } from './fast.js';
import { gaussianForecastBlock } from './head.js';
import { isBitPredictError } from '../errors.js';
import type { WindowSet } from './domain/dataset.js';

const T = 7;
const F = 4;
const HORIZONS = [1, 3, 6];

/** A small learnable set with three horizons (the last is missing for a few windows). */
function set(n: number, seed: number): WindowSet {
  const rnd = mulberry32(seed);
  const X = Float32Array.from({ length: n * T * F }, () => rnd() * 4 - 2);
  const yReturn = Float32Array.from({ length: n }, (_, i) => 0.01 * X[(i * T + T - 1) * F]! + 0.004 * (rnd() - 0.5));
  const yHorizons = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    yHorizons[i * 3] = yReturn[i]!;
    yHorizons[i * 3 + 1] = 0.02 * Math.abs(X[(i * T + T - 1) * F + 1]!) * (rnd() - 0.5);
    yHorizons[i * 3 + 2] = i % 7 === 0 ? Number.NaN : 0.03 * (rnd() - 0.5);
  }
  return {
    T,
    F,
    n,
    X,
    yReturn,
    horizons: HORIZONS,
    yHorizons,
    yUp: Uint8Array.from(yReturn, (r) => (r > 0 ? 1 : 0)),
    eventTimes: new Float64Array(n),
    closes: new Float64Array(n),
  };
}

describe('createFastPredictor', () => {
  it('the plain-JS head equals tfjs within 1e-6 on a trained model (every horizon, many windows)', async () => {
    const { tf } = await loadTf();
    const n = 40;
    const train = set(n, 3);
    // Trained a little so that biases and the attention are not at their initial values.
    const { model, forecast } = await trainModel(tf, train, set(30, 5), { epochs: 3, batchSize: 8, learningRate: 0.02, seed: 4, units: 6, attentionUnits: 5 });
    const ref = predictHead(tf, model, train.X, n, T, F);
    const fast = createFastPredictor(model, forecast);
    expect(fast.horizons).toEqual(HORIZONS);
    const mine = fast.kernel.forwardMany(train.X, n);
    expect(mine.mu).toHaveLength(n * 3);
    for (let i = 0; i < n * 3; i++) {
      expect(Math.abs(mine.mu[i]! - ref.mu[i]!)).toBeLessThan(1e-6);
      expect(Math.abs(mine.sigma[i]! - ref.sigma[i]!)).toBeLessThan(1e-6);
    }
    // Outputs differ between windows and horizons (the comparison above is not between constants).
    expect(new Set(Array.from(ref.mu, (r) => r.toFixed(5))).size).toBeGreaterThan(30);
    expect(new Set(Array.from(ref.sigma, (r) => r.toFixed(5))).size).toBeGreaterThan(30);
    // The distributions: tfjs batch (research) and the live kernel agree to float32 rounding.
    const research = predict(tf, model, forecast, train.X, n, T, F);
    for (let i = 0; i < n; i++) {
      const live = forecastDistributions(fast, train.X.subarray(i * T * F, (i + 1) * T * F));
      expect(live).toHaveLength(3);
      for (let k = 0; k < 3; k++) {
        expect(live[k]!.mean).toBeCloseTo(research.distributions[i]![k]!.mean, 7);
        expect(live[k]!.scale).toBeCloseTo(research.distributions[i]![k]!.scale, 7);
        for (let q = 0; q < 7; q++) expect(live[k]!.quantiles[q]).toBeCloseTo(research.distributions[i]![k]!.quantiles[q]!, 7);
      }
    }
    const one = fast.predictOne(train.X.subarray(T * F, 2 * T * F));
    expect(one.ret).toBe(one.distributions[0]!.mean);
    expect(one.probUp).toBe(one.distributions[0]!.probUp);
    expect(() => fast.predictOne(train.X.subarray(0, 5))).toThrow(/window has 5 values, expected T\*F = 28/);
    expect(() => fast.predictMany(train.X, n + 1)).toThrow(/expected n\*T\*F/);
    model.dispose();
  });

  it('a batch gives bitwise the outputs of its windows computed one by one (one kernel)', async () => {
    const { tf } = await loadTf();
    const n = 25;
    const s = set(n, 8);
    const model = buildModel(tf, { T, F, H: 3, units: 5, attentionUnits: 3, seed: 9 });
    const block = gaussianForecastBlock(HORIZONS);
    const fast = createFastPredictor(model, block);
    const many = fast.predictMany(s.X, n);
    const raw = fast.kernel.forwardMany(s.X, n);
    // Interleave with other windows so no state carries over between calls.
    for (let i = n - 1; i >= 0; i--) {
      const one = fast.predictOne(s.X.subarray(i * T * F, (i + 1) * T * F));
      for (let k = 0; k < 3; k++) {
        const a = one.distributions[k]!;
        const b = many[i]!.distributions[k]!;
        expect(Object.is(a.mean, b.mean) && Object.is(a.scale, b.scale) && Object.is(a.probUp, b.probUp)).toBe(true);
        a.quantiles.forEach((q, j) => expect(Object.is(q, b.quantiles[j])).toBe(true));
        expect(Object.is(a.mean, raw.mu[i * 3 + k]! * block.targetScales[k]!)).toBe(true);
      }
    }
    model.dispose();
  });

  it('sliding windows give bitwise the same outputs whether their rows were seen before (row cache) or not', async () => {
    const { tf } = await loadTf();
    const model = buildModel(tf, { T, F, H: 3, units: 5, attentionUnits: 3, seed: 11 });
    // A series of rows with zeros and a signed zero; windows overlap by T-1 rows, as live and in a backtest.
    const rows = 40;
    const rnd = mulberry32(12);
    const S = Float32Array.from({ length: rows * F }, (_, i) => (i % 5 === 0 ? 0 : i % 9 === 0 ? -0 : rnd() * 4 - 2));
    const n = rows - T + 1;
    const X = new Float32Array(n * T * F);
    for (let w = 0; w < n; w++) X.set(S.subarray(w * F, (w + T) * F), w * T * F);
    const sliding = createFastKernel(model).forwardMany(X, n); // every row but the newest is a cache hit
    const fresh = new Float64Array(3);
    const freshSigma = new Float64Array(3);
    for (let w = 0; w < n; w++) {
      createFastKernel(model).forward(X, w * T * F, fresh, freshSigma, 0); // a new kernel: every row a miss
      for (let k = 0; k < 3; k++) {
        expect(Object.is(fresh[k], sliding.mu[w * 3 + k])).toBe(true);
        expect(Object.is(freshSigma[k], sliding.sigma[w * 3 + k])).toBe(true);
      }
    }
    // A row that differs in one value from a cached one is not taken for it.
    const Y = X.slice(0, T * F);
    Y[(T - 1) * F + 1] = Math.fround(Y[(T - 1) * F + 1]! + 1e-3);
    const kernel = createFastKernel(model);
    kernel.forwardMany(X, n);
    const mine = kernel.forwardMany(Y, 1);
    const ref = createFastKernel(model).forwardMany(Y, 1);
    expect(Array.from(mine.mu)).toEqual(Array.from(ref.mu));
    expect(mine.mu[0]).not.toBe(sliding.mu[0]);
    model.dispose();
  });

  it('refuses a window whose distributions are not valid, and models that do not fit the block', async () => {
    const { tf } = await loadTf();
    const m = buildModel(tf, { T: 3, F: 2, H: 2, units: 4, attentionUnits: 2, seed: 1 });
    const fast = createFastPredictor(m, gaussianForecastBlock([1, 4]));
    const bad = new Float32Array(6).fill(Number.NaN);
    let code = '';
    try {
      fast.predictOne(bad);
    } catch (err) {
      code = isBitPredictError(err) ? err.code : String(err);
    }
    expect(code).toBe('ERR_FORECAST_INVALID');
    expect(() => createFastPredictor(m, gaussianForecastBlock([1, 4, 24]))).toThrow(/output layer has 4 units, but forecast.horizons \[1,4,24\] need 6/);
    const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 2], units: 1 })] });
    expect(() => createFastKernel(other)).toThrow(/no layer 'lstm'|lstm/);
    expect(createFastKernel(m).H).toBe(2);
    m.dispose();
    other.dispose();
  });
});
