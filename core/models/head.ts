// The distributional head of the LSTM-attention model, as pure numbers (no tfjs, no I/O): what the
// network's output layer means, how it becomes one ForecastDistribution per horizon, and the
// `forecast` block an artifact carries so that research and live turn outputs into the same
// distributions.
//
// Output layer `forecast`: Dense(2H, linear) = [mu_1..mu_H, raw_1..raw_H] for the H horizons.
// Per horizon h the network models y_h = ln(close(t+h)/close(t)) / targetScale_h as Student-t with
// nu = dof degrees of freedom, location mu_h and scale sigma_h = softplus(raw_h) + 1e-6.
// targetScale_h is the root mean square of y_h over the training labels (saved in the artifact):
// hourly log returns are ~1e-2 at h=1 and ~5e-2 at h=24, so dividing by it gives the network O(1)
// targets at every horizon. The served distribution is location-scale (core/forecast/distribution):
//   mean  = mu_h * targetScale_h
//   scale = sigma_h * targetScale_h * E|T_nu|   (the forecast of E|r - mean| under the t)
//   shape = empirical quantiles of z = (y - mean) / scale on the validation windows,
// so the quantiles are calibrated on held-out data even where the t is the wrong family.
import { BitPredictError } from '../errors.js';
import { lnGamma } from '../forecast/stats.js';
import {
  QUANTILE_LEVELS,
  distributionProblem,
  empiricalShape,
  gaussianShape,
  locationScale,
  shapeProblem,
  type ForecastDistribution,
  type Shape,
} from '../forecast/distribution.js';

/** Degrees of freedom of the Student-t likelihood the head is trained with. */
export const STUDENT_T_DOF = 5;
/** Floor added to softplus(raw) so a scale is never 0. */
export const SIGMA_FLOOR = 1e-6;
/** Name of the output layer. */
export const HEAD_LAYER = 'forecast';

/** The head's description saved in an artifact's meta.json (`forecast`). */
export interface ForecastBlock {
  /** Horizons in steps of the series' interval, ascending; output units = 2 * horizons.length. */
  horizons: number[];
  /** The published quantile grid the shapes serve (QUANTILE_LEVELS). */
  quantileLevels: number[];
  /** Student-t degrees of freedom of the likelihood. */
  dof: number;
  /** Per horizon: the network sees log returns divided by this (RMS of the training labels). */
  targetScales: number[];
  /** Per horizon: the standardised shape of the residuals on the calibration windows. */
  shapes: Shape[];
}

/** Raw head outputs of n windows, per horizon, in units of the standardised target. */
export interface HeadOutput {
  /** n*H, [window][horizon]. */
  mu: Float64Array;
  /** n*H, > 0. */
  sigma: Float64Array;
}

/** E|T| of a standard Student-t with nu > 1 degrees of freedom (0.9490 for nu = 5). */
export function studentTMeanAbs(nu: number): number {
  if (!(nu > 1) || !Number.isFinite(nu)) throw new BitPredictError('ERR_FORECAST_INVALID', `Student-t dof ${nu} must be a finite number > 1 (E|T| exists)`);
  return Math.exp(Math.log(2 * Math.sqrt(nu)) + lnGamma((nu + 1) / 2) - 0.5 * Math.log(Math.PI) - Math.log(nu - 1) - lnGamma(nu / 2));
}

/** The constant part of the Student-t negative log-likelihood: lnG(nu/2) - lnG((nu+1)/2) + ln(nu pi)/2. */
export function studentTNllConstant(nu: number): number {
  return lnGamma(nu / 2) - lnGamma((nu + 1) / 2) + 0.5 * Math.log(nu * Math.PI);
}

/** Negative log-likelihood of y under Student-t(nu, mu, sigma). */
export function studentTNll(y: number, mu: number, sigma: number, nu: number): number {
  const z = (y - mu) / sigma;
  return studentTNllConstant(nu) + Math.log(sigma) + ((nu + 1) / 2) * Math.log1p((z * z) / nu);
}

