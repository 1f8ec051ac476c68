import { describe, it, expect } from 'vitest';
import { BitPredictError } from '../errors.js';
import type { ScoredText } from '../../schemas/types.js';
import { createTextIndex, textIndexItemOf } from './text-index.js';
import type { TextIndex, TextIndexItem, TextWindowAggregate } from './text-index.js';
import { mulberry32 } from '../random.js';

// Small seeded PRNG so random tests are reproducible.
const rng = mulberry32;

function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const FIELDS = ['textCount', 'vaderMean', 'vaderStd', 'vaderPosShare', 'vaderNegShare', 'finbertCount', 'finbertMean'] as const;

function expectSame(actual: TextWindowAggregate, expected: TextWindowAggregate, where: string): void {
  for (const f of FIELDS) {
    if (!Object.is(actual[f], expected[f])) {
      throw new Error(`${where}: field ${f} differs: got ${String(actual[f])}, expected ${String(expected[f])}`);
    }
  }
}

/**
 * Independent reference: filter the live items by the window, sort them by (publishedAt, id) and
 * reduce. Written from the field definitions in feature-vector.avsc, not from the index's code.
 */
function naiveAggregate(items: Iterable<TextIndexItem>, t: number, windowMs: number): TextWindowAggregate {
  const win = [...items]
    .filter((x) => x.publishedAt > t - windowMs && x.publishedAt <= t)
    .sort((a, b) => a.publishedAt - b.publishedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = win.length;
  const sum = win.reduce((s, x) => s + x.compound, 0);
  const mean = n === 0 ? null : sum / n;
  const std = n < 2 || mean === null ? null : Math.sqrt(win.reduce((s, x) => s + (x.compound - mean) ** 2, 0) / n);
  const fb = win.filter((x) => x.finbert !== null).map((x) => x.finbert as number);
  return {
    textCount: n,
    vaderMean: mean,
    vaderStd: std,
    vaderPosShare: n === 0 ? null : win.filter((x) => x.compound >= 0.05).length / n,
    vaderNegShare: n === 0 ? null : win.filter((x) => x.compound <= -0.05).length / n,
    finbertCount: fb.length,
    finbertMean: fb.length === 0 ? null : fb.reduce((s, x) => s + x, 0) / fb.length,
  };
}

function item(id: string, publishedAt: number, compound: number, finbert: number | null = null): TextIndexItem {
  return { id, publishedAt, compound, finbert };
}

function expectValidationError(fn: () => unknown, mentions: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BitPredictError);
  expect((caught as BitPredictError).code).toBe('ERR_VALIDATION');
  expect((caught as BitPredictError).message).toContain(mentions);
}

describe('createTextIndex: hand-worked example', () => {
  // t = 10 000, W = 1 000: the window is (9 000, 10 000].
  //   a  9 000  compound  0.9              excluded (exactly t - W)
  //   b  9 001  compound  0.5  finbert  0.25
  //   c  9 500  compound -0.5  finbert  null
  //   d 10 000  compound  0    finbert -0.75  included (exactly t)
  //   e 10 001  compound  1    finbert  1     excluded (t + 1, look-ahead)
  // Window b, c, d: mean (0.5 - 0.5 + 0) / 3 = 0; population variance (0.25 + 0.25 + 0) / 3 = 1/6,
  // std = sqrt(1/6) = 0.408248290463863; positive share 1/3 (b), negative share 1/3 (c), d neutral;
  // FinBERT over b and d: (0.25 - 0.75) / 2 = -0.25.
  const idx = createTextIndex();
  for (const x of [item('a', 9_000, 0.9), item('b', 9_001, 0.5, 0.25), item('c', 9_500, -0.5), item('d', 10_000, 0, -0.75), item('e', 10_001, 1, 1)]) {
    expect(idx.add(x)).toBe('added');
  }

  it('aggregates the window by hand', () => {
    const agg = idx.aggregate(10_000, 1_000);
    expect(agg.textCount).toBe(3);
    expect(agg.vaderMean).toBe(0);
    expect(agg.vaderStd).toBeCloseTo(0.408248290463863, 14);
    expect(agg.vaderPosShare).toBeCloseTo(1 / 3, 15);
    expect(agg.vaderNegShare).toBeCloseTo(1 / 3, 15);
    expect(agg.finbertCount).toBe(2);
    expect(agg.finbertMean).toBe(-0.25);
  });

  it('reports size and maxPublishedAt', () => {
    expect(idx.size).toBe(5);
    expect(idx.maxPublishedAt).toBe(10_001);
  });
});

