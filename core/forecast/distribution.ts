// The forecast distribution of a log return, the contract every forecaster (the model and every
// baseline) fills, per horizon. Every forecaster is location-scale: r = mean + scale * z, where
// `scale` is the forecast of E|r - mean| (the expected absolute move) and z has an empirical
// standardised shape (quantiles of z on a fine grid) measured on the forecaster's own fit or
// validation residuals. Quantiles on the published grid and P(up) follow from (mean, scale, shape).
// Pure code: no I/O.
import { BitPredictError } from '../errors.js';

/** The quantile levels every prediction carries (the published grid). */
export const QUANTILE_LEVELS: readonly number[] = Object.freeze([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]);

/** Central interval levels scored for coverage (50, 80 and 90 %), built from the quantile grid. */
export const INTERVAL_LEVELS: readonly number[] = Object.freeze([0.5, 0.8, 0.9]);

/** Fine grid of the standardised shape: levels 0.005, 0.01, ..., 0.995 (199 points). */
export const SHAPE_LEVELS: readonly number[] = Object.freeze(Array.from({ length: 199 }, (_, i) => (i + 1) / 200));

/** One forecast distribution of the log return over one horizon. */
export interface ForecastDistribution {
  /** Forecast mean of the log return. */
  mean: number;
  /** Forecast of E|r - mean|, the expected absolute move (> 0). */
  scale: number;
  /** Quantiles at QUANTILE_LEVELS, non-decreasing. */
  quantiles: number[];
  /** P(r > 0). */
  probUp: number;
}

/** The standardised shape of z = (r - mean) / scale: its quantiles at SHAPE_LEVELS, non-decreasing. */
export interface Shape {
  z: number[];
}

/** Quantile of a sorted sample at level p (linear interpolation, type 7). */
export function sampleQuantile(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) throw new BitPredictError('ERR_VALIDATION', 'quantile of an empty sample');
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * The empirical shape of standardised residuals z (finite values only; at least 20). The result is
 * made non-decreasing and is the same for the same multiset of residuals (sorted first).
 */
export function empiricalShape(residuals: readonly number[]): Shape {
  // A typed-array sort (numeric, no comparator call per comparison) is several times faster on
  // the baselines' daily refits (12 shapes of ~4000 residuals) and orders finite numbers the same.
  const zs = Array.from(Float64Array.from(residuals.filter((v) => Number.isFinite(v))).sort());
  if (zs.length < 20) throw new BitPredictError('ERR_VALIDATION', `a forecast shape needs at least 20 finite residuals, got ${zs.length}`);
  const z = SHAPE_LEVELS.map((p) => sampleQuantile(zs, p));
  for (let i = 1; i < z.length; i++) if (z[i]! < z[i - 1]!) z[i] = z[i - 1]!;
  return { z };
}

/** A Gaussian shape with E|z| = 1 (used only where no residuals exist yet, for example in tests). */
export function gaussianShape(): Shape {
  const sigma = Math.sqrt(Math.PI / 2); // E|N(0, s^2)| = s * sqrt(2/pi) = 1
  return { z: SHAPE_LEVELS.map((p) => sigma * normalQuantile(p)) };
}

/** Quantile of the shape at level p in (0, 1): interpolated on the grid, flat beyond its ends. */
export function shapeQuantile(shape: Shape, p: number): number {
  const L = SHAPE_LEVELS;
  if (p <= L[0]!) return shape.z[0]!;
  if (p >= L[L.length - 1]!) return shape.z[L.length - 1]!;
  const x = p * 200 - 1; // index on the grid
  const i = Math.floor(x);
  const f = x - i;
  return shape.z[i]! + f * (shape.z[i + 1]! - shape.z[i]!);
}

/** P(z <= x) under the shape (interpolated; 0.005 / 0.995 mass beyond the grid's ends). */
export function shapeCdf(shape: Shape, x: number): number {
  const z = shape.z;
  const n = z.length;
  if (x < z[0]!) return 0;
  if (x >= z[n - 1]!) return 1;
  // Last index with z[i] <= x.
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (z[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const span = z[hi]! - z[lo]!;
  const f = span > 0 ? (x - z[lo]!) / span : 1;
  return SHAPE_LEVELS[lo]! + f * (SHAPE_LEVELS[hi]! - SHAPE_LEVELS[lo]!);
}

/** The distribution of mean + scale * z on the published quantile grid. */
export function locationScale(mean: number, scale: number, shape: Shape): ForecastDistribution {
  const quantiles = QUANTILE_LEVELS.map((p) => mean + scale * shapeQuantile(shape, p));
  const probUp = 1 - shapeCdf(shape, -mean / scale);
  return { mean, scale, quantiles, probUp };
}

/** Why a distribution is not valid (null when it is): crossing quantiles, bad scale, NaN. */
export function distributionProblem(d: ForecastDistribution, levels: readonly number[] = QUANTILE_LEVELS): string | null {
  if (!Number.isFinite(d.mean)) return `mean ${d.mean} is not finite`;
  if (!Number.isFinite(d.scale) || !(d.scale > 0)) return `scale ${d.scale} is not a positive finite number`;
  if (!(d.probUp >= 0 && d.probUp <= 1)) return `probUp ${d.probUp} is not in [0, 1]`;
  if (d.quantiles.length !== levels.length) return `${d.quantiles.length} quantiles for ${levels.length} levels`;
  for (let i = 0; i < d.quantiles.length; i++) {
    if (!Number.isFinite(d.quantiles[i]!)) return `quantile ${levels[i]} is ${d.quantiles[i]}`;
    if (i > 0 && d.quantiles[i]! < d.quantiles[i - 1]!) return `quantiles cross: q${levels[i - 1]}=${d.quantiles[i - 1]} > q${levels[i]}=${d.quantiles[i]}`;
  }
  return null;
}

/** Why a shape is not valid (null when it is). */
export function shapeProblem(shape: Shape): string | null {
  if (!Array.isArray(shape.z) || shape.z.length !== SHAPE_LEVELS.length) return `shape has ${shape.z?.length ?? 0} points, expected ${SHAPE_LEVELS.length}`;
  for (let i = 0; i < shape.z.length; i++) {
    if (!Number.isFinite(shape.z[i]!)) return `shape point ${i} is ${shape.z[i]}`;
    if (i > 0 && shape.z[i]! < shape.z[i - 1]!) return `shape quantiles cross at level ${SHAPE_LEVELS[i]}`;
  }
  return null;
}

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new BitPredictError('ERR_VALIDATION', `normal quantile level ${p} is not in (0, 1)`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - pl) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}
