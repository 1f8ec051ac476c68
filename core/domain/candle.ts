// Domain rules of a closed candle, shared by every producer and consumer of market.candles.
import type { Candle } from '../../schemas/types.js';
import { intervalMs, isKnownInterval } from './intervals.js';

export type Invalid = { code: 'ERR_VALIDATION'; reason: string };

function invalid(reason: string): Invalid {
  return { code: 'ERR_VALIDATION', reason };
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
  for (const name of ['openTime', 'closeTime', 'ingestedAt'] as const) {
    if (!Number.isSafeInteger(c[name])) return invalid(`${name} ${c[name]} is not an integer of ms`);
  }
  for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) {
    if (!Number.isFinite(c[name])) return invalid(`${name} ${c[name]} is not a finite number`);
  }
  for (const name of ['open', 'high', 'low', 'close'] as const) {
    if (c[name] <= 0) return invalid(`${name} ${c[name]} is not > 0`);
  }
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
