// Flag values shared by the CLI commands: a bad one is a UsageError (ERR_CONFIG_INVALID) naming
// the flag, which cli/cli.ts prints as one line with a pointer to the command's help.
import { resolve } from 'node:path';
import { UsageError } from './flags.js';
import { parseTextColumns, TEXT_DATA_FILES, type TextColumns } from '../core/data/text/index.js';
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

/** The texts a files-source command reads: --text-file (paths from the working directory) or the built-in list, and --text-columns. */
export interface TextFilesChoice {
  /** Paths relative to the data folder (the built-in list) or absolute (--text-file). */
  files: readonly string[];
  columns?: Partial<TextColumns>;
  /** True when the files are the user's (--text-file), not the built-in list. */
  own: boolean;
}

/** --text-file (repeatable) and --text-columns; UsageError for bad columns, an empty path, or --text-columns without --text-file. */
export function textFilesFlags(values: { 'text-file'?: string[] | undefined; 'text-columns'?: string | undefined }): TextFilesChoice {
  const given = values['text-file'] ?? [];
  if (given.some((f) => f.trim() === '')) throw new UsageError('--text-file: an empty path');
  let columns: Partial<TextColumns> | undefined;
  if (values['text-columns'] !== undefined) {
    if (given.length === 0) throw new UsageError('--text-columns names the columns of a --text-file: give one (the built-in text files have known layouts)');
    try {
      columns = parseTextColumns(values['text-columns']);
    } catch (err) {
      throw new UsageError(`--text-columns: ${(err as Error).message}, as in time=created_at,text=body,source=site`);
    }
  }
  if (given.length === 0) return { files: TEXT_DATA_FILES, own: false };
  return { files: given.map((f) => resolve(f)), ...(columns ? { columns } : {}), own: true };
}

/**
 * Dead text rows shown on stderr with their lines (and file, when given): the first `limit`, then
 * one line saying more follow (`moreNote` tells where their count is).
 */
export function deadRowReporter(
  log: (line: string) => void,
  o: { limit?: number; moreNote?: string } = {},
): (row: { line: number; reason: string; file?: string }) => void {
  const limit = o.limit ?? 20;
  let n = 0;
  return (row) => {
    n++;
    if (n <= limit) log(`texts: ${row.file === undefined ? '' : `${row.file}: `}line ${row.line}: ${row.reason}`);
    else if (n === limit + 1) log(`texts: more bad rows follow; only the first ${limit} are shown${o.moreNote === undefined ? '' : ` ${o.moreNote}`}`);
  };
}
