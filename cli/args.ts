// Flag values shared by the CLI commands: a bad one is a UsageError (ERR_CONFIG_INVALID) naming
// the flag, which cli/cli.ts prints as one line with a pointer to the command's help.
import { UsageError } from './flags.js';

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