describe('createTextIndex: window boundaries', () => {
  const idx = createTextIndex();
  idx.add(item('x', 5_000, 0.3, 0.1));

  it('excludes an item at exactly t - W', () => {
    expect(idx.aggregate(6_000, 1_000).textCount).toBe(0);
  });
  it('includes an item one ms after t - W', () => {
    expect(idx.aggregate(5_999, 1_000).textCount).toBe(1);
  });
  it('includes an item at exactly t', () => {
    const agg = idx.aggregate(5_000, 1_000);
    expect(agg.textCount).toBe(1);
    expect(agg.vaderMean).toBe(0.3);
    expect(agg.finbertMean).toBe(0.1);
  });
  it('never counts an item at t + 1 (no look-ahead)', () => {
    expect(idx.aggregate(4_999, 1_000).textCount).toBe(0);
  });
  it('returns the documented nulls', () => {
    expect(idx.aggregate(4_999, 1_000)).toEqual({
      textCount: 0,
      vaderMean: null,
      vaderStd: null,
      vaderPosShare: null,
      vaderNegShare: null,
      finbertCount: 0,
      finbertMean: null,
    });
    // One item: std is null (fewer than 2), the rest are defined.
    const one = idx.aggregate(5_000, 1_000);
    expect(one.vaderStd).toBeNull();
    expect(one.vaderPosShare).toBe(1);
    expect(one.vaderNegShare).toBe(0);
  });
  it('counts finbertMean as null when no item in the window has FinBERT', () => {
    const j = createTextIndex();
    j.add(item('p', 100, 0.2));
    j.add(item('q', 101, -0.4));
    const agg = j.aggregate(101, 10);
    expect(agg.textCount).toBe(2);
    expect(agg.finbertCount).toBe(0);
    expect(agg.finbertMean).toBeNull();
    expect(agg.vaderStd).toBeCloseTo(0.3, 15);
  });
  it('applies the 0.05 / -0.05 share thresholds inclusively', () => {
    const j = createTextIndex();
    j.add(item('p', 1, 0.05));
    j.add(item('n', 2, -0.05));
    j.add(item('z1', 3, 0.0499));
    j.add(item('z2', 4, -0.0499));
    const agg = j.aggregate(4, 100);
    expect(agg.vaderPosShare).toBe(0.25);
    expect(agg.vaderNegShare).toBe(0.25);
  });
});

describe('createTextIndex: duplicates', () => {
  it('ignores a repeated id; the first content wins', () => {
    const idx = createTextIndex();
    expect(idx.add(item('dup', 1_000, 0.5, 0.5))).toBe('added');
    expect(idx.add(item('dup', 1_000, 0.5, 0.5))).toBe('duplicate');
    expect(idx.add(item('dup', 1_500, -0.9, null))).toBe('duplicate');
    expect(idx.size).toBe(1);
    expect(idx.maxPublishedAt).toBe(1_000);
    const agg = idx.aggregate(2_000, 5_000);
    expect(agg.textCount).toBe(1);
    expect(agg.vaderMean).toBe(0.5);
    expect(agg.finbertMean).toBe(0.5);
  });
  it('accepts an id again once it has been evicted', () => {
    const idx = createTextIndex();
    idx.add(item('a', 1_000, 0.1));
    expect(idx.evictBefore(1_000)).toBe(1);
    expect(idx.add(item('a', 2_000, 0.2))).toBe('added');
    expect(idx.aggregate(2_000, 10).vaderMean).toBe(0.2);
  });
  it('does not reserve the id of a rejected item', () => {
    const idx = createTextIndex();
    expect(() => idx.add(item('a', 1_000, 2))).toThrow(BitPredictError);
    expect(idx.size).toBe(0);
    expect(idx.add(item('a', 1_000, 0.2))).toBe('added');
  });
});

