// Forecast evaluation metrics for next-period log-return forecasts. Pure: numbers in, numbers out.
//
// Conventions (stated once, used everywhere):
// - Inputs are aligned arrays: pred[i] forecasts actual[i] = ln(close(t+1)/close(t)) at window time t.
// - Direction: "up" means > 0, everything else (<= 0) is "not up", exactly like WindowSet.yUp. So a
//   zero forecast (persistence) predicts "not up", and a zero realised return counts as "not up".
//   Directional accuracy = share of i with (pred[i] > 0) === (actual[i] > 0). With probUp, the
//   forecast direction is probUp > 0.5.
// - Missing values are never printed as NaN: functions return null where a number is undefined.
import { BitPredictError } from '../../core/errors.js';
import { betaInc, lnGamma, studentTSf, studentTTwoSided } from '../../core/forecast/stats.js';
import { costBpsPerSide, DEFAULT_COSTS } from './costs.js';

/** A read-only numeric array: number[], Float32Array or Float64Array. */
export type NumArray = ArrayLike<number>;

const Z95 = 1.959963984540054;

function checkAligned(pred: NumArray, actual: NumArray, what: string): void {
  if (pred.length !== actual.length) {
    throw new BitPredictError('ERR_VALIDATION', `${what}: predictions (${pred.length}) and actuals (${actual.length}) must have the same length`);
  }
  for (let i = 0; i < pred.length; i++) {
    if (!Number.isFinite(pred[i]!) || !Number.isFinite(actual[i]!)) {
      throw new BitPredictError('ERR_VALIDATION', `${what}: non-finite value at index ${i} (pred=${pred[i]}, actual=${actual[i]})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Regression and direction
// ---------------------------------------------------------------------------------------------

export interface RegressionMetrics {
  n: number;
  /** mean |pred - actual|; null when n = 0 */
  mae: number | null;
  /** mean (pred - actual)^2 */
  mse: number | null;
  /** sqrt(mse) */
  rmse: number | null;
}

export function regressionMetrics(pred: NumArray, actual: NumArray): RegressionMetrics {
  checkAligned(pred, actual, 'regressionMetrics');
  const n = pred.length;
  if (n === 0) return { n, mae: null, mse: null, rmse: null };
  let sa = 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const e = pred[i]! - actual[i]!;
    sa += Math.abs(e);
    ss += e * e;
  }
  const mse = ss / n;
  return { n, mae: sa / n, mse, rmse: Math.sqrt(mse) };
}

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval for a binomial proportion (z = 1.96 for 95%). */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval | null {
  if (n <= 0) return null;
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface DirectionalAccuracy {
  n: number;
  hits: number;
  /** hits / n; null when n = 0 */
  accuracy: number | null;
  /** 95% Wilson interval; null when n = 0 */
  ci95: Interval | null;
}

/**
 * Directional accuracy: forecast up = pred > 0 (or probUp > 0.5 when given), actual up =
 * actual > 0; zeros count as "not up" on both sides (see the header).
 */
export function directionalAccuracy(pred: NumArray, actual: NumArray, probUp?: NumArray): DirectionalAccuracy {
  checkAligned(pred, actual, 'directionalAccuracy');
  if (probUp !== undefined && probUp.length !== actual.length) {
    throw new BitPredictError('ERR_VALIDATION', `directionalAccuracy: probUp length ${probUp.length} differs from actual length ${actual.length}`);
  }
  const n = actual.length;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const up = probUp !== undefined ? probUp[i]! > 0.5 : pred[i]! > 0;
    if (up === actual[i]! > 0) hits++;
  }
  return { n, hits, accuracy: n === 0 ? null : hits / n, ci95: wilsonInterval(hits, n) };
}

export interface ProbabilityMetrics {
  n: number;
  /** mean (probUp - yUp)^2 */
  brier: number | null;
  /** mean -[y ln p + (1-y) ln(1-p)], p clipped to [1e-12, 1-1e-12] */
  logLoss: number | null;
}

export function probabilityMetrics(probUp: NumArray, actual: NumArray): ProbabilityMetrics {
  checkAligned(probUp, actual, 'probabilityMetrics');
  const n = actual.length;
  if (n === 0) return { n, brier: null, logLoss: null };
  let b = 0;
  let ll = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - 1e-12, Math.max(1e-12, probUp[i]!));
    const y = actual[i]! > 0 ? 1 : 0;
    b += (probUp[i]! - y) ** 2;
    ll -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  }
  return { n, brier: b / n, logLoss: ll / n };
}

// ---------------------------------------------------------------------------------------------
// Student t distribution via the regularized incomplete beta function
// ---------------------------------------------------------------------------------------------

// The special functions are core/forecast/stats.ts's (one implementation for research and live
// scoring); these names stay for the callers of this module.

/** ln Gamma(x) for x > 0. */
export const logGamma = lnGamma;

/** Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new BitPredictError('ERR_VALIDATION', `regularizedIncompleteBeta: a=${a} and b=${b} must be > 0`);
  if (!(x >= 0 && x <= 1)) throw new BitPredictError('ERR_VALIDATION', `regularizedIncompleteBeta: x=${x} must be in [0, 1]`);
  return betaInc(x, a, b);
}

/** Student t CDF P(T <= t) with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  return 1 - studentTSf(t, df);
}

/** Two-sided p-value P(|T| >= |t|). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return studentTTwoSided(t, df);
}

// ---------------------------------------------------------------------------------------------
// Diebold-Mariano with HLN correction
// ---------------------------------------------------------------------------------------------

export interface DieboldMarianoResult {
  n: number;
  h: number;
  /** mean loss differential d = e_model^2 - e_bench^2 (negative: model has lower MSE) */
  meanLossDiff: number | null;
  /** plain DM statistic dbar / sqrt(V) */
  dm: number | null;
  /** HLN-corrected statistic (the one tested); negative means the model is better */
  stat: number | null;
  /** two-sided p-value, Student t with n-1 df; null when undefined */
  pValue: number | null;
  /** why stat/pValue are what they are when degenerate */
  note: string | null;
}

/**
 * Diebold-Mariano test, squared-error loss. d_t = (pred_t - a_t)^2 - (bench_t - a_t)^2.
 * V = (gamma_0 + 2 * sum_{k=1}^{h-1} gamma_k) / n with gamma_k = (1/n) sum_{t>k} (d_t - dbar)(d_{t-k} - dbar).
 * DM = dbar / sqrt(V); HLN: DM* = DM * sqrt((n + 1 - 2h + h(h-1)/n) / n); p = 2 P(T_{n-1} >= |DM*|).
 * Identical losses everywhere -> stat 0, p 1. Zero or negative variance otherwise -> null with a note.
 * bench defaults to persistence (all zeros).
 */
export function dieboldMariano(pred: NumArray, actual: NumArray, bench?: NumArray, h = 1): DieboldMarianoResult {
  checkAligned(pred, actual, 'dieboldMariano');
  if (bench !== undefined) checkAligned(bench, actual, 'dieboldMariano benchmark');
  if (!Number.isInteger(h) || h < 1) throw new BitPredictError('ERR_VALIDATION', `dieboldMariano: horizon h=${h} must be an integer >= 1`);
  const n = actual.length;
  const base = { n, h };
  if (n < 2 || h >= n) return { ...base, meanLossDiff: null, dm: null, stat: null, pValue: null, note: `too few observations (n=${n}) for horizon h=${h}` };
  const d = new Float64Array(n);
  let sum = 0;
  let allZero = true;
  for (let i = 0; i < n; i++) {
    const b = bench === undefined ? 0 : bench[i]!;
    const e1 = pred[i]! - actual[i]!;
    const e2 = b - actual[i]!;
    d[i] = e1 * e1 - e2 * e2;
    if (d[i] !== 0) allZero = false;
    sum += d[i]!;
  }
  const dbar = sum / n;
  if (allZero) return { ...base, meanLossDiff: 0, dm: 0, stat: 0, pValue: 1, note: 'identical losses: forecasts are equivalent to the benchmark' };
  const gamma = (k: number): number => {
    let s = 0;
    for (let t = k; t < n; t++) s += (d[t]! - dbar) * (d[t - k]! - dbar);
    return s / n;
  };
  let lrv = gamma(0);
  for (let k = 1; k <= h - 1; k++) lrv += 2 * gamma(k);
  const v = lrv / n;
  if (!(v > 0)) {
    return { ...base, meanLossDiff: dbar, dm: null, stat: null, pValue: null, note: `loss-differential variance is ${v <= 0 ? 'not positive' : 'undefined'}` };
  }
  const dm = dbar / Math.sqrt(v);
  const hln = (n + 1 - 2 * h + (h * (h - 1)) / n) / n;
  if (!(hln > 0)) return { ...base, meanLossDiff: dbar, dm, stat: null, pValue: null, note: `too few observations (n=${n}) for horizon h=${h}` };
  const corr = Math.sqrt(hln);
  const stat = dm * corr;
  return { ...base, meanLossDiff: dbar, dm, stat, pValue: studentTTwoSidedP(stat, n - 1), note: null };
}

// ---------------------------------------------------------------------------------------------
// Trading simulation
// ---------------------------------------------------------------------------------------------

/** Periods per year for an interval such as '1m', '15m', '1h', '4h', '1d' (crypto trades 24/7/365). */
export function periodsPerYear(interval: string): number {
  const m = /^(\d+)([mhdw])$/.exec(interval);
  if (!m) throw new BitPredictError('ERR_VALIDATION', `periodsPerYear: interval '${interval}' is not like 1m, 1h, 4h, 1d`);
  const k = Number(m[1]);
  if (!(k > 0)) throw new BitPredictError('ERR_VALIDATION', `periodsPerYear: interval '${interval}' must be positive`);
  const minutes = { m: 1, h: 60, d: 1440, w: 10080 }[m[2] as 'm' | 'h' | 'd' | 'w'] * k;
  return (365 * 1440) / minutes;
}

export interface TradingOptions {
  /** go long when pred > threshold (default 0) */
  threshold?: number;
  /** cost per side in basis points of notional per unit of position change: fee + slippage (default: DEFAULT_COSTS of ./costs.ts, 10 + 5) */
  feeBps?: number;
  /** 'long-flat' (default) or 'long-short' (short when pred < -threshold) */
  mode?: 'long-flat' | 'long-short';
  /** periods per year for the Sharpe ratio (default 8760 = hourly) */
  periodsPerYear?: number;
}

export interface TradingSummary {
  mode: 'long-flat' | 'long-short' | 'buy-and-hold';
  n: number;
  feeBps: number;
  threshold: number;
  /** sum of per-period strategy log returns after fees */
  cumLogReturn: number;
  /** exp(cumLogReturn) - 1 */
  totalReturn: number;
  /** mean/sd (sample sd, n-1) of per-period log returns * sqrt(periodsPerYear); null if sd = 0 or n < 2 */
  sharpe: number | null;
  /** largest peak-to-trough fall of the equity curve exp(cumsum), as a positive fraction (0.2 = -20%) */
  maxDrawdown: number;
  /** number of position changes (entering, leaving, or flipping counts one each) */
  trades: number;
  /** share of periods with a non-zero position */
  exposure: number;
  /** sum of fees paid, in log-return units */
  feesLog: number;
}

export interface TradingRun {
  summary: TradingSummary;
  /** per-period strategy log returns after fees */
  logReturns: Float64Array;
  /** positions held over each period (-1, 0, 1) */
  positions: Int8Array;
}

/** Equity curve exp(cumulative log return), starting after the first period (initial equity 1). */
export function equityCurve(logReturns: NumArray): Float64Array {
  const out = new Float64Array(logReturns.length);
  let c = 0;
  for (let i = 0; i < logReturns.length; i++) {
    c += logReturns[i]!;
    out[i] = Math.exp(c);
  }
  return out;
}

/** Window of the reports' rolling directional accuracy for n forecasts: a quarter, 2 to 168. */
export function rollingWindowFor(n: number): number {
  return Math.min(168, Math.max(2, Math.floor(n / 4)));
}

/**
 * Share of right directions ((pred > 0) === (actual > 0)) over the last `win` forecasts at each
 * index; NaN until the window fills.
 */
export function rollingDirectionalAccuracy(pred: NumArray, actual: NumArray, win: number): Float64Array {
  const n = actual.length;
  const out = new Float64Array(n).fill(NaN);
  let hits = 0;
  const hit = (i: number): number => (pred[i]! > 0 === actual[i]! > 0 ? 1 : 0);
  for (let i = 0; i < n; i++) {
    hits += hit(i);
    if (i >= win) hits -= hit(i - win);
    if (i >= win - 1) out[i] = hits / win;
  }
  return out;
}

/** Drawdown series 1 - E_t / max(1, max_{s<=t} E_s), as positive fractions. */
export function drawdownCurve(logReturns: NumArray): Float64Array {
  const eq = equityCurve(logReturns);
  const out = new Float64Array(eq.length);
  let peak = 1;
  for (let i = 0; i < eq.length; i++) {
    if (eq[i]! > peak) peak = eq[i]!;
    out[i] = 1 - eq[i]! / peak;
  }
  return out;
}

function summarise(
  mode: TradingSummary['mode'],
  r: Float64Array,
  pos: Int8Array,
  feeBps: number,
  threshold: number,
  ppy: number,
  feesLog: number,
): TradingSummary {
  const n = r.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += r[i]!;
  let sharpe: number | null = null;
  if (n >= 2) {
    const mean = sum / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (r[i]! - mean) ** 2;
    const sd = Math.sqrt(ss / (n - 1));
    if (sd > 0) sharpe = (mean / sd) * Math.sqrt(ppy);
  }
  let trades = 0;
  let exposed = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    if (pos[i] !== prev) trades++;
    if (pos[i] !== 0) exposed++;
    prev = pos[i]!;
  }
  const dd = drawdownCurve(r);
  let maxDd = 0;
  for (let i = 0; i < n; i++) if (dd[i]! > maxDd) maxDd = dd[i]!;
  return {
    mode,
    n,
    feeBps,
    threshold,
    cumLogReturn: sum,
    totalReturn: Math.expm1(sum),
    sharpe,
    maxDrawdown: maxDd,
    trades,
    exposure: n === 0 ? 0 : exposed / n,
    feesLog,
  };
}

function runPositions(mode: TradingSummary['mode'], pos: Int8Array, actual: NumArray, feeBps: number, threshold: number, ppy: number): TradingRun {
  if (!(feeBps >= 0) || !Number.isFinite(feeBps)) throw new BitPredictError('ERR_VALIDATION', `trading: feeBps=${feeBps} must be a finite number >= 0`);
  if (feeBps >= 10_000) throw new BitPredictError('ERR_VALIDATION', `trading: feeBps=${feeBps} must be below 10000`);
  if (!(ppy > 0)) throw new BitPredictError('ERR_VALIDATION', `trading: periodsPerYear=${ppy} must be > 0`);
  // A fee f per side costs ln(1 - f) in log return per unit of position change.
  const feeLogPerUnit = -Math.log1p(-feeBps / 10_000);
  const n = actual.length;
  const r = new Float64Array(n);
  let prev = 0;
  let feesLog = 0;
  for (let i = 0; i < n; i++) {
    const p = pos[i]!;
    const cost = Math.abs(p - prev) * feeLogPerUnit;
    feesLog += cost;
    r[i] = p * actual[i]! - cost;
    prev = p;
  }
  return { summary: summarise(mode, r, pos, feeBps, threshold, ppy, feesLog), logReturns: r, positions: pos };
}

/**
 * Rule: at window time t, hold position pos_t over (t, t+1]: long (1) when pred_t > threshold, else
 * flat (0); in long-short mode short (-1) when pred_t < -threshold. Start flat; the position is left
 * open at the end (no closing fee). Per-period log return r_t = pos_t * actual_t - |pos_t - pos_{t-1}| * (-ln(1 - fee)).
 * Note: the short side uses pos * log return, an approximation of a short's simple return.
 */
export function simulateTrading(pred: NumArray, actual: NumArray, options: TradingOptions = {}): TradingRun {
  checkAligned(pred, actual, 'simulateTrading');
  const threshold = options.threshold ?? 0;
  const feeBps = options.feeBps ?? costBpsPerSide(DEFAULT_COSTS);
  const mode = options.mode ?? 'long-flat';
  const n = actual.length;
  const pos = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const p = pred[i]!;
    pos[i] = p > threshold ? 1 : mode === 'long-short' && p < -threshold ? -1 : 0;
  }
  return runPositions(mode, pos, actual, feeBps, threshold, options.periodsPerYear ?? 8760);
}

/** Buy at the start (one fee), hold to the end. */
export function buyAndHold(actual: NumArray, options: Pick<TradingOptions, 'feeBps' | 'periodsPerYear'> = {}): TradingRun {
  for (let i = 0; i < actual.length; i++) {
    if (!Number.isFinite(actual[i]!)) throw new BitPredictError('ERR_VALIDATION', `buyAndHold: non-finite actual at index ${i}`);
  }
  const pos = new Int8Array(actual.length).fill(1);
  return runPositions('buy-and-hold', pos, actual, options.feeBps ?? costBpsPerSide(DEFAULT_COSTS), 0, options.periodsPerYear ?? 8760);
}

// ---------------------------------------------------------------------------------------------
// All metrics of one forecast
// ---------------------------------------------------------------------------------------------

export interface ForecastInput {
  name: string;
  pred: NumArray;
  probUp?: NumArray;
}

export interface ModelMetrics {
  name: string;
  regression: RegressionMetrics;
  /** direction of pred (pred > 0 = up) */
  direction: DirectionalAccuracy;
  /** direction of probUp (> 0.5 = up), when the forecast has one */
  directionFromProb: DirectionalAccuracy | null;
  probability: ProbabilityMetrics | null;
  /** DM vs persistence (zero forecast), squared-error loss, h = 1 */
  dmVsPersistence: DieboldMarianoResult;
  trading: TradingSummary;
}

/** Every metric for one forecast vs the actuals. */
export function evaluateForecast(f: ForecastInput, actual: NumArray, trading: TradingOptions = {}): ModelMetrics {
  return {
    name: f.name,
    regression: regressionMetrics(f.pred, actual),
    direction: directionalAccuracy(f.pred, actual),
    directionFromProb: f.probUp === undefined ? null : directionalAccuracy(f.pred, actual, f.probUp),
    probability: f.probUp === undefined ? null : probabilityMetrics(f.probUp, actual),
    dmVsPersistence: dieboldMariano(f.pred, actual),
    trading: simulateTrading(f.pred, actual, trading).summary,
  };
}
