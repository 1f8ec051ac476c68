// `bitpredict data inspect|import FILE`: candle files in any layout the loader reads
// (docs/replay-and-polling.md#bring-your-own-candles).
//   inspect  the detected layout, rows, first/last candle, interval, gaps, duplicates,
//            out-of-order and bad rows, and whether the last candle is unfinished;
//   import   the same checks, then the kept candles written as the canonical CSV
//            (timestamp,open,high,low,close,volume with ms open times, the layout `data fetch`
//            writes too), the rejected rows listed with their line numbers.
// `data fetch` lives in cli/data-fetch.ts (flags and help in cli/data-fetch-spec.ts).
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parseFlags, UsageError } from './flags.js';
import { DATA_IMPORT_FLAGS, DATA_INSPECT_FLAGS } from './specs.js';
import type { CommandContext } from './context.js';
import { BitPredictError } from '../core/errors.js';
import { resolveFileArg } from '../core/data/files.js';
import { formatCandleFileReport, inspectCandleFile, type CandleFileReport } from '../core/data/inspect.js';
import type { Candle } from '../schemas/types.js';

/** The canonical candle CSV's header: what `data import` and `data fetch` write (read back as 'binance-1m-csv'). */
export const CANONICAL_HEADER = 'timestamp,open,high,low,close,volume';

/** The canonical CSV of the candles: ms open times, numbers as the shortest text that reads back as the same double. */
export function canonicalCsv(candles: readonly Candle[]): string {
  const lines = [CANONICAL_HEADER];
  for (const c of candles) lines.push(`${c.openTime},${c.open},${c.high},${c.low},${c.close},${c.volume}`);
  return `${lines.join('\n')}\n`;
}

function oneFile(sub: string, positionals: string[]): string {
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0)
    throw new UsageError(`${sub} takes exactly one FILE${extra.length > 0 ? ` (got "${positionals.join(' ')}")` : ''}`);
  return file;
}

async function inspect(ctx: CommandContext, args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(DATA_INSPECT_FLAGS, args, true);
  const file = resolveFileArg(ctx.config.data.dir, oneFile('inspect', positionals));
  const { report } = await inspectCandleFile(ctx.config.data.dir, file, {
    columns: values.columns,
    symbol: values.symbol ?? ctx.config.replay.symbol,
    interval: values.interval,
    dropLast: values['drop-last'] === true,
  });
  if (values.json === true) ctx.output.json(report);
  else for (const line of formatCandleFileReport(report)) ctx.output.line(line);
  return 0;
}

async function importFile(ctx: CommandContext, args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(DATA_IMPORT_FLAGS, args, true);
  const file = oneFile('import', positionals);
  const input = resolveFileArg(ctx.config.data.dir, file);
  const out = resolve(values.out ?? join(dirname(input), `${basename(input, extname(input))}.canonical.csv`));
  if (out === input) throw new UsageError(`--out ${out} is the input file; write the canonical CSV elsewhere`);
  if (existsSync(out) && values.force !== true) throw new UsageError(`--out ${out} exists; pass --force to overwrite it`);
  const { report, candles } = await inspectCandleFile(ctx.config.data.dir, input, {
    columns: values.columns,
    symbol: values.symbol ?? ctx.config.replay.symbol,
    interval: values.interval,
    dropLast: values['drop-last'] === true,
  });
  if (candles.length === 0) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${input}: no valid candle to import (${report.rows} rows, ${report.rejected.length} rejected); see bitpredict data inspect ${file}`,
    );
  }
  // Written beside the target and renamed, so an interrupted import never leaves half a file.
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, canonicalCsv(candles));
  renameSync(tmp, out);
  const result: CandleFileReport & { out: string; written: number } = { ...report, out, written: candles.length };
  if (values.json === true) ctx.output.json(result);
  else {
    for (const line of formatCandleFileReport(report)) ctx.output.line(line);
    ctx.output.line(`wrote ${candles.length} candles to ${out} (${CANONICAL_HEADER}, ms open times)`);
  }
  return 0;
}

const SUBCOMMANDS: Readonly<Record<string, (ctx: CommandContext, args: string[]) => Promise<number>>> = {
  inspect,
  import: importFile,
  fetch: async (ctx, args) => (await import('./data-fetch.js')).dataFetch({ ...ctx, args }),
};

export async function data(ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = ctx.args;
  const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (run === undefined)
    throw new UsageError(sub === undefined ? `a subcommand is needed: ${Object.keys(SUBCOMMANDS).join(', ')}` : `unknown subcommand "${sub}"`);
  return run(ctx, rest);
}