describe('createTextIndex: eviction', () => {
  it('drops items with publishedAt <= time and returns how many', () => {
    const idx = createTextIndex();
    for (let i = 1; i <= 10; i++) idx.add(item(`i${i}`, i * 100, i / 20));
    expect(idx.evictBefore(50)).toBe(0);
    expect(idx.evictBefore(300)).toBe(3); // 100, 200, 300
    expect(idx.size).toBe(7);
    expect(idx.aggregate(1_000, 10_000).textCount).toBe(7);
    expect(idx.aggregate(300, 10_000).textCount).toBe(0);
    expect(idx.evictBefore(300)).toBe(0);
    expect(idx.evictBefore(999)).toBe(6);
    expect(idx.maxPublishedAt).toBe(1_000);
    expect(idx.evictBefore(1_000)).toBe(1);
    expect(idx.size).toBe(0);
    expect(idx.maxPublishedAt).toBeNull();
  });
  it('keeps working after a large eviction (compaction) and out-of-order inserts', () => {
    const idx = createTextIndex();
    const live = new Map<string, TextIndexItem>();
    for (let i = 0; i < 5_000; i++) {
      const x = item(`k${i}`, i * 10, ((i * 37) % 200) / 100 - 1, i % 3 === 0 ? null : ((i * 13) % 200) / 100 - 1);
      idx.add(x);
      live.set(x.id, x);
    }
    expect(idx.evictBefore(30_000)).toBe(3_001);
    for (const [id, x] of live) if (x.publishedAt <= 30_000) live.delete(id);
    // Out of order, including between live items and before the eviction horizon.
    for (const x of [item('late1', 30_005, 0.7, 0.1), item('late2', 45_000, -0.3), item('late3', 25_000, 0.4)]) {
      expect(idx.add(x)).toBe('added');
      live.set(x.id, x);
    }
    expect(idx.size).toBe(live.size);
    for (const t of [25_000, 30_010, 40_000, 45_000, 49_990, 60_000]) {
      expectSame(idx.aggregate(t, 7_500), naiveAggregate(live.values(), t, 7_500), `t=${t}`);
    }
  });
});

describe('createTextIndex: bad input', () => {
  const idx = createTextIndex();
  it('rejects bad items with ERR_VALIDATION naming the field', () => {
    expectValidationError(() => idx.add(item('', 1, 0)), 'id');
    expectValidationError(() => idx.add(item('a', 1.5, 0)), 'publishedAt');
    expectValidationError(() => idx.add(item('a', Number.NaN, 0)), 'publishedAt');
    expectValidationError(() => idx.add(item('a', Number.MAX_SAFE_INTEGER + 1, 0)), 'publishedAt');
    expectValidationError(() => idx.add(item('a', 1, Number.NaN)), 'compound');
    expectValidationError(() => idx.add(item('a', 1, 1.0001)), 'compound');
    expectValidationError(() => idx.add(item('a', 1, -1.0001)), 'compound');
    expectValidationError(() => idx.add(item('a', 1, 0, Number.POSITIVE_INFINITY)), 'finbert');
    expectValidationError(() => idx.add(item('a', 1, 0, -1.5)), 'finbert');
    expectValidationError(() => idx.add(item('a', 1, 0, Number.NaN)), 'finbert');
    expect(idx.size).toBe(0);
  });
  it('accepts the closed range ends', () => {
    expect(idx.add(item('lo', 1, -1, -1))).toBe('added');
    expect(idx.add(item('hi', 2, 1, 1))).toBe('added');
  });
  it('rejects bad aggregate and eviction arguments', () => {
    expectValidationError(() => idx.aggregate(Number.NaN, 1_000), 't');
    expectValidationError(() => idx.aggregate(1_000, 0), 'windowMs');
    expectValidationError(() => idx.aggregate(1_000, -5), 'windowMs');
    expectValidationError(() => idx.aggregate(1_000, 0.5), 'windowMs');
    expectValidationError(() => idx.evictBefore(Number.POSITIVE_INFINITY), 'time');
  });
});

