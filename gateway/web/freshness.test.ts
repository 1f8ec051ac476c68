import { describe, expect, it } from 'vitest';
import { freshnessOf } from './freshness.js';

const HOUR = 3_600_000;
const now = Date.UTC(2025, 10, 2, 10, 0, 0);

describe('freshness', () => {
  it('is live when the last candle closed within two intervals of the wall clock', () => {
    const f = freshnessOf({ lastClose: now - 2 * HOUR, lastArrival: null, now, intervalMs: HOUR });
    expect(f.state).toBe('live');
    expect(f.text).toBe('live · data 2025-11-02 08:00 UTC · now 2025-11-02 10:00 UTC');
  });

  it('is not live one millisecond past two intervals, even while candles arrive: that is a replay', () => {
    const f = freshnessOf({ lastClose: now - 2 * HOUR - 1, lastArrival: now - 500, now, intervalMs: HOUR });
    expect(f.state).toBe('replay');
    expect(f.text).toMatch(/^replay · data 2025-11-02 07:59 UTC · now 2025-11-02 10:00 UTC$/);
  });

  it('is a replay while old candles arrive (within 10 s), and stale for N hours once they stop', () => {
    const lastClose = now - 300 * 24 * HOUR - 3 * HOUR;
    expect(freshnessOf({ lastClose, lastArrival: now - 10_000, now, intervalMs: HOUR }).state).toBe('replay');
    const stale = freshnessOf({ lastClose, lastArrival: now - 10_001, now, intervalMs: HOUR });
    expect(stale.state).toBe('stale');
    expect(stale.staleHours).toBe(7203);
    expect(stale.text).toMatch(/^stale for 300 days \(7,203 h\) · data 2025-01-06 07:00 UTC · now 2025-11-02 10:00 UTC$/);
  });

  it('says "stale for 3 h" three hours after the last close, never "live"', () => {
    const f = freshnessOf({ lastClose: now - 3 * HOUR - 59_000, lastArrival: null, now, intervalMs: HOUR });
    expect(f).toMatchObject({ state: 'stale', staleHours: 3 });
    expect(f.text.startsWith('stale for 3 h')).toBe(true);
  });

  it('scales with the interval: a day-old daily candle is live, a 3-minute-old minute candle is stale in minutes', () => {
    expect(freshnessOf({ lastClose: now - 30 * HOUR, lastArrival: null, now, intervalMs: 24 * HOUR }).state).toBe('live');
    const m = freshnessOf({ lastClose: now - 180_000, lastArrival: null, now, intervalMs: 60_000 });
    expect(m.state).toBe('stale');
    expect(m.text.startsWith('stale for 3 min')).toBe(true);
  });

  it('is stale, with the wall clock, before any candle', () => {
    const f = freshnessOf({ lastClose: null, lastArrival: now, now, intervalMs: HOUR });
    expect(f.state).toBe('stale');
    expect(f.text).toBe('no candle yet · now 2025-11-02 10:00 UTC');
  });

  it('never calls data dated in the future live', () => {
    const f = freshnessOf({ lastClose: now + 24 * HOUR, lastArrival: now, now, intervalMs: HOUR });
    expect(f.state).toBe('stale');
    expect(f.text).toMatch(/^data dated in the future · data 2025-11-03 10:00 UTC/);
    // A close within one interval ahead (clock skew at the edge of a candle) is still live.
    expect(freshnessOf({ lastClose: now + HOUR, lastArrival: now, now, intervalMs: HOUR }).state).toBe('live');
  });

  it('does not take an arrival stamped in the future as a replay', () => {
    expect(freshnessOf({ lastClose: now - 5 * HOUR, lastArrival: now + 5_000, now, intervalMs: HOUR }).state).toBe('stale');
  });
});
