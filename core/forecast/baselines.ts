// The four naive baselines every forecast is shown beside. Each is a location-scale forecaster
// with mean 0: its scale (the forecast of E|r_h|) comes from its own recursion or regression, and
// its standardised shape per horizon from its fit-range residuals r_h / scale. The recursions run in
// one tracker that sees each candle once, in order, from the start of the fit window on, so the
// offline run and the live predictor compute the same numbers from the same data. Pure code.
import { BitPredictError } from '../errors.js';
import { empiricalShape, type Shape } from './distribution.js';
import { fitGarch, garchVarianceSum, meanSquare, type GarchParams } from './garch.js';
import { HAR_DIM, LeastSquares, dot, harRow } from './har.js';
import { horizonReturn } from './returns.js';

export const BASELINE_NAMES = ['persistence', 'ewma', 'har-rv', 'garch'] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

/** RiskMetrics decay of the EWMA variance. */
export const EWMA_LAMBDA = 0.94;
/** HAR windows (steps): the "day" and "week" of hourly data. */
export const HAR_SHORT = 24;
export const HAR_LONG = 168;
/** Every scale is floored at this share of the horizon's constant (persistence) scale. */
export const SCALE_FLOOR_SHARE = 0.05;
/** Fewest known one-step returns a fit accepts. */
export const MIN_FIT_RETURNS = 200;

/** What one horizon's fit learnt (JSON-serialisable). */
export interface HorizonFit {
  h: number;
  /** Fit-range targets used (both ends inside the range, no gap). */
  targets: number;
  /** Persistence scale: mean |r_h| over the fit range. */
  meanAbs: number;
  floor: number;
  /** EWMA calibration: scale = ewmaK * sqrt(h * sigma^2). */
  ewmaK: number;
  /** GARCH calibration: scale = garchK * sqrt(sum of the 1..h step variance forecasts). */
  garchK: number;
  /** HAR coefficients on HAR_FEATURES. */
  har: number[];
  shapes: Record<BaselineName, Shape>;
}

/** A full fit of the baselines on one window (JSON-serialisable). */
export interface BaselineFit {
  stepMs: number;
  fitFrom: number;
  fitTo: number;
  /** Known one-step returns in the window. */
  returns: number;
  lambda: number;
  ewmaInit: number;
  garch: GarchParams & { v0: number; logLik: number };
  /** Mean |r| over the window: stands in for a HAR input with no known value in its window. */
  meanAbs1: number;
  horizons: HorizonFit[];
}

/** The recursions' state after the last candle seen. */
export class BaselineTracker {
  ewmaVar: number;
  garchNext: number;
  lastTime = Number.NaN;
  private lastAbs = Number.NaN;
  private readonly ring = new Float64Array(HAR_LONG).fill(Number.NaN);
  private pos = 0;
  private readonly x = new Float64Array(HAR_DIM);

  constructor(
    private readonly lambda: number,
    private readonly garch: GarchParams,
    ewmaInit: number,
    garchInit: number,
    private readonly meanAbs1: number,
  ) {
    this.ewmaVar = ewmaInit;
    this.garchNext = garchInit;
  }

  /** Takes the candle at `time` with one-step return r (null across a gap: the recursions skip it). */
  step(time: number, r: number | null): void {
    this.lastTime = time;
    this.lastAbs = r === null ? Number.NaN : Math.abs(r);
    this.ring[this.pos] = this.lastAbs;
    this.pos = (this.pos + 1) % HAR_LONG;
    if (r === null) return;
    this.ewmaVar = this.lambda * this.ewmaVar + (1 - this.lambda) * r * r;
    this.garchNext = this.garch.omega + this.garch.alpha * r * r + this.garch.beta * this.garchNext;
  }

  /** Mean of the known |r| among the last k steps, or NaN if none is known. */
  private meanLast(k: number): number {
    let s = 0;
    let n = 0;
    for (let j = 1; j <= k; j++) {
      const v = this.ring[(this.pos - j + HAR_LONG) % HAR_LONG]!;
      if (v === v) {
        s += v;
        n++;
      }
    }
    return n > 0 ? s / n : Number.NaN;
  }

  /**
   * The HAR regressors for a target starting one step after the last candle. An unknown input
   * (just after a gap, or at the window's start) falls back to the next longer mean, then to the
   * window's mean |r|, the same way in fitting and forecasting.
   */
  harRow(stepMs: number): Float64Array {
    let m168 = this.meanLast(HAR_LONG);
    if (m168 !== m168) m168 = this.meanAbs1;
    let m24 = this.meanLast(HAR_SHORT);
    if (m24 !== m24) m24 = m168;
    const a1 = this.lastAbs === this.lastAbs ? this.lastAbs : m24;
    harRow(this.x, a1, m24, m168, this.lastTime + stepMs);
    return this.x;
  }
}

/** The four scales for horizon fit hf from the tracker's state (each floored). */
export function scalesOf(fit: BaselineFit, hf: HorizonFit, tr: BaselineTracker, out: Record<BaselineName, number>): Record<BaselineName, number> {
  const f = hf.floor;
  out.persistence = hf.meanAbs;
  out.ewma = Math.max(f, hf.ewmaK * Math.sqrt(hf.h * tr.ewmaVar));
  out.garch = Math.max(f, hf.garchK * Math.sqrt(garchVarianceSum(fit.garch, tr.garchNext, hf.h)));
  out['har-rv'] = Math.max(f, dot(hf.har, tr.harRow(fit.stepMs)));
  return out;
}