describe('createTextIndex: order independence and the naive reference', () => {
  // Random items with non-dyadic compounds (sums round, so summation order shows in the bits),
  // many sharing a publishedAt (exercises the id tiebreak), ~1/3 without FinBERT.
  function randomItems(n: number, seed: number): TextIndexItem[] {
    const rand = rng(seed);
    const out: TextIndexItem[] = [];
    for (let i = 0; i < n; i++) {
      const publishedAt = 1_700_000_000_000 + Math.floor(rand() * 500) * 60_000;
      const compound = Math.round((rand() * 2 - 1) * 1e4) / 1e4;
      const finbert = rand() < 0.33 ? null : rand() * 2 - 1;
      out.push(item(`id-${seed}-${i}`, publishedAt, compound, finbert));
    }
    return out;
  }
  const items = randomItems(3_000, 7);
  const windowMs = 90 * 60_000;
  const times: number[] = [];
  for (let k = -2; k < 505; k += 3) times.push(1_700_000_000_000 + k * 60_000 + (k % 2 === 0 ? 0 : 1));

  function build(order: readonly TextIndexItem[]): TextIndex {
    const idx = createTextIndex();
    for (const x of order) idx.add(x);
    return idx;
  }

  it('gives bit-identical aggregates whatever the insertion order', () => {
    const sorted = items.slice().sort((a, b) => a.publishedAt - b.publishedAt || (a.id < b.id ? -1 : 1));
    const base = build(sorted);
    for (const seed of [1, 2, 3]) {
      const other = build(shuffled(items, rng(seed)));
      expect(other.size).toBe(base.size);
      for (const t of times) expectSame(other.aggregate(t, windowMs), base.aggregate(t, windowMs), `seed ${seed} t=${t}`);
    }
    const reversed = build(sorted.slice().reverse());
    for (const t of times) expectSame(reversed.aggregate(t, windowMs), base.aggregate(t, windowMs), `reversed t=${t}`);
  });

  it('the data is order-sensitive, so the test above can fail', () => {
    // Summing some window in a shuffled order gives different bits: a sum in arrival order would
    // not pass the invariance test.
    const rand = rng(99);
    let differs = false;
    for (const t of times) {
      const win = items.filter((x) => x.publishedAt > t - windowMs && x.publishedAt <= t);
      const a = win.reduce((s, x) => s + x.compound, 0);
      const b = shuffled(win, rand).reduce((s, x) => s + x.compound, 0);
      if (!Object.is(a, b)) differs = true;
    }
    expect(differs).toBe(true);
  });

  it('matches the naive filter + sort + reduce reference with duplicates and evictions interleaved', () => {
    const rand = rng(42);
    const order = shuffled(items, rand);
    const idx = createTextIndex();
    const live = new Map<string, TextIndexItem>();
    let added = 0;
    let dups = 0;
    let evicted = 0;
    for (let i = 0; i < order.length; i++) {
      const x = order[i] as TextIndexItem;
      expect(idx.add(x)).toBe(live.has(x.id) ? 'duplicate' : 'added');
      if (!live.has(x.id)) live.set(x.id, x);
      added++;
      if (rand() < 0.1 && i > 0) {
        // Same id again, different content: must be ignored while the first is held.
        const prev = order[Math.floor(rand() * i)] as TextIndexItem;
        const want = live.has(prev.id) ? 'duplicate' : 'added';
        const copy = item(prev.id, prev.publishedAt + 1, -prev.compound, null);
        expect(idx.add(copy)).toBe(want);
        if (want === 'added') live.set(copy.id, copy);
        else dups++;
      }
      if (i % 500 === 499) {
        const cut = 1_700_000_000_000 + Math.floor(rand() * 100) * 60_000;
        let expectDrop = 0;
        for (const [id, y] of live) {
          if (y.publishedAt <= cut) {
            live.delete(id);
            expectDrop++;
          }
        }
        expect(idx.evictBefore(cut)).toBe(expectDrop);
        evicted += expectDrop;
      }
      if (i % 100 === 0) {
        const t = times[Math.floor(rand() * times.length)] as number;
        expectSame(idx.aggregate(t, windowMs), naiveAggregate(live.values(), t, windowMs), `step ${i} t=${t}`);
      }
    }
    expect(idx.size).toBe(live.size);
    expect(idx.maxPublishedAt).toBe(Math.max(...[...live.values()].map((x) => x.publishedAt)));
    let nonEmpty = 0;
    for (const t of times) {
      for (const w of [1, 60_000, windowMs, 24 * 3_600_000]) {
        const want = naiveAggregate(live.values(), t, w);
        if (want.textCount > 1) nonEmpty++;
        expectSame(idx.aggregate(t, w), want, `final t=${t} W=${w}`);
      }
    }
    // The comparison exercised real windows, duplicates and evictions.
    expect(added).toBe(items.length);
    expect(dups).toBeGreaterThan(50);
    expect(evicted).toBeGreaterThan(0);
    expect(nonEmpty).toBeGreaterThan(100);
  });
});

describe('textIndexItemOf', () => {
  const base: ScoredText = {
    id: 'tw-1',
    source: 'x',
    kind: 'tweet',
    publishedAt: 1_700_000_000_000,
    vader: { compound: 0.4, pos: 0.3, neu: 0.7, neg: 0 },
    finbert: { positive: 0.75, negative: 0.125, neutral: 0.125, modelId: 'finbert', modelVersion: null },
    vaderVersion: '3.3.2',
    scoredAt: 1_700_000_000_500,
  };
  it('maps finbert to P(positive) - P(negative)', () => {
    expect(textIndexItemOf(base)).toEqual({ id: 'tw-1', publishedAt: 1_700_000_000_000, compound: 0.4, finbert: 0.625 });
  });
  it('maps a missing FinBERT score to null', () => {
    expect(textIndexItemOf({ ...base, finbert: null }).finbert).toBeNull();
  });
});
