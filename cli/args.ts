// Flag parsing shared by the CLI commands: one clear ERR_CONFIG_INVALID naming the flag.
import { BitPredictError } from '../core/errors.js';

/** An ISO 8601 time flag in ms, or the fallback when absent. */
export function isoTimeFlag(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new BitPredictError('ERR_CONFIG_INVALID', `--${flag}: "${v}" is not an ISO 8601 time`);
  return t;
}

/** A whole-number flag >= min, or the fallback when absent. */
export function wholeNumberFlag(flag: string, v: string | undefined, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new BitPredictError('ERR_CONFIG_INVALID', `--${flag}: "${v}" is not a whole number >= ${min}`);
  return n;
}
