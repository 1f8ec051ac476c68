// `bitpredict data fetch`: historical candles from Binance or Coinbase Exchange's public REST API
// into a local CSV file the replay and the loaders read (producers/market-data/history.ts does the
// work). Progress and notes on stderr; one JSON summary line on stdout.
import { resolve } from 'node:path';
import type { CommandSpec, FlagTable } from './flags.js';
import { parseFlags } from './flags.js';
import { isoTimeFlag, wholeNumberFlag } from './args.js';
import type { CommandContext } from './context.js';
import { progressBar } from '../core/progress.js';
import { checkSeries, fetchCandlesToFile, fileSymbol } from '../producers/market-data/history.js';

export const DATA_FETCH_FLAGS = {
  exchange: { type: 'string', default: 'binance', value: 'binance|coinbase', doc: 'the exchange whose public REST API is read' },
  symbol: {
    type: 'string',
    default: 'BTCUSDT',
    value: 'SYMBOL',
    doc: 'the symbol; on Coinbase BTCUSDT is the product BTC-USD (USD, not USDT)',
  },
  interval: {
    type: 'string',
    default: '1h',
    value: '1m|5m|15m|1h|4h|1d',
    doc: 'the candle interval (Coinbase has no 4h)',
  },
  from: {
    type: 'string',
    value: 'ISO',
    doc: 'first candle open time; required unless --out already has rows (then the fetch continues after its last row)',
  },
  to: { type: 'string', value: 'ISO', doc: 'end of the range, exclusive; candles that have not closed are never written', defaultText: 'now' },
  out: { type: 'string', value: 'FILE', doc: 'the CSV file, created or continued', defaultText: 'data/<exchange>-<symbol>-<interval>.csv' },
  'binance-url': { type: 'string', value: 'URL', doc: 'Binance REST base URL', configKey: 'BITPREDICT_BINANCE_REST_URL' },
  'coinbase-url': { type: 'string', value: 'URL', doc: 'Coinbase Exchange REST base URL', configKey: 'BITPREDICT_COINBASE_REST_URL' },
  'timeout-ms': { type: 'string', value: 'MS', doc: 'deadline of one request', defaultText: '15000' },
  retries: { type: 'string', value: 'N', doc: 'failed attempts of one request (5xx, 429, network) before giving up', defaultText: '10' },
} as const satisfies FlagTable;

/** The help entry of `data fetch`, for the lead to register under the `data` command. */
export const DATA_FETCH_SPEC = {
  summary: "fetch historical candles from Binance or Coinbase's public REST API into a CSV file (resumable)",
  flags: DATA_FETCH_FLAGS,
  notes:
    'The file (timestamp,open,high,low,close,volume with ms open times) is what BITPREDICT_REPLAY_FILE and --candle-file read; <FILE>.source.json beside it records the series. Run the same command again to continue an interrupted or older file. Rate limits (429/418 with Retry-After) are waited out; 5xx and network errors are retried.',
  example: 'bitpredict data fetch --exchange binance --symbol BTCUSDT --interval 1h --from 2024-01-01',
} as const satisfies CommandSpec;

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
