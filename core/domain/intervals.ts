import { BitPredictError } from '../errors.js';

/** Candle lengths the replay understands, in ms. Every one divides a UTC day, so "aligned to the
 * interval" (openTime % length === 0) also means 1d candles open at UTC midnight. */
export const INTERVAL_MS: Record<string, number> = Object.freeze({
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
});

export function isKnownInterval(interval: string): boolean {
  return Object.prototype.hasOwnProperty.call(INTERVAL_MS, interval);
}

export function intervalMs(interval: string): number {
  const ms = isKnownInterval(interval) ? INTERVAL_MS[interval] : undefined;
  if (ms === undefined) {
    throw new BitPredictError('ERR_VALIDATION', `unknown interval "${interval}"; expected one of ${Object.keys(INTERVAL_MS).join(', ')}`, {
      details: { interval },
    });
  }
  return ms;
}
