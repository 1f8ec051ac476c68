import { describe, expect, it } from 'vitest';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { loadTf } from '../../core/models/tf.js';
import { calibrateHead, evaluateLoss, mulberry32, predict, predictHead, scoreHead, shuffleInPlace, trainModel } from './train.js';
import type { WindowSet } from '../../core/models/domain/dataset.js';
import { headSigma, studentTNll } from '../../core/models/head.js';
import { distributionProblem } from '../../core/forecast/distribution.js';

/**
 * A learnable synthetic set with horizons [1, 3]: next return = 0.01 * mean of feature 0 over the
 * last 3 steps, plus noise; the 3-step label's size follows |feature 1| (a learnable scale), and
 * every fifth 3-step label is missing.
 */
function synthetic(n: number, T: number, F: number, seed: number): WindowSet {
  const rnd = mulberry32(seed);
  const X = new Float32Array(n * T * F).map(() => rnd() * 2 - 1);
  const yReturn = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = T - 3; t < T; t++) s += X[(i * T + t) * F]!;
    yReturn[i] = 0.01 * (s / 3) + 0.001 * (rnd() - 0.5);
  }
  const yHorizons = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    yHorizons[i * 2] = yReturn[i]!;
    yHorizons[i * 2 + 1] = i % 5 === 4 ? Number.NaN : 0.02 * (0.2 + Math.abs(X[(i * T + T - 1) * F + 1]!)) * (rnd() - 0.5);
  }
  return {
    T,
    F,
    n,
    X,
    yReturn,
    horizons: [1, 3],
    yHorizons,
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
    expect(evaluateLoss(tf, r.model, val, r.forecast.targetScales)).toBeCloseTo(last, 4);
    // The head is calibrated on val: valid distributions for every window and horizon.
    expect(r.calibratedOn).toBe('validation');
    expect(r.forecast.horizons).toEqual([1, 3]);
    const p = predict(tf, r.model, r.forecast, val.X, val.n, val.T, val.F);
    for (const ds of p.distributions) for (const d of ds) expect(distributionProblem(d)).toBeNull();
    r.model.dispose();
  });

  it('early-stops on val and restores the best-val weights', async () => {
    const { tf } = await loadTf();
    // Labels that are pure noise: val loss cannot keep improving with a high learning rate.
    const noisy = synthetic(96, 6, 3, 4);
    const rnd = mulberry32(9);
    noisy.yReturn = noisy.yReturn.map(() => 0.02 * (rnd() - 0.5));
    noisy.yUp = Uint8Array.from(noisy.yReturn, (x) => (x > 0 ? 1 : 0));
    noisy.yHorizons = noisy.yHorizons.map(() => 0.02 * (rnd() - 0.5));
    const r = await trainModel(tf, noisy, val, { ...small, learningRate: 0.05, epochs: 30, patience: 2, seed: 5 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.history.length).toBe(r.bestEpoch + 2);
    const bestVal = Math.min(...r.history.map((h) => h.valLoss!));
    expect(r.history[r.bestEpoch - 1]!.valLoss).toBe(bestVal);
    expect(evaluateLoss(tf, r.model, val, r.forecast.targetScales)).toBeCloseTo(bestVal, 4);
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
    await expect(trainModel(tf, train, { ...val, horizons: [1, 4] }, { ...small, epochs: 1, seed: 1 })).rejects.toThrow(/val: horizons \[1,4\] differ/);
    await expect(trainModel(tf, { ...train, yHorizons: train.yHorizons.map(() => Number.NaN) }, null, { ...small, epochs: 1, seed: 1 })).rejects.toThrow(
      /horizon 1: 0 training labels/,
    );
    await expect(trainModel(tf, train, null, { ...small, epochs: 1, seed: 1, targetScales: [0.01, -1] })).rejects.toThrow(/targetScales/);
  });

  it('missing labels contribute nothing: the loss is the mean NLL over the present ones', async () => {
    const { tf } = await loadTf();
    const r = await trainModel(tf, train, null, { ...small, epochs: 1, seed: 3 });
    expect(r.calibratedOn).toBe('training');
    const scales = r.forecast.targetScales;
    const out = predictHead(tf, r.model, val.X, val.n, 6, 3);
    let sum = 0;
    let m = 0;
    for (let i = 0; i < val.n * 2; i++) {
      const y = val.yHorizons[i]!;
      if (!Number.isFinite(y)) continue;
      sum += studentTNll(y / scales[i % 2]!, out.mu[i]!, out.sigma[i]!, 5);
      m++;
    }
    expect(m).toBeLessThan(val.n * 2);
    expect(evaluateLoss(tf, r.model, val, scales)).toBeCloseTo(sum / m, 8);
    // scoreHead counts the present labels per horizon and scores them in log-return units.
    const sc = scoreHead(tf, r.model, r.forecast, val);
    expect(sc.count).toEqual([val.n, m - val.n]);
    expect(sc.pinball.every((x) => Number.isFinite(x) && x > 0)).toBe(true);
    expect((sc.nll[0]! * sc.count[0]! + sc.nll[1]! * sc.count[1]!) / m).toBeCloseTo(sum / m, 8);
    // Calibration needs 20 present labels per horizon.
    expect(() => calibrateHead(tf, r.model, synthetic(10, 6, 3, 2), scales)).toThrow(/cannot calibrate the forecast shape/);
    r.model.dispose();
  });
});

describe('predict', () => {
  it('returns the raw head and the distributions, in batches, leaking no tensors', async () => {
    const { tf } = await loadTf();
    const set = synthetic(37, 6, 3, 8);
    const { model, forecast } = await trainModel(tf, set, synthetic(48, 6, 3, 9), { ...small, epochs: 1, seed: 2 });
    const before = tf.memory().numTensors;
    const p = predict(tf, model, forecast, set.X, set.n, 6, 3, 10);
    expect(tf.memory().numTensors).toBe(before);
    expect(p.ret).toHaveLength(37);
    expect(p.distributions).toHaveLength(37);
    expect(p.probUp.every((x) => x > 0 && x < 1)).toBe(true);
    // Batching does not change results; ret is the first horizon's mean = mu * targetScale.
    const one = predict(tf, model, forecast, set.X, set.n, 6, 3, 64);
    expect(Array.from(one.ret)).toEqual(Array.from(p.ret));
    const raw = tf.tidy(() => Array.from((model.predict(tf.tensor3d(set.X.subarray(0, 18), [1, 6, 3])) as Tensor).dataSync()));
    expect(p.ret[0]).toBeCloseTo(raw[0]! * forecast.targetScales[0]!, 9);
    const head = predictHead(tf, model, set.X, set.n, 6, 3);
    expect(head.sigma[1]).toBeCloseTo(headSigma(raw[3]!), 6);
    expect(() => predict(tf, model, forecast, set.X, set.n, 6, 4)).toThrow(/X has 666 values, expected n\*T\*F = 888/);
    model.dispose();
  });
});
