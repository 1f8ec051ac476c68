import { describe, expect, it } from 'vitest';
import { lastClosedOpenTime, pageGap, planGap } from './gaps.js';
import { backoffDelay } from './backoff.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

describe('gap planning', () => {
  it('finds the last closed candle', () => {
    expect(lastClosedOpenTime(T0 + 5 * MIN, MIN)).toBe(T0 + 4 * MIN);
    expect(lastClosedOpenTime(T0 + 5 * MIN + 1, MIN)).toBe(T0 + 4 * MIN);
    expect(lastClosedOpenTime(T0 + 5 * MIN - 1, MIN)).toBe(T0 + 3 * MIN);
  });

  it('plans every candle after the last published up to the last closed, exactly once', () => {
    expect(planGap(T0, T0 + 4 * MIN, MIN)).toEqual({ from: T0 + MIN, to: T0 + 4 * MIN, count: 4 });
    expect(planGap(T0 + 4 * MIN, T0 + 4 * MIN, MIN)).toBeNull();
    expect(planGap(T0 + 9 * MIN, T0 + 4 * MIN, MIN)).toBeNull();
    expect(planGap(null, T0, MIN)).toBeNull();
  });

  it('pages a long gap into bounded requests without overlap', () => {
    const plan = planGap(T0, T0 + 2500 * MIN, MIN);
    expect(plan).not.toBeNull();
    const pages = pageGap(plan!, MIN, 1000);
    expect(pages).toEqual([
      { from: T0 + MIN, to: T0 + 1000 * MIN },
      { from: T0 + 1001 * MIN, to: T0 + 2000 * MIN },
      { from: T0 + 2001 * MIN, to: T0 + 2500 * MIN },
    ]);
  });
});

describe('backoff', () => {
  it('grows exponentially, is capped and never zero', () => {
    expect(backoffDelay(0, 500, 30_000, () => 1)).toBe(500);
    expect(backoffDelay(3, 500, 30_000, () => 1)).toBe(4000);
    expect(backoffDelay(20, 500, 30_000, () => 1)).toBe(30_000);
    expect(backoffDelay(5, 500, 30_000, () => 0)).toBe(1);
    expect(backoffDelay(5, 500, 30_000, () => 0.5)).toBe(8000);
  });
});
