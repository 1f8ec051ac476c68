import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

describe('REST rate limiter (token bucket per caller)', () => {
  it('allows a burst, then refuses with the seconds to wait, and refills at the rate', () => {
    const l = createRateLimiter({ rate: 2, burst: 4 });
    for (let i = 0; i < 4; i++) expect(l.take('k', 0)).toBe(0);
    expect(l.take('k', 0)).toBe(1);
    // Another caller has its own bucket.
    expect(l.take('other', 0)).toBe(0);
    // 500 ms at 2/s: one token back.
    expect(l.take('k', 500)).toBe(0);
    expect(l.take('k', 500)).toBe(1);
    // A long pause refills to the burst, not beyond it.
    for (let i = 0; i < 4; i++) expect(l.take('k', 60_000)).toBe(0);
    expect(l.take('k', 60_000)).toBeGreaterThan(0);
  });

  it('Retry-After is at least the time one token takes at a slow rate', () => {
    const l = createRateLimiter({ rate: 0.1, burst: 1 });
    expect(l.take('k', 0)).toBe(0);
    expect(l.take('k', 0)).toBe(10);
    expect(l.take('k', 5_000)).toBe(5);
  });

  it('remembers at most maxEntries callers, whatever the number of addresses seen', () => {
    const l = createRateLimiter({ rate: 10, burst: 20, maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) l.take(`addr:${i}`, i);
    expect(l.size()).toBeLessThanOrEqual(100);
  });
});
