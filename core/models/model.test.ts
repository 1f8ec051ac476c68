import { describe, expect, it } from 'vitest';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { loadTf } from './tf.js';
import { buildModel, headUnits, studentTLoss } from './model.js';
import { STUDENT_T_DOF, headSigma, studentTNll } from './head.js';

const weightsOf = (m: LayersModel): Float32Array[] => m.getWeights().map((w) => w.dataSync() as Float32Array);

describe('buildModel', () => {
  it('builds LSTM -> attention -> the forecast head with 2 units per horizon', async () => {
    const { tf } = await loadTf();
    const m = buildModel(tf, { T: 6, F: 3, H: 3, units: 8, attentionUnits: 4, seed: 7 });
    expect(m.inputs[0]!.shape).toEqual([null, 6, 3]);
    expect(m.outputNames).toEqual(['forecast']);
    expect(headUnits(m)).toBe(6);
    expect(m.getLayer('attention').getClassName()).toBe('BitPredictAdditiveAttention');
    // LSTM kernel [F, 4u], recurrent [u, 4u], bias; attention W [u, A], b [A], v [A, 1]; the head [u, 2H], [2H].
    expect(m.getWeights().map((w) => w.shape)).toEqual([[3, 32], [8, 32], [32], [8, 4], [4], [4, 1], [8, 6], [6]]);
    const out = tf.tidy(() => (m.predict(tf.ones([5, 6, 3])) as Tensor).arraySync() as number[][]);
    expect(out).toHaveLength(5);
    expect(out[0]).toHaveLength(6);
    expect(headUnits(buildModel(tf, { T: 2, F: 2, seed: 1 }))).toBe(2); // default: one horizon
    m.dispose();
  });

  it('the loss is the Student-t NLL averaged over the present labels only', async () => {
    const { tf } = await loadTf();
    const H = 2;
    const loss = studentTLoss(tf, H);
    // Two windows; window 1's second horizon is missing (label 0 with mask 0, so any value is ignored).
    const yTrue = [
      [0.5, -1.2, 1, 1],
      [2.0, 123, 1, 0],
    ];
    const yPred = [
      [0.1, -0.3, 0.2, -1.5],
      [-0.4, 0.0, 1.1, 0.3],
    ];
    const got = tf.tidy(() => loss(tf.tensor2d(yTrue), tf.tensor2d(yPred)).dataSync()[0]!);
    const nll = (y: number, mu: number, raw: number): number => studentTNll(y, mu, headSigma(raw), STUDENT_T_DOF);
    const want = (nll(0.5, 0.1, 0.2) + nll(-1.2, -0.3, -1.5) + nll(2.0, -0.4, 1.1)) / 3;
    expect(got).toBeCloseTo(want, 5);
    // No present label: 0, not NaN.
    expect(tf.tidy(() => loss(tf.tensor2d([[1, 2, 0, 0]]), tf.tensor2d([[0, 0, 0, 0]])).dataSync()[0])).toBe(0);
  });

  it('is seeded: same seed -> identical weights, different seed -> different', async () => {
    const { tf } = await loadTf();
    const a = weightsOf(buildModel(tf, { T: 4, F: 2, units: 4, attentionUnits: 3, seed: 11 }));
    const b = weightsOf(buildModel(tf, { T: 4, F: 2, units: 4, attentionUnits: 3, seed: 11 }));
    const c = weightsOf(buildModel(tf, { T: 4, F: 2, units: 4, attentionUnits: 3, seed: 12 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('attention weights sum to one: context of identical steps equals that step', async () => {
    const { tf } = await loadTf();
    const m = buildModel(tf, { T: 5, F: 2, units: 4, attentionUnits: 3, seed: 3 });
    const attention = m.getLayer('attention');
    const h = tf.tensor3d([[[0.5, -1, 2, 0.25]]]).tile([1, 5, 1]);
    const ctx = attention.apply(h) as Tensor;
    const v = Array.from(ctx.dataSync());
    expect(v.map((x) => Number(x.toFixed(5)))).toEqual([0.5, -1, 2, 0.25]);
    tf.dispose([h, ctx]);
  });

  it('with dropout: adds the layer, identity at inference (predictions repeat)', async () => {
    const { tf } = await loadTf();
    const m = buildModel(tf, { T: 4, F: 2, units: 4, attentionUnits: 3, seed: 5, dropout: 0.5 });
    expect(m.layers.map((l) => l.name)).toContain('dropout');
    const x = tf.ones([2, 4, 2]);
    const a = tf.tidy(() => Array.from((m.predict(x) as Tensor).dataSync()));
    const b = tf.tidy(() => Array.from((m.predict(x) as Tensor).dataSync()));
    expect(a).toEqual(b);
    x.dispose();
    m.dispose();
  });

  it('refuses bad options', async () => {
    const { tf } = await loadTf();
    expect(() => buildModel(tf, { T: 0, F: 2, seed: 1 })).toThrow(/T must be a positive integer/);
    expect(() => buildModel(tf, { T: 4, F: 2, seed: 1, dropout: 1 })).toThrow(/dropout/);
    expect(() => buildModel(tf, { T: 4, F: 2, H: 0, seed: 1 })).toThrow(/H must be a positive integer/);
  });
});
