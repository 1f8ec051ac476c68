import { describe, expect, it } from 'vitest';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { loadTf } from './tf.js';
import { buildModel, RETURN_SCALE } from './model.js';

const weightsOf = (m: LayersModel): Float32Array[] => m.getWeights().map((w) => w.dataSync() as Float32Array);

describe('buildModel', () => {
  it('builds LSTM -> attention -> ret/up heads with the requested shapes', async () => {
    const { tf } = await loadTf();
    const m = buildModel(tf, { T: 6, F: 3, units: 8, attentionUnits: 4, seed: 7 });
    expect(m.inputs[0]!.shape).toEqual([null, 6, 3]);
    expect(m.outputNames).toEqual(['ret', 'up']);
    expect(m.getLayer('attention').getClassName()).toBe('BitPredictAdditiveAttention');
    // LSTM kernel [F, 4u], recurrent [u, 4u], bias; attention W [u, A], b [A], v [A, 1]; two dense heads.
    expect(m.getWeights().map((w) => w.shape)).toEqual([[3, 32], [8, 32], [32], [8, 4], [4], [4, 1], [8, 1], [1], [8, 1], [1]]);
    const [ret, up] = tf.tidy(() => (m.predict(tf.ones([5, 6, 3])) as Tensor[]).map((t) => t.arraySync() as number[][]));
    expect(ret).toHaveLength(5);
    for (const [p] of up!) expect(p! > 0 && p! < 1).toBe(true);
    expect(RETURN_SCALE).toBe(0.01);
    m.dispose();
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
    const a = tf.tidy(() => Array.from((m.predict(x) as Tensor[])[0]!.dataSync()));
    const b = tf.tidy(() => Array.from((m.predict(x) as Tensor[])[0]!.dataSync()));
    expect(a).toEqual(b);
    x.dispose();
    m.dispose();
  });

  it('refuses bad options', async () => {
    const { tf } = await loadTf();
    expect(() => buildModel(tf, { T: 0, F: 2, seed: 1 })).toThrow(/T must be a positive integer/);
    expect(() => buildModel(tf, { T: 4, F: 2, seed: 1, dropout: 1 })).toThrow(/dropout/);
  });
});
