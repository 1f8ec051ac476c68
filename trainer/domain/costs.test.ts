// The one cost model: defaults, validation, and what the trading simulation is charged with it.
import { describe, expect, it } from 'vitest';
import { costBpsPerSide, costModel, DEFAULT_COSTS, describeCosts } from './costs.js';
import { buyAndHold, simulateTrading } from './metrics.js';
import { BitPredictError } from '../../core/errors.js';

function rejectionSync(f: () => unknown): BitPredictError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    return err as BitPredictError;
  }
  throw new Error('expected a BitPredictError, none was thrown');
}

describe('cost model', () => {
  it('defaults to 10 bps fee + 5 bps slippage per side; either can be set alone', () => {
    expect(costModel()).toEqual({ feeBps: 10, slippageBps: 5, perSide: true });
    expect(DEFAULT_COSTS).toEqual(costModel());
    expect(costModel({ feeBps: 2 })).toEqual({ feeBps: 2, slippageBps: 5, perSide: true });
    expect(costModel({ slippageBps: 0 })).toEqual({ feeBps: 10, slippageBps: 0, perSide: true });
    expect(costBpsPerSide(costModel())).toBe(15);
    expect(describeCosts(costModel())).toBe('10 bps fee + 5 bps slippage per side (15 bps per side per unit of position change)');
  });

  it('refuses negative, non-finite and whole-notional costs, naming what set them', () => {
    for (const bad of [{ feeBps: -1 }, { slippageBps: Number.NaN }, { feeBps: Number.POSITIVE_INFINITY }]) {
      const err = rejectionSync(() => costModel(bad, '--fee-bps/--slippage-bps'));
      expect(err.code).toBe('ERR_VALIDATION');
      expect(err.message).toMatch(/^--fee-bps\/--slippage-bps: (feeBps|slippageBps) must be a finite number >= 0/);
    }
    expect(rejectionSync(() => costModel({ feeBps: 9_999, slippageBps: 1 })).message).toMatch(/feeBps \+ slippageBps \(10000\) must be below 10000/);
  });

  it('one entry and one exit cost fee + slippage on each side', () => {
    // Long for one bar of +1 % then flat: two position changes, each charged 15 bps.
    const run = simulateTrading([1, -1, -1], [0.01, 0, 0], { feeBps: costBpsPerSide(costModel()), periodsPerYear: 8760 });
    expect(run.summary.trades).toBe(2);
    expect(run.summary.feesLog).toBeCloseTo(-2 * Math.log1p(-15 / 10_000), 15);
    // The simulation's own default is the same cost model (no second set of defaults).
    expect(simulateTrading([1, -1, -1], [0.01, 0, 0]).summary).toEqual(run.summary);
    expect(buyAndHold([0.01, 0, 0]).summary.feeBps).toBe(15);
  });
});
