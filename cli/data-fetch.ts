// `bitpredict data fetch`: historical candles from Binance or Coinbase Exchange's public REST API
// into a local CSV file the replay and the loaders read (producers/market-data/history.ts does the
// work). Progress and notes on stderr; one JSON summary line on stdout.
import { resolve } from 'node:path';
import { parseFlags } from './flags.js';
import { DATA_FETCH_FLAGS } from './data-fetch-spec.js';
import { isoTimeFlag, wholeNumberFlag } from './args.js';
import type { CommandContext } from './context.js';
import { progressBar } from '../core/progress.js';
import { checkSeries, fetchCandlesToFile, fileSymbol } from '../producers/market-data/history.js';

export { DATA_FETCH_FLAGS, DATA_FETCH_SPEC } from './data-fetch-spec.js';

export async function dataFetch(ctx: CommandContext): Promise<number> {
  const { values } = parseFlags(DATA_FETCH_FLAGS, ctx.args);
  const exchange = values.exchange;
  const interval = values.interval;
  checkSeries(exchange, interval);
  const symbol = values.symbol.toUpperCase();
  const out = resolve(values.out ?? `data/${exchange}-${fileSymbol(exchange, symbol)}-${interval}.csv`);
  const from = values.from === undefined ? null : isoTimeFlag('from', values.from, 0);
  const to = values.to === undefined ? null : isoTimeFlag('to', values.to, 0);
  const market = ctx.config.market;
  const restUrl = exchange === 'binance' ? (values['binance-url'] ?? market.binance.restUrl) : (values['coinbase-url'] ?? market.coinbase.restUrl);

  let lastBar = '';
  const summary = await fetchCandlesToFile({
    exchange,
    symbol,
    interval,
    from,
    to,
    out,
    restUrl,
    timeoutMs: wholeNumberFlag('timeout-ms', values['timeout-ms'], 15_000, 1),
    maxRetries: wholeNumberFlag('retries', values.retries, 10, 0),
    onNote: (line) => ctx.output.note(`${lastBar === '' ? '' : '\n'}[data fetch] ${line}`),
    onProgress: (p) => {
      const line = `[data fetch] ${progressBar(p.done, p.total)} ${p.rowsWritten} rows, ${p.requests} requests`;
      if (line === lastBar) return;
      lastBar = line;
      ctx.output.progress(`\r${line}`);
    },
  });
  if (lastBar !== '') ctx.output.progress('\n');
  const log = (line: string): void => ctx.output.note(`[data fetch] ${line}`);
  log(`${summary.rowsWritten} rows written to ${summary.out}${summary.resumedAfter === null ? '' : ` (continued after ${summary.resumedAfter})`}`);
  if (summary.duplicatesDropped > 0) log(`${summary.duplicatesDropped} duplicate candle(s) from overlapping pages dropped`);
  if (summary.rejected > 0) log(`${summary.rejected} row(s) rejected as invalid, never written; first: ${summary.rejectedExamples.join('; ')}`);
  if (summary.unfinished > 0) log(`${summary.unfinished} candle(s) had not closed yet and were not written (run again later to add them)`);
  if (summary.gaps.count > 0) {
    const l = summary.gaps.largest!;
    log(
      `${summary.gaps.count} gap(s), ${summary.gaps.missingCandles} candle(s) missing; largest ${l.missing} from ${l.from} to ${l.to} (exchanges have real outages)`,
    );
  }
  ctx.output.json(summary);
  return 0;
}
