import { describe, expect, it } from 'vitest';
import { createErrorMonitor } from './monitor.js';

const p = (t: number, r: number, isBaseline = false) => ({ series: 'BTCUSDT:1h', targetTime: t, predictedLogReturn: r, modelVersion: 'v1', isBaseline });

describe('live error monitor', () => {
  it('scores a prediction when its target candle is realised, beside persistence', () => {
    const m = createErrorMonitor({ window: 3 });
    expect(m.predicted(p(1, 0.01))).toBe(true);
    expect(m.predicted(p(1, 0.01))).toBe(false); // duplicate
    expect(m.realised('BTCUSDT:1h', 2, 0.02)).toBe(0); // nothing predicted for t=2 yet: kept
    expect(m.predicted(p(2, 0.02))).toBe(true); // scored on arrival: a perfect forecast
    expect(m.realised('BTCUSDT:1h', 1, -0.01)).toBe(1);
    const s = m.snapshot('model');
    expect(s.n).toBe(2);
    expect(s.mse).toBeCloseTo(0.0002, 12);
    expect(s.persistenceMse).toBeCloseTo(0.00025, 12);
    expect(s.relative).toBeCloseTo(-0.2, 9);
    expect(s.directionalAccuracy).toBe(0.5);
  });

  it('keeps a rolling window, skips gaps, separates baseline predictions, and flags degradation', () => {
    const m = createErrorMonitor({ window: 2 });
    m.predicted(p(1, 0));
    m.predicted(p(2, 0.05));
    m.predicted(p(3, 0.05));
    m.predicted(p(4, 0.05, true));
    m.realised('BTCUSDT:1h', 1, 0.01); // model = persistence here
    m.realised('BTCUSDT:1h', 2, null); // gap: not scored
    expect(m.degraded(0.1, 2)).toBe(false); // too few samples
    m.realised('BTCUSDT:1h', 3, 0.01);
    m.realised('BTCUSDT:1h', 4, 0.01);
    expect(m.snapshot('model').n).toBe(2);
    expect(m.snapshot('baseline').n).toBe(1);
    // model errors: 0.0001, 0.0016 vs persistence 0.0001, 0.0001 -> relative 7.5
    expect(m.snapshot('model').relative).toBeCloseTo(7.5, 9);
    expect(m.degraded(0.1, 2)).toBe(true);
    m.reset();
    expect(m.snapshot('model').n).toBe(0);
  });

  it('bounds the pending predictions and refuses bad input', () => {
    const m = createErrorMonitor({ window: 5, maxPending: 2 });
    m.predicted(p(1, 0));
    m.predicted(p(2, 0));
    m.predicted(p(3, 0));
    expect(m.pending).toBe(2);
    expect(m.realised('BTCUSDT:1h', 1, 0.01)).toBe(0); // the oldest was dropped
    expect(() => m.predicted(p(9, Number.NaN))).toThrow(/non-finite/);
    expect(() => createErrorMonitor({ window: 0 })).toThrow(/window/);
  });
});
