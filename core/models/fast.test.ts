import { describe, expect, it } from 'vitest';
import { loadTf } from './tf.js';
import { buildModel } from './model.js';
import { mulberry32, predict, trainModel } from '../../trainer/model/train.js';
import { createFastPredictor } from './fast.js';

describe('createFastPredictor', () => {
  it('matches tfjs predict on a trained model (both heads, several windows)', async () => {
    const { tf } = await loadTf();
    const T = 7;
    const F = 4;
    const n = 40;
    const rnd = mulberry32(3);
    const X = Float32Array.from({ length: n * T * F }, () => rnd() * 4 - 2);
    const yReturn = Float32Array.from({ length: n }, (_, i) => 0.02 * (X[(i * T + T - 1) * F]! / 2));
    const set = { T, F, n, X, yReturn, yUp: Uint8Array.from(yReturn, (r) => (r > 0 ? 1 : 0)), eventTimes: new Float64Array(n), closes: new Float64Array(n) };
    // Trained a little so that biases and the attention are not at their initial values.
    const { model } = await trainModel(tf, set, null, { epochs: 3, batchSize: 8, learningRate: 0.02, seed: 4, units: 6, attentionUnits: 5 });
    const ref = predict(tf, model, X, n, T, F);
    const fast = createFastPredictor(model);
    const many = fast.predictMany(X, n);
    for (let i = 0; i < n; i++) {
      expect(many.ret[i]).toBeCloseTo(ref.ret[i]!, 6);
      expect(many.probUp[i]).toBeCloseTo(ref.probUp[i]!, 5);
    }
    // Outputs differ between windows (the comparison above is not between constants).
    expect(new Set(Array.from(ref.ret, (r) => r.toFixed(6))).size).toBeGreaterThan(10);
    const one = fast.predictOne(X.subarray(T * F, 2 * T * F));
    expect(one.ret).toBeCloseTo(ref.ret[1]!, 6);
    expect(() => fast.predictOne(X.subarray(0, 5))).toThrow(/window has 5 values, expected T\*F = 28/);
    model.dispose();
  });

  it('refuses a model that is not the LSTM-attention topology', async () => {
    const { tf } = await loadTf();
    const m = buildModel(tf, { T: 3, F: 2, units: 4, attentionUnits: 2, seed: 1 });
    const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 2], units: 1 })] });
    expect(() => createFastPredictor(other)).toThrow(/no layer 'lstm'|lstm/);
    expect(createFastPredictor(m).T).toBe(3);
    m.dispose();
    other.dispose();
  });
});
