import type { Candle } from '../../../schemas/types.js';
import { intervalMs } from '../../../core/domain/intervals.js';
import type { CandleRow } from './formats.js';

export interface CandleMeta {
  symbol: string;
  interval: string;
  exchange: string;
  source: string;
  ingestedAt: number;
}

/** A parsed row as a market.candles record. Throws ERR_VALIDATION for an unknown interval. */
export function toCandle(row: CandleRow, meta: CandleMeta): Candle {
  return {
    symbol: meta.symbol,
    interval: meta.interval,
    exchange: meta.exchange,
    openTime: row.openTime,
    // Exclusive end: the candle's event time, the first instant at which it is complete.
    closeTime: row.openTime + intervalMs(meta.interval),
    open: row.open,
    high: row.high,
    low: row.low,
    close: row.close,
    volume: row.volume,
    quoteVolume: row.quoteVolume,
    tradeCount: row.tradeCount,
    source: meta.source,
    ingestedAt: meta.ingestedAt,
  };
}

export { validateCandle, type Invalid } from '../../../core/domain/candle.js';
