// The baselines as the research code and the live predictor use them. Both go through
// fitBaselines and the same tracker, one candle at a time, so for the same candles and the same
// refit points they produce the same numbers bit for bit: runBaselines (offline: fit once on a
// range, forecast every time of an evaluation range) and createLiveBaselines (online: refit on a
// trailing window at the first candle of each UTC day, forecast after every candle). Pure code.
import { BitPredictError } from '../errors.js';
import { locationScale, type ForecastDistribution } from './distribution.js';
import { BASELINE_NAMES, fitBaselines, scalesOf, type BaselineFit, type BaselineName, type BaselineTracker } from './baselines.js';
import { checkSeries, horizonReturn, oneStepReturns } from './returns.js';

const DAY_MS = 86_400_000;

export interface BaselineItem {
  /** Open time of the candle at whose close the forecast is made (data <= this candle only). */
  time: number;
  d: ForecastDistribution;
  /** Realised h-step log return, null if a step is missing or beyond the data. */
  y: number | null;
}

export interface RunBaselinesOptions {
  times: readonly number[];
  closes: readonly number[];
  stepMs: number;
  horizons: readonly number[];
  /** Fit window [fitFrom, fitTo] (candle open times, inclusive). */
  fitFrom: number;
  fitTo: number;
  /** Forecast times [evalFrom, evalTo], inclusive; evalFrom >= fitTo. */
  evalFrom: number;
  evalTo: number;
  names?: readonly BaselineName[];
}

export interface BaselineRun {
  fit: BaselineFit;
  /** baseline -> horizon -> one item per candle time in the evaluation range. */
  forecasts: Map<BaselineName, Map<number, BaselineItem[]>>;
}

function checkNames(names: readonly BaselineName[]): void {
  for (const n of names) if (!(BASELINE_NAMES as readonly string[]).includes(n)) throw new BitPredictError('ERR_VALIDATION', `unknown baseline "${n}"`);
}

/**
 * Offline: fits on the candles with fitFrom <= time <= fitTo (nothing before fitFrom is read, so
 * the result equals a live refit whose window starts there), then runs the tracker on and records
 * the forecast at every candle time in [evalFrom, evalTo]. Outcomes y come from the candles given,
 * which may extend past evalTo; forecasts never use them.
 */
export function runBaselines(o: RunBaselinesOptions): BaselineRun {
  const names = o.names ?? BASELINE_NAMES;
  checkNames(names);
  checkSeries(o.times, o.closes, o.stepMs);
  if (!(o.fitFrom <= o.fitTo && o.fitTo <= o.evalFrom && o.evalFrom <= o.evalTo))
    throw new BitPredictError(
      'ERR_VALIDATION',
      `ranges must satisfy fitFrom <= fitTo <= evalFrom <= evalTo, got ${o.fitFrom}, ${o.fitTo}, ${o.evalFrom}, ${o.evalTo}`,
    );
  let a = 0;
  while (a < o.times.length && o.times[a]! < o.fitFrom) a++;
  const times = o.times.slice(a);
  const r = oneStepReturns(times, o.closes.slice(a), o.stepMs);
  let b = 0;
  while (b < times.length && times[b]! <= o.fitTo) b++; // fit window is [0, b)
  const { fit, tracker } = fitBaselines(times.slice(0, b), r.slice(0, b), o.stepMs, o.horizons);
  const forecasts = new Map<BaselineName, Map<number, BaselineItem[]>>(names.map((n) => [n, new Map(o.horizons.map((h) => [h, [] as BaselineItem[]]))]));
  const scales = { persistence: 0, ewma: 0, 'har-rv': 0, garch: 0 };
  for (let i = b - 1; i < times.length && times[i]! <= o.evalTo; i++) {
    if (i >= b) tracker.step(times[i]!, r[i]!);
    if (times[i]! < o.evalFrom) continue;
    for (const hf of fit.horizons) {
      scalesOf(fit, hf, tracker, scales);
      const y = horizonReturn(r, i, hf.h);
      for (const n of names)
        forecasts
          .get(n)!
          .get(hf.h)!
          .push({ time: times[i]!, d: locationScale(0, scales[n], hf.shapes[n]), y });
    }
  }
  return { fit, forecasts };
}

export interface LiveBaselinesOptions {
  stepMs: number;
  horizons: readonly number[];
  /** Trailing steps (of time) each refit uses, for example 4000. */
  window: number;
  /** Candles needed in the window before the first fit (at least MIN_FIT_RETURNS + 1 useful). */
  minFit: number;
}

