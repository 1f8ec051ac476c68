// The flags and help entry of `bitpredict data fetch` (cli/data-fetch.ts). Kept apart from the
// command, importing nothing but types, so cli/specs.ts (which imports no command) can register
// it under `data`.
import type { CommandSpec, FlagTable } from './flags.js';

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
