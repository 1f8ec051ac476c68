import type { Candle } from '../../schemas/types.js';

const HOUR = 3_600_000;

/** A valid hourly BTCUSDT candle opening at `openTime`, with prices around `base`. */
export function candle(openTime: number, base = 30_000, overrides: Partial<Candle> = {}): Candle {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    exchange: 'binance',
    openTime,
    closeTime: openTime + HOUR,
    open: base,
    high: base * 1.01,
    low: base * 0.99,
    close: base * 1.002,
    volume: 123.4,
    quoteVolume: null,
    tradeCount: null,
    source: 'test',
    ingestedAt: Date.now(),
    ...overrides,
  };
}

export const HOUR_MS = HOUR;
