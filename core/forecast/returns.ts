// One-step log returns of a candle series with gaps made explicit (null), and the h-step target
// built from them. A return is defined only between two consecutive candles exactly one step apart:
// a missing candle makes the return across it unknown, never zero. Pure code.
import { BitPredictError } from '../errors.js';

/** Checks a candle series: finite positive closes, strictly increasing finite times, equal lengths. */
export function checkSeries(times: readonly number[], closes: readonly number[], stepMs: number): void {
  if (!(stepMs > 0) || !Number.isSafeInteger(stepMs)) throw new BitPredictError('ERR_VALIDATION', `step ${stepMs} ms is not a positive integer`);
  if (times.length !== closes.length) throw new BitPredictError('ERR_VALIDATION', `${times.length} times but ${closes.length} closes`);
  for (let i = 0; i < times.length; i++) {
    const c = closes[i]!;
    if (!(c > 0) || !Number.isFinite(c)) throw new BitPredictError('ERR_VALIDATION', `close ${c} at index ${i} is not a positive finite number`);
    const t = times[i]!;
    if (!Number.isFinite(t)) throw new BitPredictError('ERR_VALIDATION', `time ${t} at index ${i} is not finite`);
    if (i > 0 && !(t > times[i - 1]!)) throw new BitPredictError('ERR_VALIDATION', `time ${t} at index ${i} does not increase (previous ${times[i - 1]})`);
  }
}

/**
 * r[i] = ln(c[i] / c[i-1]) when times[i] - times[i-1] === stepMs, else null (a gap); r[0] = null.
 * Throws ERR_VALIDATION on a non-positive or non-finite close or a non-increasing time.
 */
export function oneStepReturns(times: readonly number[], closes: readonly number[], stepMs: number): (number | null)[] {
  checkSeries(times, closes, stepMs);
  const r: (number | null)[] = new Array<number | null>(times.length);
  for (let i = 0; i < times.length; i++) r[i] = i > 0 && times[i]! - times[i - 1]! === stepMs ? Math.log(closes[i]! / closes[i - 1]!) : null;
  return r;
}

/** The h-step target at index i: r[i+1] + ... + r[i+h]; null if any is null or beyond the end. */
export function horizonReturn(r: readonly (number | null)[], i: number, h: number): number | null {
  if (i + h >= r.length || i < 0) return null;
  let s = 0;
  for (let k = i + 1; k <= i + h; k++) {
    const v = r[k];
    if (v === null || v === undefined) return null;
    s += v;
  }
  return s;
}
