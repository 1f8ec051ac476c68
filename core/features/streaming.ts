// Streaming SMA, EMA, RSI, ATR and Bollinger deviation whose whole state is a plain JSON object.
//
// Why not technicalindicators' streaming classes directly: they keep their state inside generator
// closures, which cannot be snapshotted; replaying a tail of closes cannot restore them exactly
// either (the SMA's running sum carries rounding from its whole history, and EMA/RSI depend on
// every past close); and its RSI rounds to 2 decimals with a hard-coded toFixed(2) that no config
// turns off (its `precision` setting only adds rounding elsewhere). So this is a port of the
// library's arithmetic, operation for operation: streaming.test.ts checks the outputs are
// bit-identical to technicalindicators 3.1.0 SMA and EMA and to the average gain/loss behind its
// RSI, and the RSI here is the library's formula without the rounding. ATR (Wilder) and the
// Bollinger standard deviation are ported the same way and tested bit-identical to ATR and
// BollingerBands.
//
// Corner cases of the library that are NOT ported (they need an exact 0.0 where real prices never
// give one): its EMA treats a seed SMA of exactly 0 as "not ready" (`if (prevEma)`) and then emits
// x * 2/(p+1) instead of 0; its MACD reports a signal of exactly 0 as undefined. Here 0 is a value.

export interface SmaState {
  period: number;
  /** The last `period` closes (fewer while warming up), oldest first. */
  window: number[];
  /** Running sum as technicalindicators keeps it: subtract the oldest, add the newest. */
  sum: number;
}

export interface EmaState {
  period: number;
  /** The EMA starts from the SMA of its first `period` values (technicalindicators' seeding). */
  seed: SmaState;
  value: number | null;
}

export interface RsiState {
  period: number;
  prev: number | null;
  /** Price changes seen so far, capped at period + 1 (only "warming up or not" matters after). */
  changes: number;
  gainSum: number;
  lossSum: number;
  /** Wilder-smoothed average gain and loss; null while warming up. */
  avgGain: number | null;
  avgLoss: number | null;
}

export function createSma(period: number): SmaState {
  return { period, window: [], sum: 0 };
}

export function createEma(period: number): EmaState {
  return { period, seed: createSma(period), value: null };
}

export function createRsi(period: number): RsiState {
  return { period, prev: null, changes: 0, gainSum: 0, lossSum: 0, avgGain: null, avgLoss: null };
}

/** Mutates `s`; null until `period` values have been seen. */
export function stepSma(s: SmaState, x: number): number | null {
  if (s.window.length < s.period - 1) {
    s.window.push(x);
    s.sum = s.sum + x;
    return null;
  }
  // The library pre-fills its list with a 0 that the first full window "removes"; same sum.
  const removed = s.window.length === s.period ? (s.window.shift() as number) : 0;
  s.sum = s.sum - removed + x;
  s.window.push(x);
  return s.sum / s.period;
}

export function stepEma(s: EmaState, x: number): number | null {
  if (s.value !== null) {
    s.value = (x - s.value) * (2 / (s.period + 1)) + s.value;
    return s.value;
  }
  s.value = stepSma(s.seed, x);
  if (s.value !== null) s.seed = createSma(s.period);
  return s.value;
}

export function stepRsi(s: RsiState, x: number): number | null {
  const prev = s.prev;
  s.prev = x;
  if (prev === null) return null;
  const gain = Math.max(x - prev, 0);
  const loss = Math.max(prev - x, 0);
  if (s.avgGain === null || s.avgLoss === null) {
    s.changes += 1;
    s.gainSum = s.gainSum + gain;
    s.lossSum = s.lossSum + loss;
    if (s.changes < s.period) return null;
    s.avgGain = s.gainSum / s.period;
    s.avgLoss = s.lossSum / s.period;
  } else {
    s.avgGain = (s.avgGain * (s.period - 1) + gain) / s.period;
    s.avgLoss = (s.avgLoss * (s.period - 1) + loss) / s.period;
  }
  return rsiOf(s.avgGain, s.avgLoss);
}

function rsiOf(avgGain: number, avgLoss: number): number {
  if (avgLoss === 0) return 100;
  if (avgGain === 0) return 0;
  return 100 - 100 / (1 + avgGain / avgLoss);
}

export interface AtrState {
  period: number;
  /** Close of the previous candle; null before the first candle (which has no true range). */
  prevClose: number | null;
  /** Wilder's average starts from the SMA of the first `period` true ranges. */
  seed: SmaState;
  value: number | null;
}

export function createAtr(period: number): AtrState {
  return { period, prevClose: null, seed: createSma(period), value: null };
}

/**
 * technicalindicators' ATR: TrueRange yields nothing for the first candle of a series (it only
 * records its close), then max(high - low, |high - prevClose|, |low - prevClose|); WEMA (Wilder,
 * alpha 1/period) seeded with the SMA of the first `period` true ranges. So the first value comes
 * with candle period + 1. Mutates `s`.
 */
export function stepAtr(s: AtrState, high: number, low: number, close: number): number | null {
  const prevClose = s.prevClose;
  s.prevClose = close;
  if (prevClose === null) return null;
  const tr = Math.max(high - low, Math.abs(high - prevClose), Math.abs(low - prevClose));
  if (s.value !== null) {
    s.value = (tr - s.value) * (1 / s.period) + s.value;
    return s.value;
  }
  s.value = stepSma(s.seed, tr);
  if (s.value !== null) s.seed = createSma(s.period);
  return s.value;
}

/**
 * Population standard deviation of a full SMA window around its mean, as technicalindicators' SD
 * computes it for BollingerBands: a fresh sum of Math.pow(x - mean, 2) over the window, oldest
 * first, divided by the period. Call only after stepSma returned `mean` (the window is full).
 */
export function windowSd(s: SmaState, mean: number): number {
  const w = s.window;
  let sum = 0;
  for (let i = 0; i < w.length; i += 1) {
    // Math.pow, not d * d: the library's operation (same bits in V8 today; kept to be safe).
    sum = sum + Math.pow((w[i] as number) - mean, 2);
  }
  return Math.sqrt(sum / s.period);
}
