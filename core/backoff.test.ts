import { describe, expect, it } from 'vitest';
import { backoffMs, type BackoffPolicy } from './backoff.js';

const seq = (policy: BackoffPolicy, n: number): number[] => Array.from({ length: n }, (_, i) => backoffMs(policy, i + 1));

describe('backoffMs', () => {
  it('doubles from the base per failure up to the cap', () => {
    expect(seq({ baseMs: 100, maxMs: 1000 }, 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
    // Zero or negative failure counts are the first failure.
    expect(backoffMs({ baseMs: 100, maxMs: 1000 }, 0)).toBe(100);
    expect(backoffMs({ baseMs: 100, maxMs: 1000 }, -3)).toBe(100);
  });

  it('stops doubling after maxDoublings, below the cap', () => {
    expect(seq({ baseMs: 1000, maxMs: 3_600_000, maxDoublings: 2 }, 5)).toEqual([1000, 2000, 4000, 4000, 4000]);
    // The default (30) keeps 2^n finite for any failure count.
    expect(backoffMs({ baseMs: 1, maxMs: Number.MAX_SAFE_INTEGER }, 1000)).toBe(2 ** 30);
  });

  it('full jitter is uniform in [0, delay], then floored at minMs', () => {
    const full = (r: number): BackoffPolicy => ({ baseMs: 500, maxMs: 30_000, jitter: 'full', random: () => r, minMs: 1 });
    expect(backoffMs(full(1), 1)).toBe(500);
    expect(backoffMs(full(0.5), 6)).toBe(8000);
    expect(backoffMs(full(0.25), 100)).toBe(7500);
    expect(backoffMs(full(0), 6)).toBe(1);
    expect(backoffMs({ ...full(0), minMs: undefined }, 6)).toBe(0);
  });

  it('half jitter takes off up to (just under) half, whatever the draw', () => {
    const half = (r: number): BackoffPolicy => ({ baseMs: 100, maxMs: 1000, jitter: 'half', random: () => r });
    expect(backoffMs(half(0), 2)).toBe(200);
    expect(backoffMs(half(0.5), 2)).toBe(150);
    expect(backoffMs(half(0.999), 2)).toBe(100);
    expect(backoffMs(half(1), 2)).toBe(100);
    expect(backoffMs(half(-1), 2)).toBe(200);
  });

  it('draws once per delay, and not at all without jitter', () => {
    let draws = 0;
    const random = (): number => {
      draws++;
      return 0.5;
    };
    backoffMs({ baseMs: 1, maxMs: 10, jitter: 'full', random }, 3);
    backoffMs({ baseMs: 1, maxMs: 10, jitter: 'half', random }, 3, 5);
    backoffMs({ baseMs: 1, maxMs: 10, random }, 3);
    expect(draws).toBe(2);
    expect(() => backoffMs({ baseMs: 1, maxMs: 10, jitter: 'full' }, 1)).toThrowError(/random source/);
  });

  it('a wait the server asked for wins when longer, beyond the cap', () => {
    const policy: BackoffPolicy = { baseMs: 1000, maxMs: 3000 };
    expect(backoffMs(policy, 1, 5_000_000)).toBe(5_000_000);
    expect(backoffMs(policy, 3, 10)).toBe(3000);
    expect(backoffMs(policy, 2, 0)).toBe(2000);
    expect(backoffMs(policy, 2, null)).toBe(2000);
    expect(backoffMs({ baseMs: 100, maxMs: 1000, jitter: 'half', random: () => 0 }, 1, 5000)).toBe(5000);
  });
});
