// Domain rules of a closed candle, shared by every producer and consumer of market.candles.
import type { Candle } from '../../schemas/types.js';
import { intervalMs, isKnownInterval } from './intervals.js';

/** One parsed OHLCV row of any source (file, REST), before it becomes a Candle. */
export interface CandleRow {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number | null;
  tradeCount: number | null;
}

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

export type Invalid = { code: 'ERR_VALIDATION'; reason: string };

function invalid(reason: string): Invalid {
  return { code: 'ERR_VALIDATION', reason };
}

function notInteger(name: string, value: number): Invalid {
  return invalid(`${name} ${value} is not an integer of ms`);
}

function notFinite(name: string, value: number): Invalid {
  return invalid(`${name} ${value} is not a finite number`);
}

function notPositive(name: string, value: number): Invalid {
  return invalid(`${name} ${value} is not > 0`);
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/**
 * Domain rules of a closed candle; null when it satisfies all of them. The first broken rule is
 * reported. `nowMs` is passed in (no clock reads here); a closeTime later than
 * nowMs + futureToleranceMs cannot belong to a closed candle.
 */
export function validateCandle(c: Candle, nowMs: number, futureToleranceMs: number): Invalid | null {
  if (c.symbol.trim() === '') return invalid('symbol is empty');
  if (!isKnownInterval(c.interval)) return invalid(`unknown interval "${c.interval}"`);
  // Unrolled field by field (same order and messages as a loop over the names): this runs once
  // per candle on the replay and consumer hot paths, and a loop over a literal array allocates.
  if (!Number.isSafeInteger(c.openTime)) return notInteger('openTime', c.openTime);
  if (!Number.isSafeInteger(c.closeTime)) return notInteger('closeTime', c.closeTime);
  if (!Number.isSafeInteger(c.ingestedAt)) return notInteger('ingestedAt', c.ingestedAt);
  if (!Number.isFinite(c.open)) return notFinite('open', c.open);
  if (!Number.isFinite(c.high)) return notFinite('high', c.high);
  if (!Number.isFinite(c.low)) return notFinite('low', c.low);
  if (!Number.isFinite(c.close)) return notFinite('close', c.close);
  if (!Number.isFinite(c.volume)) return notFinite('volume', c.volume);
  if (c.open <= 0) return notPositive('open', c.open);
  if (c.high <= 0) return notPositive('high', c.high);
  if (c.low <= 0) return notPositive('low', c.low);
  if (c.close <= 0) return notPositive('close', c.close);
  if (c.volume < 0) return invalid(`volume ${c.volume} is negative`);
  if (c.quoteVolume !== null && !(Number.isFinite(c.quoteVolume) && c.quoteVolume >= 0)) {
    return invalid(`quoteVolume ${c.quoteVolume} is not a finite number >= 0`);
  }
  if (c.tradeCount !== null && !(Number.isSafeInteger(c.tradeCount) && c.tradeCount >= 0)) {
    return invalid(`tradeCount ${c.tradeCount} is not an integer >= 0`);
  }
  if (c.high < c.low) return invalid(`high ${c.high} < low ${c.low}`);
  if (c.high < c.open) return invalid(`high ${c.high} < open ${c.open}`);
  if (c.high < c.close) return invalid(`high ${c.high} < close ${c.close}`);
  if (c.low > c.open) return invalid(`low ${c.low} > open ${c.open}`);
  if (c.low > c.close) return invalid(`low ${c.low} > close ${c.close}`);
  const len = intervalMs(c.interval);
  if (c.openTime % len !== 0) return invalid(`openTime ${iso(c.openTime)} is not aligned to ${c.interval}`);
  if (c.closeTime !== c.openTime + len) {
    return invalid(`closeTime ${iso(c.closeTime)} is not openTime + ${c.interval} (${iso(c.openTime + len)})`);
  }
  if (c.closeTime > nowMs + futureToleranceMs) return invalid(`closeTime ${iso(c.closeTime)} is in the future`);
  return null;
}
