// Walk-forward fold generation over time. Pure.
//
// Times are window times t (ms): the eventTime (= candle closeTime) of a window's last step. A
// window at t reads candles that opened before t, and its target is the candle that opens at t and
// closes at t + interval. Every range is half-open [from, to) on t. With a one-period target, a
// window in [from, to) uses only candles that open before `to`, so consecutive ranges share no data.
// For an h-period target, train and validation windows also need t + (h-1)*interval < to, which
// the index ranges enforce (an embargo of h-1 periods).
//
// Development purpose: folds are cut at finalWindowStart, so nothing fitted, early-stopped or tested
// in development reads the final window. Final purpose: exactly one fold tests [finalWindowStart,
// end) and trains/validates only on windows before finalWindowStart.
import { BitPredictError } from '../../core/errors.js';

export interface WalkForwardOptions {
  /** sorted (strictly increasing) window times, ms */
  times: ArrayLike<number>;
  /** first window time considered (inclusive), ms */
  start: number;
  /** end of the data (exclusive), ms */
  end: number;
  /** interval length, ms (3_600_000 for 1h) */
  intervalMs: number;
  /** 'expanding' keeps trainFrom = start; 'rolling' keeps the last trainPeriods periods */
  trainMode: 'expanding' | 'rolling';
  /** training span in periods: the first fold's for 'expanding', every fold's for 'rolling' */
  trainPeriods: number;
  /** validation span in periods (for early stopping), directly after training; may be 0 */
  valPeriods: number;
  /** test span in periods, directly after validation */
  testPeriods: number;
  /** how far each fold moves on, in periods; default testPeriods (tests tile without overlap) */
  stepPeriods?: number;
  /** 'development' (default) or 'final' */
  purpose?: 'development' | 'final';
  /** start of the final evaluation window (ms); required for purpose 'final' */
  finalWindowStart?: number;
  /** target horizon in periods (default 1); train/val windows keep an embargo of h-1 periods */
  horizonPeriods?: number;
  /** skip folds with fewer training windows than this (default 1) */
  minTrainWindows?: number;
  /** skip folds with fewer test windows than this (default 1) */
  minTestWindows?: number;
}

/** Index range [from, to) into the times array. */
export interface IndexRange {
  from: number;
  to: number;
}

export interface Fold {
  index: number;
  purpose: 'development' | 'final';
  trainFrom: number;
  trainTo: number;
  valFrom: number;
  valTo: number;
  testFrom: number;
  testTo: number;
  /** window indices of each part (embargo applied to train and val) */
  train: IndexRange;
  val: IndexRange;
  test: IndexRange;
}

/** First index i with times[i] >= t. */
export function lowerBound(times: ArrayLike<number>, t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function rangeOf(times: ArrayLike<number>, from: number, to: number): IndexRange {
  const a = lowerBound(times, from);
  const b = Math.max(a, lowerBound(times, to));
  return { from: a, to: b };
}

function need(ok: boolean, msg: string): void {
  if (!ok) throw new BitPredictError('ERR_VALIDATION', `walkForwardFolds: ${msg}`);
}

export function walkForwardFolds(o: WalkForwardOptions): Fold[] {
  const purpose = o.purpose ?? 'development';
  const iv = o.intervalMs;
  const step = o.stepPeriods ?? o.testPeriods;
  const h = o.horizonPeriods ?? 1;
  const minTrain = o.minTrainWindows ?? 1;
  const minTest = o.minTestWindows ?? 1;
  need(Number.isFinite(iv) && iv > 0, `intervalMs=${iv} must be > 0`);
  need(Number.isFinite(o.start) && Number.isFinite(o.end) && o.start < o.end, `start=${o.start} must be before end=${o.end}`);
  need(o.trainMode === 'expanding' || o.trainMode === 'rolling', `trainMode='${String(o.trainMode)}' must be 'expanding' or 'rolling'`);
  need(Number.isInteger(o.trainPeriods) && o.trainPeriods >= 1, `trainPeriods=${o.trainPeriods} must be an integer >= 1`);
  need(Number.isInteger(o.valPeriods) && o.valPeriods >= 0, `valPeriods=${o.valPeriods} must be an integer >= 0`);
  need(Number.isInteger(o.testPeriods) && o.testPeriods >= 1, `testPeriods=${o.testPeriods} must be an integer >= 1`);
  need(Number.isInteger(step) && step >= 1, `stepPeriods=${step} must be an integer >= 1`);
  need(Number.isInteger(h) && h >= 1, `horizonPeriods=${h} must be an integer >= 1`);
  need(purpose === 'development' || purpose === 'final', `purpose='${String(purpose)}' must be 'development' or 'final'`);
  for (let i = 1; i < o.times.length; i++) {
    need(o.times[i]! > o.times[i - 1]!, `times must strictly increase (index ${i})`);
  }
  const embargo = (h - 1) * iv;
  const make = (index: number, trainFrom: number, trainTo: number, valTo: number, testTo: number): Fold => ({
    index,
    purpose,
    trainFrom,
    trainTo,
    valFrom: trainTo,
    valTo,
    testFrom: valTo,
    testTo,
    train: rangeOf(o.times, trainFrom, trainTo - embargo),
    val: rangeOf(o.times, trainTo, valTo - embargo),
    test: rangeOf(o.times, valTo, testTo),
  });

  if (purpose === 'final') {
    const fws = o.finalWindowStart;
    need(fws !== undefined && Number.isFinite(fws), "finalWindowStart is required for purpose 'final'");
    const f = fws!;
    need(f > o.start && f < o.end, `finalWindowStart=${f} must lie inside (start=${o.start}, end=${o.end})`);
    const valFrom = f - o.valPeriods * iv;
    const trainFrom = o.trainMode === 'expanding' ? o.start : Math.max(o.start, valFrom - o.trainPeriods * iv);
    need(valFrom > trainFrom, 'no room for training before the validation span that precedes finalWindowStart');
    const fold = make(0, trainFrom, valFrom, f, o.end);
    need(fold.train.to - fold.train.from >= minTrain, `final fold has ${fold.train.to - fold.train.from} training windows, fewer than ${minTrain}`);
    need(fold.test.to - fold.test.from >= minTest, `final fold has ${fold.test.to - fold.test.from} test windows, fewer than ${minTest}`);
    return [fold];
  }

  const limit = o.finalWindowStart !== undefined ? Math.min(o.end, o.finalWindowStart) : o.end;
  const folds: Fold[] = [];
  for (let k = 0; ; k++) {
    const trainTo = o.start + (o.trainPeriods + k * step) * iv;
    const valTo = trainTo + o.valPeriods * iv;
    if (valTo >= limit) break;
    const testTo = Math.min(valTo + o.testPeriods * iv, limit);
    const trainFrom = o.trainMode === 'expanding' ? o.start : trainTo - o.trainPeriods * iv;
    const fold = make(folds.length, trainFrom, trainTo, valTo, testTo);
    if (fold.train.to - fold.train.from < minTrain || fold.test.to - fold.test.from < minTest) continue;
    folds.push(fold);
  }
  return folds;
}
