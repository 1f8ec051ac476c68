// The one cost model of every strategy figure (bitpredict evaluate, bitpredict backtest, the
// benchmark): a fee and a slippage, both in basis points of notional, charged per side, that is on
// every unit of position change (entering, leaving, or flipping a position counts once per unit).
// The two add up to the cost per side the trading simulation (trainer/domain/metrics.ts) charges.
// Defaults: 10 bps fee (a spot taker fee) + 5 bps slippage (half a typical BTCUSDT hourly spread
// plus impact for a small order), so evaluate's and backtest's figures are comparable.
import { BitPredictError } from '../../core/errors.js';

export interface CostModel {
  /** Fee per side, basis points of notional per unit of position change. */
  feeBps: number;
  /** Slippage per side, basis points, charged like the fee. */
  slippageBps: number;
  /** Always true: both are charged on each side (entry and exit) of a trade. */
  perSide: true;
}

export const DEFAULT_FEE_BPS = 10;
export const DEFAULT_SLIPPAGE_BPS = 5;
export const DEFAULT_COSTS: Readonly<CostModel> = Object.freeze({ feeBps: DEFAULT_FEE_BPS, slippageBps: DEFAULT_SLIPPAGE_BPS, perSide: true });

/**
 * The cost model with these fee and slippage (the defaults where absent). ERR_VALIDATION, naming
 * `what` (the flags or option that set them), for a negative or non-finite value or a total of
 * 10000 bps or more (the whole notional).
 */
export function costModel(o: { feeBps?: number | undefined; slippageBps?: number | undefined } = {}, what = 'costs'): CostModel {
  const feeBps = o.feeBps ?? DEFAULT_FEE_BPS;
  const slippageBps = o.slippageBps ?? DEFAULT_SLIPPAGE_BPS;
  for (const [k, v] of [
    ['feeBps', feeBps],
    ['slippageBps', slippageBps],
  ] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new BitPredictError('ERR_VALIDATION', `${what}: ${k} must be a finite number >= 0, got ${String(v)}`);
  }
  if (feeBps + slippageBps >= 10_000)
    throw new BitPredictError('ERR_VALIDATION', `${what}: feeBps + slippageBps (${feeBps + slippageBps}) must be below 10000`);
  return { feeBps, slippageBps, perSide: true };
}

/** Fee + slippage: what the trading simulation charges per side per unit of position change. */
export function costBpsPerSide(c: CostModel): number {
  return c.feeBps + c.slippageBps;
}

/** One sentence for reports: "10 bps fee + 5 bps slippage per side (15 bps per side per unit of position change)". */
export function describeCosts(c: CostModel): string {
  return `${c.feeBps} bps fee + ${c.slippageBps} bps slippage per side (${costBpsPerSide(c)} bps per side per unit of position change)`;
}