/** Per-step state recorded while running the tracker over the fit window. */
interface FitTrace {
  ewmaVar: Float64Array;
  garchNext: Float64Array;
  harRows: Float64Array[];
}

function traceWindow(times: readonly number[], r: readonly (number | null)[], tr: BaselineTracker, stepMs: number): FitTrace {
  const n = r.length;
  const trace: FitTrace = { ewmaVar: new Float64Array(n), garchNext: new Float64Array(n), harRows: new Array<Float64Array>(n) };
  for (let i = 0; i < n; i++) {
    tr.step(times[i]!, r[i]!);
    trace.ewmaVar[i] = tr.ewmaVar;
    trace.garchNext[i] = tr.garchNext;
    trace.harRows[i] = Float64Array.from(tr.harRow(stepMs));
  }
  return trace;
}

function fitHorizon(fit: BaselineFit, r: readonly (number | null)[], trace: FitTrace, h: number): HorizonFit {
  const idx: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < r.length; i++) {
    const y = horizonReturn(r, i, h);
    if (y !== null) {
      idx.push(i);
      ys.push(y);
    }
  }
  if (ys.length < 50) throw new BitPredictError('ERR_VALIDATION', `baseline fit at horizon ${h} needs at least 50 gap-free targets, got ${ys.length}`);
  let sAbs = 0;
  for (const y of ys) sAbs += Math.abs(y);
  const meanAbs = Math.max(sAbs / ys.length, 1e-12);
  const floor = SCALE_FLOOR_SHARE * meanAbs;
  const ewmaBase = idx.map((i) => Math.sqrt(h * trace.ewmaVar[i]!));
  const garchBase = idx.map((i) => Math.sqrt(garchVarianceSum(fit.garch, trace.garchNext[i]!, h)));
  // k so that the mean of |r_h| / scale is 1 on the fit range: E|z| = 1 as the contract says.
  const calib = (base: number[]): number => {
    let s = 0;
    let n = 0;
    for (let j = 0; j < ys.length; j++)
      if (base[j]! > 0) {
        s += Math.abs(ys[j]!) / base[j]!;
        n++;
      }
    return n > 0 ? s / n : 1;
  };
  const ewmaK = calib(ewmaBase);
  const garchK = calib(garchBase);
  const ls = new LeastSquares(HAR_DIM);
  for (let j = 0; j < ys.length; j++) ls.add(trace.harRows[idx[j]!]!, Math.abs(ys[j]!));
  const har = ls.solve();
  const resid = (scale: (j: number) => number): number[] => ys.map((y, j) => y / scale(j));
  const shapes: Record<BaselineName, Shape> = {
    persistence: empiricalShape(resid(() => meanAbs)),
    ewma: empiricalShape(resid((j) => Math.max(floor, ewmaK * ewmaBase[j]!))),
    garch: empiricalShape(resid((j) => Math.max(floor, garchK * garchBase[j]!))),
    'har-rv': empiricalShape(resid((j) => Math.max(floor, dot(har, trace.harRows[idx[j]!]!)))),
  };
  return { h, targets: ys.length, meanAbs, floor, ewmaK, garchK, har, shapes };
}

/**
 * Fits every baseline on one window of candles (times, one-step returns with r[0] = null, as
 * oneStepReturns of the window alone gives) and returns the fit with the tracker positioned after
 * the window's last candle, ready to forecast from it. Only targets wholly inside the window are
 * used, so the fit sees no data after its last candle.
 */
export function fitBaselines(
  times: readonly number[],
  r: readonly (number | null)[],
  stepMs: number,
  horizons: readonly number[],
): { fit: BaselineFit; tracker: BaselineTracker } {
  if (times.length !== r.length) throw new BitPredictError('ERR_VALIDATION', `${times.length} times but ${r.length} returns`);
  if (horizons.length === 0 || horizons.some((h) => !Number.isSafeInteger(h) || h < 1))
    throw new BitPredictError('ERR_VALIDATION', `horizons [${horizons.join(', ')}] are not positive integers`);
  let known = 0;
  let sAbs = 0;
  for (const x of r)
    if (x !== null) {
      known++;
      sAbs += Math.abs(x);
    }
  if (known < MIN_FIT_RETURNS) throw new BitPredictError('ERR_VALIDATION', `baseline fit needs at least ${MIN_FIT_RETURNS} known returns, got ${known}`);
  const g = fitGarch(r);
  const ms = meanSquare(r);
  const fit: BaselineFit = {
    stepMs,
    fitFrom: times[0]!,
    fitTo: times[times.length - 1]!,
    returns: known,
    lambda: EWMA_LAMBDA,
    ewmaInit: ms,
    garch: { ...g.params, v0: g.v0, logLik: g.logLik },
    meanAbs1: sAbs / known,
    horizons: [],
  };
  const tracker = new BaselineTracker(fit.lambda, fit.garch, fit.ewmaInit, fit.garch.v0, fit.meanAbs1);
  const trace = traceWindow(times, r, tracker, stepMs);
  fit.horizons = horizons.map((h) => fitHorizon(fit, r, trace, h));
  return { fit, tracker };
}
