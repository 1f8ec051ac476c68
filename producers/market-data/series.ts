// What the service streams: one series per exchange, symbol and interval that the exchange can
// serve, with the symbol its candles are published under and, for Coinbase, the builder that
// turns the series' trades into candles.
import type { Logger } from '../../core/logger.js';
import type { Config } from '../../core/config.js';
import { intervalMs } from '../../core/domain/intervals.js';
import { seriesKey } from '../../schemas/keys.js';
import { coinbaseProduct, coinbasePublishedSymbol, type CandleBuilder, type Exchange } from './domain/index.js';

/** Coinbase candle granularities (seconds) by BitPredict interval; 4h has none. */
export const COINBASE_GRANULARITY: Record<string, number> = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '1d': 86400 };

export interface Series {
  exchange: Exchange;
  /** Symbol of published candles (BTCUSDT for Binance, BTCUSD for Coinbase). */
  symbol: string;
  /** Exchange identifier: Binance symbol or Coinbase product. */
  remote: string;
  interval: string;
  len: number;
  key: string;
  builder: CandleBuilder | null;
  /** Coinbase: the candle in progress at the last connect, to fetch from REST once it closes. */
  pendingFill: number | null;
}

/** The configured exchanges this service knows and their series; what cannot be served is logged and skipped. */
export function planSeries(m: Pick<Config['market'], 'exchanges' | 'symbols' | 'intervals'>, logger: Logger): { exchanges: Exchange[]; series: Series[] } {
  const exchanges = m.exchanges.filter((e): e is Exchange => {
    if (e === 'binance' || e === 'coinbase') return true;
    logger.warn({ exchange: e }, 'unknown exchange in BITPREDICT_MARKET_EXCHANGES; ignored');
    return false;
  });
  const series: Series[] = [];
  for (const exchange of exchanges) {
    for (const s of m.symbols) {
      for (const interval of m.intervals) {
        const len = intervalMs(interval);
        if (exchange === 'binance') {
          const symbol = s.toUpperCase();
          series.push({ exchange, symbol, remote: symbol, interval, len, key: seriesKey(symbol, interval), builder: null, pendingFill: null });
          continue;
        }
        const product = coinbaseProduct(s);
        if (!product || COINBASE_GRANULARITY[interval] === undefined) {
          logger.warn({ symbol: s, interval }, 'Coinbase has no product or granularity for this symbol/interval; skipped');
          continue;
        }
        const symbol = coinbasePublishedSymbol(product);
        series.push({ exchange, symbol, remote: product, interval, len, key: seriesKey(symbol, interval), builder: null, pendingFill: null });
      }
    }
  }
  return { exchanges, series };
}
