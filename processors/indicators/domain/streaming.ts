// Streaming SMA, EMA and RSI whose whole state is a plain JSON object.
//
// Why not technicalindicators' streaming classes directly: they keep their state inside generator
// closures, which cannot be snapshotted; replaying a tail of closes cannot restore them exactly
// either (the SMA's running sum carries rounding from its whole history, and EMA/RSI depend on
// every past close); and its RSI rounds to 2 decimals with a hard-coded toFixed(2) that no config
// turns off (its `precision` setting only adds rounding elsewhere). So this is a port of the
// library's arithmetic, operation for operation: streaming.test.ts checks the outputs are
// bit-identical to technicalindicators 3.1.0 SMA and EMA and to the average gain/loss behind its
// RSI, and the RSI here is the library's formula without the rounding.

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