/** softplus(x) + SIGMA_FLOOR, computed without overflow: the one function both forward paths use. */
export function headSigma(raw: number): number {
  return Math.max(raw, 0) + Math.log1p(Math.exp(-Math.abs(raw))) + SIGMA_FLOOR;
}

/** Pinball (quantile) loss of y against quantiles q at levels, averaged over the levels. */
export function pinballLoss(y: number, q: readonly number[], levels: readonly number[] = QUANTILE_LEVELS): number {
  let s = 0;
  for (let i = 0; i < levels.length; i++) {
    const u = y - q[i]!;
    s += u * (levels[i]! - (u < 0 ? 1 : 0));
  }
  return s / levels.length;
}

/**
 * Per horizon, the root mean square of the finite labels in y (n*H, NaN = missing). Refuses a
 * horizon with no label or only zeros: the head could not be scaled for it.
 */
export function targetScalesOf(y: Float32Array | Float64Array, n: number, horizons: readonly number[]): number[] {
  const H = horizons.length;
  return horizons.map((h, k) => {
    let s = 0;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const v = y[i * H + k]!;
      if (Number.isFinite(v)) {
        s += v * v;
        m++;
      }
    }
    const rms = Math.sqrt(s / m);
    if (m === 0 || !(rms > 0))
      throw new BitPredictError('ERR_VALIDATION', `horizon ${h}: ${m} training labels${m > 0 ? ', all zero' : ''}; cannot scale the forecast head`);
    return rms;
  });
}

const meanAbsCache = new Map<number, number>();
function meanAbs(dof: number): number {
  let v = meanAbsCache.get(dof);
  if (v === undefined) {
    v = studentTMeanAbs(dof);
    meanAbsCache.set(dof, v);
  }
  return v;
}

/** mean and scale (E|r - mean|) of horizon k from raw head outputs at index i. */
function meanScale(block: Pick<ForecastBlock, 'dof' | 'targetScales'>, k: number, mu: number, sigma: number): [number, number] {
  const s = block.targetScales[k]!;
  return [mu * s, sigma * s * meanAbs(block.dof)];
}

/**
 * The standardised residual shapes of a trained head, one per horizon, from its outputs on
 * calibration windows (the validation range) and their labels y (n*H log returns, NaN = missing).
 */
export function calibrateShapes(
  block: Pick<ForecastBlock, 'horizons' | 'dof' | 'targetScales'>,
  out: HeadOutput,
  y: Float32Array | Float64Array,
  n: number,
): Shape[] {
  const H = block.horizons.length;
  return block.horizons.map((h, k) => {
    const z: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = y[i * H + k]!;
      if (!Number.isFinite(v)) continue;
      const [mean, scale] = meanScale(block, k, out.mu[i * H + k]!, out.sigma[i * H + k]!);
      z.push((v - mean) / scale);
    }
    try {
      return empiricalShape(z);
    } catch (err) {
      throw new BitPredictError('ERR_VALIDATION', `horizon ${h}: cannot calibrate the forecast shape (${err instanceof Error ? err.message : String(err)})`, {
        cause: err,
      });
    }
  });
}

/**
 * The distributions (one per horizon) of window i's head outputs. Each is checked with
 * distributionProblem; an invalid one (NaN input, a scale that underflowed, crossing quantiles)
 * throws ERR_FORECAST_INVALID naming the horizon, so no caller publishes it.
 */
export function distributionsOf(block: ForecastBlock, mu: ArrayLike<number>, sigma: ArrayLike<number>, i = 0): ForecastDistribution[] {
  const H = block.horizons.length;
  const out: ForecastDistribution[] = new Array<ForecastDistribution>(H);
  for (let k = 0; k < H; k++) {
    const [mean, scale] = meanScale(block, k, mu[i * H + k]!, sigma[i * H + k]!);
    const d = locationScale(mean, scale, block.shapes[k]!);
    const problem = distributionProblem(d, block.quantileLevels);
    if (problem !== null) throw new BitPredictError('ERR_FORECAST_INVALID', `horizon ${block.horizons[k]!}: ${problem}`);
    out[k] = d;
  }
  return out;
}

