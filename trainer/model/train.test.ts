import { describe, expect, it } from 'vitest';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { loadTf } from '../../core/models/tf.js';
import { evaluateLoss, mulberry32, predict, shuffleInPlace, trainModel } from './train.js';
import type { WindowSet } from '../../core/models/domain/dataset.js';

/** A learnable synthetic set: next return = 0.01 * mean of feature 0 over the last 3 steps, plus noise. */
function synthetic(n: number, T: number, F: number, seed: number): WindowSet {
  const rnd = mulberry32(seed);
  const X = new Float32Array(n * T * F).map(() => rnd() * 2 - 1);
  const yReturn = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = T - 3; t < T; t++) s += X[(i * T + t) * F]!;
    yReturn[i] = 0.01 * (s / 3) + 0.001 * (rnd() - 0.5);
  }
  return {
    T,
    F,
    n,
    X,
    yReturn,
    yUp: Uint8Array.from(yReturn, (r) => (r > 0 ? 1 : 0)),
    eventTimes: Float64Array.from({ length: n }, (_, i) => i * 3_600_000),
    closes: new Float64Array(n).fill(100),
  };
}

const flat = (m: LayersModel): number[] => m.getWeights().flatMap((w) => Array.from(w.dataSync()));
const small = { units: 8, attentionUnits: 4, batchSize: 16, learningRate: 0.01 };

describe('mulberry32 / shuffle', () => {
  it('is deterministic per seed and a permutation', () => {
    const a = shuffleInPlace(
      Uint32Array.from({ length: 50 }, (_, i) => i),
      mulberry32(5),
    );
    const b = shuffleInPlace(
      Uint32Array.from({ length: 50 }, (_, i) => i),
      mulberry32(5),
    );
    const c = shuffleInPlace(
      Uint32Array.from({ length: 50 }, (_, i) => i),
      mulberry32(6),
    );
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const r = mulberry32(1);
    for (let i = 0; i < 100; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});

describe('trainModel', () => {
  const train = synthetic(96, 6, 3, 1);
  const val = synthetic(48, 6, 3, 2);

  it('same seed -> identical weights after 2 epochs; different seed -> different', async () => {
    const { tf } = await loadTf();
    const a = await trainModel(tf, train, val, { ...small, epochs: 2, seed: 42 });
    const b = await trainModel(tf, train, val, { ...small, epochs: 2, seed: 42 });
    const c = await trainModel(tf, train, val, { ...small, epochs: 2, seed: 43 });
    expect(a.history).toHaveLength(2);
    expect(a.epochSeconds).toHaveLength(2);
    expect(flat(a.model)).toEqual(flat(b.model));
    expect(a.history.map((h) => h.loss)).toEqual(b.history.map((h) => h.loss));
    expect(flat(a.model)).not.toEqual(flat(c.model));
    [a, b, c].forEach((r) => r.model.dispose());
  });

  it('learns: val loss falls well below the untrained model on a learnable signal', async () => {
    const { tf } = await loadTf();
    const seen: number[] = [];
    const r = await trainModel(tf, synthetic(512, 6, 3, 3), val, { ...small, batchSize: 32, epochs: 8, seed: 1, onEpoch: (e) => seen.push(e.epoch) });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const first = r.history[0]!.valLoss!;
    const last = r.history.at(-1)!.valLoss!;
    expect(last).toBeLessThan(first * 0.8);
    expect(evaluateLoss(tf, r.model, val)).toBeCloseTo(last, 4);
    r.model.dispose();
  });

  it('early-stops on val and restores the best-val weights', async () => {
    const { tf } = await loadTf();
    // Labels that are pure noise: val loss cannot keep improving with a high learning rate.
    const noisy = synthetic(96, 6, 3, 4);
    const rnd = mulberry32(9);
    noisy.yReturn = noisy.yReturn.map(() => 0.02 * (rnd() - 0.5));
    noisy.yUp = Uint8Array.from(noisy.yReturn, (x) => (x > 0 ? 1 : 0));
    const r = await trainModel(tf, noisy, val, { ...small, learningRate: 0.05, epochs: 30, patience: 2, seed: 5 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.history.length).toBe(r.bestEpoch + 2);
    const bestVal = Math.min(...r.history.map((h) => h.valLoss!));
    expect(r.history[r.bestEpoch - 1]!.valLoss).toBe(bestVal);
    expect(evaluateLoss(tf, r.model, val)).toBeCloseTo(bestVal, 4);
    r.model.dispose();
  });

  it('refuses windows that do not match the model or bad options', async () => {
    const { tf } = await loadTf();
    await expect(trainModel(tf, { ...train, n: 95 }, null, { ...small, epochs: 1, seed: 1 })).rejects.toThrow(
      /train.X has 1728 values, expected n\*T\*F = 1710/,
    );
    await expect(trainModel(tf, train, synthetic(4, 5, 3, 1), { ...small, epochs: 1, seed: 1 })).rejects.toThrow(
      /val: window shape \[T=5, F=3\] does not match the model input \[T=6, F=3\]/,
    );
    await expect(trainModel(tf, train, null, { ...small, epochs: 0, seed: 1 })).rejects.toThrow(/epochs must be a positive integer/);
  });
});

describe('predict', () => {
  it('returns unscaled returns and probabilities, in batches, leaking no tensors', async () => {
    const { tf } = await loadTf();
    const set = synthetic(37, 6, 3, 8);
    const { model } = await trainModel(tf, set, null, { ...small, epochs: 1, seed: 2 });
    const before = tf.memory().numTensors;
    const p = predict(tf, model, set.X, set.n, 6, 3, 10);
    expect(tf.memory().numTensors).toBe(before);
    expect(p.ret).toHaveLength(37);
    expect(p.probUp.every((x) => x > 0 && x < 1)).toBe(true);
    // Batching does not change results; ret is the raw head output times RETURN_SCALE.
    const one = predict(tf, model, set.X, set.n, 6, 3, 64);
    expect(Array.from(one.ret)).toEqual(Array.from(p.ret));
    const raw = tf.tidy(() => (model.predict(tf.tensor3d(set.X.subarray(0, 18), [1, 6, 3])) as Tensor[])[0]!.dataSync()[0]!);
    expect(p.ret[0]).toBeCloseTo(raw * 0.01, 8);
    expect(() => predict(tf, model, set.X, set.n, 6, 4)).toThrow(/X has 666 values, expected n\*T\*F = 888/);
    model.dispose();
  });
});