export interface WarmingUp {
  warmingUp: true;
  have: number;
  need: number;
}

export interface LiveBaselines {
  /** Takes the next candle; a time jump of more than one step is a gap. Throws ERR_VALIDATION on a bad or out-of-order candle. */
  push(time: number, close: number): void;
  /** The distributions per baseline (one per horizon, in horizon order) after the last candle. */
  forecast(): Map<BaselineName, ForecastDistribution[]> | WarmingUp;
  /** The current fit (JSON-serialisable), or null before the first. */
  params(): BaselineFit | null;
  /** Why the last refit failed (the previous fit keeps serving), or null. */
  lastRefitError(): string | null;
}

/**
 * Online baselines for one series. Refits at the first pushed candle on or after each UTC midnight
 * (event time) on the candles of the trailing `window` steps ending at that candle, and at the
 * first candle at which the buffer holds minFit candles if no fit exists yet. The result depends
 * only on the candles pushed, never on how they were batched or on the wall clock.
 */
export function createLiveBaselines(o: LiveBaselinesOptions): LiveBaselines {
  const { stepMs, horizons, window, minFit } = o;
  if (!(Number.isSafeInteger(stepMs) && stepMs > 0)) throw new BitPredictError('ERR_VALIDATION', `step ${stepMs} ms is not a positive integer`);
  if (!(Number.isSafeInteger(window) && window >= 2) || !(Number.isSafeInteger(minFit) && minFit >= 2 && minFit <= window))
    throw new BitPredictError('ERR_VALIDATION', `live baselines need integers 2 <= minFit (${minFit}) <= window (${window})`);
  if (horizons.length === 0 || horizons.some((h) => !Number.isSafeInteger(h) || h < 1))
    throw new BitPredictError('ERR_VALIDATION', `horizons [${horizons.join(', ')}] are not positive integers`);
  let times: number[] = [];
  let closes: number[] = [];
  let fit: BaselineFit | null = null;
  let tracker: BaselineTracker | null = null;
  let lastRefitDay = Number.NaN;
  let refitError: string | null = null;
  const scales = { persistence: 0, ewma: 0, 'har-rv': 0, garch: 0 };

  const refit = (time: number): void => {
    lastRefitDay = Math.floor(time / DAY_MS);
    const from = time - (window - 1) * stepMs;
    let a = 0;
    while (a < times.length && times[a]! < from) a++;
    if (a > 0) {
      times = times.slice(a);
      closes = closes.slice(a);
    }
    if (times.length < minFit) return;
    try {
      const next = fitBaselines(times, oneStepReturns(times, closes, stepMs), stepMs, horizons);
      fit = next.fit;
      tracker = next.tracker;
      refitError = null;
    } catch (err) {
      if (!(err instanceof BitPredictError)) throw err;
      refitError = err.message;
    }
  };

  return {
    push(time, close) {
      if (!Number.isFinite(time)) throw new BitPredictError('ERR_VALIDATION', `candle time ${time} is not finite`);
      if (!(close > 0) || !Number.isFinite(close)) throw new BitPredictError('ERR_VALIDATION', `close ${close} is not a positive finite number`);
      const prev = times.length > 0 ? times[times.length - 1]! : Number.NEGATIVE_INFINITY;
      if (!(time > prev)) throw new BitPredictError('ERR_VALIDATION', `candle time ${time} does not increase (previous ${prev})`);
      const prevClose = closes[closes.length - 1];
      times.push(time);
      closes.push(close);
      const newDay = Math.floor(time / DAY_MS) !== lastRefitDay;
      if ((fit === null && times.length >= minFit) || (fit !== null && newDay)) {
        refit(time);
        // A successful refit positioned the tracker after this candle; a failed one leaves the old fit running.
        if (fit !== null && fit.fitTo === time) return;
      }
      if (tracker !== null) tracker.step(time, time - prev === stepMs && prevClose !== undefined ? Math.log(close / prevClose) : null);
    },
    forecast() {
      if (fit === null || tracker === null) return { warmingUp: true, have: times.length, need: minFit };
      const out = new Map<BaselineName, ForecastDistribution[]>(BASELINE_NAMES.map((n) => [n, []]));
      for (const hf of fit.horizons) {
        scalesOf(fit, hf, tracker, scales);
        for (const n of BASELINE_NAMES) out.get(n)!.push(locationScale(0, scales[n], hf.shapes[n]));
      }
      return out;
    },
    params: () => fit,
    lastRefitError: () => refitError,
  };
}
