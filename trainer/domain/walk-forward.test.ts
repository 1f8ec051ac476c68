import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../core/errors.js';
import { lowerBound, walkForwardFolds, type WalkForwardOptions } from './walk-forward.js';

const H = 3_600_000;
/** Hourly window times 0..99 h, with hours 50..54 missing (a data gap). */
const times = Array.from({ length: 100 }, (_, i) => i * H).filter((t) => t < 50 * H || t >= 55 * H);

const base: WalkForwardOptions = {
  times,
  start: 0,
  end: 100 * H,
  intervalMs: H,
  trainMode: 'expanding',
  trainPeriods: 40,
  valPeriods: 10,
  testPeriods: 20,
};

describe('walkForwardFolds (development)', () => {
  it('expanding: train starts at start, parts are contiguous, tests tile', () => {
    const folds = walkForwardFolds(base);
    expect(folds.map((f) => [f.trainFrom / H, f.trainTo / H, f.valTo / H, f.testTo / H])).toEqual([
      [0, 40, 50, 70],
      [0, 60, 70, 90],
      [0, 80, 90, 100], // last test truncated at end
    ]);
    for (const f of folds) {
      expect(f.valFrom).toBe(f.trainTo);
      expect(f.testFrom).toBe(f.valTo);
      expect(f.purpose).toBe('development');
    }
    // index ranges follow the times (the gap 50..54 removes 5 windows from fold 0's test)
    expect(folds[0]!.train).toEqual({ from: 0, to: 40 });
    expect(folds[0]!.val).toEqual({ from: 40, to: 50 });
    expect(folds[0]!.test).toEqual({ from: 50, to: 65 });
    expect(folds.map((f) => f.index)).toEqual([0, 1, 2]);
  });

  it('rolling: the training span keeps its length; step can differ from the test span', () => {
    const folds = walkForwardFolds({ ...base, trainMode: 'rolling', stepPeriods: 10 });
    expect(folds.map((f) => [f.trainFrom / H, f.trainTo / H])).toEqual([
      [0, 40],
      [10, 50],
      [20, 60],
      [30, 70],
      [40, 80],
    ]);
    expect(folds.at(-1)!.testTo).toBe(100 * H);
  });

  it('cuts every fold at finalWindowStart: nothing reaches into the final window', () => {
    const fws = 75 * H;
    const folds = walkForwardFolds({ ...base, finalWindowStart: fws, stepPeriods: 5 });
    expect(folds.length).toBeGreaterThan(0);
    for (const f of folds) {
      expect(f.testTo).toBeLessThanOrEqual(fws);
      expect(f.valTo).toBeLessThan(fws);
      for (const r of [f.train, f.val, f.test]) {
        for (let i = r.from; i < r.to; i++) expect(times[i]!).toBeLessThan(fws);
      }
    }
    expect(folds.at(-1)!.testTo).toBe(fws);
  });

  it('applies an embargo of h-1 periods to train and validation windows', () => {
    const [f] = walkForwardFolds({ ...base, horizonPeriods: 3 });
    expect(f!.train).toEqual({ from: 0, to: 38 });
    expect(f!.val).toEqual({ from: 40, to: 48 });
  });

  it('skips folds with too few windows and validates its options', () => {
    // fold 0's test [50, 70) holds 15 windows; require 16
    expect(walkForwardFolds({ ...base, minTestWindows: 16 }).map((f) => f.testFrom / H)).toEqual([70]);
    expect(() => walkForwardFolds({ ...base, trainPeriods: 0 })).toThrow(/trainPeriods/);
    expect(() => walkForwardFolds({ ...base, times: [2, 1] })).toThrow(/strictly increase/);
    expect(() => walkForwardFolds({ ...base, start: 5, end: 5 })).toThrow(BitPredictError);
    expect(walkForwardFolds({ ...base, trainPeriods: 95 })).toEqual([]);
  });
});

describe('walkForwardFolds (final)', () => {
  it('one fold tests [finalWindowStart, end) and trains/validates only before it', () => {
    const fws = 80 * H;
    const folds = walkForwardFolds({ ...base, purpose: 'final', finalWindowStart: fws });
    expect(folds).toHaveLength(1);
    const f = folds[0]!;
    expect(f.purpose).toBe('final');
    expect([f.trainFrom / H, f.trainTo / H, f.valFrom / H, f.valTo / H, f.testFrom / H, f.testTo / H]).toEqual([0, 70, 70, 80, 80, 100]);
    for (let i = f.train.from; i < f.val.to; i++) expect(times[i]!).toBeLessThan(fws);
    for (let i = f.test.from; i < f.test.to; i++) expect(times[i]!).toBeGreaterThanOrEqual(fws);
    expect(f.test.to).toBe(times.length);
  });

  it('rolling final fold keeps trainPeriods; finalWindowStart is required', () => {
    const [f] = walkForwardFolds({ ...base, trainMode: 'rolling', purpose: 'final', finalWindowStart: 80 * H });
    expect([f!.trainFrom / H, f!.trainTo / H]).toEqual([30, 70]);
    expect(() => walkForwardFolds({ ...base, purpose: 'final' })).toThrow(/finalWindowStart is required/);
    expect(() => walkForwardFolds({ ...base, purpose: 'final', finalWindowStart: 200 * H })).toThrow(/inside/);
  });
});

describe('lowerBound', () => {
  it('finds the first index at or after t', () => {
    expect(lowerBound([1, 3, 5], 0)).toBe(0);
    expect(lowerBound([1, 3, 5], 3)).toBe(1);
    expect(lowerBound([1, 3, 5], 4)).toBe(2);
    expect(lowerBound([1, 3, 5], 6)).toBe(3);
  });
});
