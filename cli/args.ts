// Flag values shared by the CLI commands: a bad one is a UsageError (ERR_CONFIG_INVALID) naming
// the flag, which cli/cli.ts prints as one line with a pointer to the command's help.
import { UsageError } from './flags.js';
import { costModel, DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS, type CostModel } from '../trainer/domain/costs.js';

/** An ISO 8601 time flag in ms, or the fallback when absent; `meaning` goes into the error message. */
export function isoTimeFlag(flag: string, v: string | undefined, fallback: number, meaning?: string): number {
  if (v === undefined) return fallback;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`--${flag}: "${v}" is not an ISO 8601 time${meaning === undefined ? '' : ` (${meaning})`}`);
  return t;
}

/** A whole-number flag >= min, or the fallback when absent. */
export function wholeNumberFlag(flag: string, v: string | undefined, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag}: "${v}" is not a whole number >= ${min}`);
  return n;
}

/** --fee-bps and --slippage-bps (evaluate and backtest, the same flags and defaults) as the one cost model of trainer/domain/costs.ts. */
export function costsFlags(values: { 'fee-bps'?: string | undefined; 'slippage-bps'?: string | undefined }): CostModel {
  const bps = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${flag}: "${v}" is not a number of basis points >= 0`);
    return n;
  };
  const feeBps = bps('fee-bps', values['fee-bps']) ?? DEFAULT_FEE_BPS;
  const slippageBps = bps('slippage-bps', values['slippage-bps']) ?? DEFAULT_SLIPPAGE_BPS;
  if (feeBps + slippageBps >= 10_000)
    throw new UsageError(`--fee-bps + --slippage-bps: feeBps + slippageBps (${feeBps + slippageBps}) must be below 10000 (the whole notional)`);
  return costModel({ feeBps, slippageBps });
}