/**
 * Why a forecast block is not servable (null when it is). `outputUnits`, when given, is the size of
 * the model's output layer, which must be 2 per horizon.
 */
export function forecastBlockProblem(b: unknown, outputUnits?: number): string | null {
  if (b === undefined || b === null)
    return 'the artifact has no forecast block: it is an old point-forecast model; retrain it (bitpredict train) to get the distributional head';
  if (typeof b !== 'object' || Array.isArray(b)) return 'forecast must be an object';
  const o = b as Record<string, unknown>;
  const hs = o.horizons;
  if (
    !Array.isArray(hs) ||
    hs.length === 0 ||
    !hs.every((h, i) => Number.isSafeInteger(h) && (h as number) >= 1 && (i === 0 || (h as number) > (hs[i - 1] as number)))
  )
    return `forecast.horizons must be ascending positive integers, got ${JSON.stringify(hs)}`;
  const H = hs.length;
  const ql = o.quantileLevels;
  if (!Array.isArray(ql) || ql.length !== QUANTILE_LEVELS.length || ql.some((p, i) => p !== QUANTILE_LEVELS[i]))
    return `forecast.quantileLevels ${JSON.stringify(ql)} are not the published grid ${JSON.stringify(QUANTILE_LEVELS)}`;
  if (typeof o.dof !== 'number' || !(o.dof > 1) || !Number.isFinite(o.dof)) return `forecast.dof must be a finite number > 1, got ${JSON.stringify(o.dof)}`;
  const ts = o.targetScales;
  if (!Array.isArray(ts) || ts.length !== H) return `forecast.targetScales must have one value per horizon (${H}), got ${JSON.stringify(ts)}`;
  for (let k = 0; k < H; k++) {
    const s = ts[k] as unknown;
    if (typeof s !== 'number' || !Number.isFinite(s) || !(s > 0))
      return `forecast.targetScales[${k}] (horizon ${String(hs[k])}) is ${JSON.stringify(s)}, not a finite number > 0`;
  }
  const shapes = o.shapes;
  if (!Array.isArray(shapes) || shapes.length !== H)
    return `forecast.shapes must have one shape per horizon (${H}), got ${Array.isArray(shapes) ? shapes.length : typeof shapes}`;
  for (let k = 0; k < H; k++) {
    const s = shapes[k] as Shape | null;
    const p = typeof s === 'object' && s !== null ? shapeProblem(s) : 'not an object';
    if (p !== null) return `forecast.shapes[${k}] (horizon ${String(hs[k])}): ${p}`;
  }
  if (outputUnits !== undefined && outputUnits !== 2 * H)
    return `the model's output layer has ${outputUnits} units, but forecast.horizons ${JSON.stringify(hs)} need ${2 * H} (mean and scale per horizon)`;
  return null;
}

/** Throws ERR_FORECAST_INVALID when the block is not servable; returns it typed. */
export function parseForecastBlock(b: unknown, outputUnits?: number, where = 'meta.json'): ForecastBlock {
  const problem = forecastBlockProblem(b, outputUnits);
  if (problem !== null) throw new BitPredictError('ERR_FORECAST_INVALID', `${where}: ${problem}`, { details: { file: where } });
  return b as ForecastBlock;
}

/**
 * A block with Gaussian shapes and the given scales, for tests and benches that build untrained
 * models. A real artifact's shapes come from its validation residuals (calibrateShapes).
 */
export function gaussianForecastBlock(horizons: readonly number[], targetScales: readonly number[] = horizons.map((h) => 0.01 * Math.sqrt(h))): ForecastBlock {
  return {
    horizons: [...horizons],
    quantileLevels: [...QUANTILE_LEVELS],
    dof: STUDENT_T_DOF,
    targetScales: [...targetScales],
    shapes: horizons.map(() => gaussianShape()),
  };
}
