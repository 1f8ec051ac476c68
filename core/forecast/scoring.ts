// Proper scoring rules for forecast distributions of a log return: pinball loss over the quantile
// grid, QLIKE of the scale, Brier score and log loss of P(up), the PIT value, interval coverage,
// and a summary over a run of forecasts in which missing outcomes (gaps) are counted, never scored
// as zero. Pure code: no I/O.
import { BitPredictError } from '../errors.js';
import { INTERVAL_LEVELS, QUANTILE_LEVELS, distributionProblem, shapeCdf, type ForecastDistribution, type Shape } from './distribution.js';

function checkOutcome(y: number): void {
  if (!Number.isFinite(y)) throw new BitPredictError('ERR_VALIDATION', `outcome ${y} is not a finite number`);
}

/**
 * Mean over the grid of the pinball (quantile) loss: for level p and quantile q,
 * L = (y - q) * (p - 1[y < q]); twice its mean over a fine grid approximates the CRPS.
 */
export function pinballLoss(quantiles: readonly number[], y: number, levels: readonly number[] = QUANTILE_LEVELS): number {
  checkOutcome(y);
  if (quantiles.length !== levels.length || levels.length === 0)
    throw new BitPredictError('ERR_VALIDATION', `pinball loss needs one quantile per level: ${quantiles.length} quantiles, ${levels.length} levels`);
  let s = 0;
  for (let i = 0; i < levels.length; i++) {
    const u = y - quantiles[i]!;
    s += u >= 0 ? levels[i]! * u : (levels[i]! - 1) * u;
  }
  if (!Number.isFinite(s)) throw new BitPredictError('ERR_VALIDATION', 'pinball loss of a non-finite quantile');
  return s / levels.length;
}

/** Index of level p on the grid (to 1e-9), or -1. */
function levelIndex(levels: readonly number[], p: number): number {
  for (let i = 0; i < levels.length; i++) if (Math.abs(levels[i]! - p) < 1e-9) return i;
  return -1;
}

/** Central interval of the given level from the quantile grid: 0.5 -> q25..q75, 0.8 -> q10..q90, 0.9 -> q05..q95. */
export function intervalOf(quantiles: readonly number[], level: number, levels: readonly number[] = QUANTILE_LEVELS): { lo: number; hi: number } {
  const i = levelIndex(levels, (1 - level) / 2);
  const j = levelIndex(levels, (1 + level) / 2);
  if (!(level > 0 && level < 1) || i < 0 || j < 0 || quantiles.length !== levels.length)
    throw new BitPredictError('ERR_VALIDATION', `no central ${level} interval on the quantile grid [${levels.join(', ')}]`);
  return { lo: quantiles[i]!, hi: quantiles[j]! };
}

/**
 * QLIKE loss of a scale forecast against the realised return y: with h = scale^2,
 * L = ln(h) + y^2 / h. It is finite at y = 0 (unlike the log of a realised proxy), robust to the
 * noise of the y^2 proxy (Patton 2011), and its expectation is minimised at h = E[y^2]. Since the
 * scale forecasts E|y| rather than sqrt(E[y^2]), a perfectly calibrated scale is not the minimiser:
 * with E[y^2] = kappa * scale^2 its expected loss is ln(scale^2) + kappa. Compare forecasters on
 * QLIKE as a ranking of how well their scales track the variance; the level itself is not a skill.
 */
export function qlike(scale: number, y: number): number {
  checkOutcome(y);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new BitPredictError('ERR_VALIDATION', `QLIKE needs a positive finite scale, got ${scale}`);
  const h = scale * scale;
  return Math.log(h) + (y * y) / h;
}

function checkProb(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new BitPredictError('ERR_VALIDATION', `probability ${p} is not in [0, 1]`);
}

/** Brier score (p - 1[up])^2 of P(up). */
export function brier(probUp: number, up: boolean): number {
  checkProb(probUp);
  const o = up ? 1 : 0;
  return (probUp - o) * (probUp - o);
}

/** Log loss -ln P(observed direction), with P clamped to [eps, 1 - eps] so a certain miss is finite. */
export function logLoss(probUp: number, up: boolean, eps = 1e-6): number {
  checkProb(probUp);
  const p = Math.min(1 - eps, Math.max(eps, probUp));
  return -Math.log(up ? p : 1 - p);
}

/** Probability integral transform of y under mean + scale * z with z ~ shape: uniform if calibrated. */
export function pitValue(d: { mean: number; scale: number }, shape: Shape, y: number): number {
  checkOutcome(y);
  if (!(d.scale > 0) || !Number.isFinite(d.scale) || !Number.isFinite(d.mean))
    throw new BitPredictError('ERR_VALIDATION', `PIT needs a finite mean and a positive scale, got mean=${d.mean}, scale=${d.scale}`);
  return shapeCdf(shape, (y - d.mean) / d.scale);
}

export interface ScoreSummary {
  /** Scored forecasts (outcome known). */
  n: number;
  /** Forecasts whose outcome is missing (a gap): counted, not scored. */
  missing: number;
  pinball: number | null;
  qlike: number | null;
  /** Mean squared error of the scale against the realised |y|. */
  mse: number | null;
  brier: number | null;
  logLoss: number | null;
  /** Per INTERVAL_LEVELS: share of outcomes inside the central interval, and its mean width (empty when n = 0). */
  coverage: { level: number; coverage: number; meanWidth: number }[];
}

/**
 * Scores a run of forecasts against outcomes. y = null means the outcome is missing (the realised
 * candle never arrived): it counts in `missing` and in nothing else. Direction: up means y > 0,
 * matching probUp = P(r > 0). An invalid distribution is refused (ERR_FORECAST_INVALID).
 */
export function summarise(items: readonly { d: ForecastDistribution; y: number | null }[]): ScoreSummary {
  let n = 0;
  let missing = 0;
  let pin = 0;
  let ql = 0;
  let se = 0;
  let br = 0;
  let ll = 0;
  const inside = INTERVAL_LEVELS.map(() => 0);
  const width = INTERVAL_LEVELS.map(() => 0);
  for (const { d, y } of items) {
    const problem = distributionProblem(d);
    if (problem !== null) throw new BitPredictError('ERR_FORECAST_INVALID', `cannot score forecast: ${problem}`);
    if (y === null) {
      missing++;
      continue;
    }
    checkOutcome(y);
    n++;
    pin += pinballLoss(d.quantiles, y);
    ql += qlike(d.scale, y);
    const e = Math.abs(y) - d.scale;
    se += e * e;
    br += brier(d.probUp, y > 0);
    ll += logLoss(d.probUp, y > 0);
    for (let k = 0; k < INTERVAL_LEVELS.length; k++) {
      const { lo, hi } = intervalOf(d.quantiles, INTERVAL_LEVELS[k]!);
      if (y >= lo && y <= hi) inside[k]!++;
      width[k]! += hi - lo;
    }
  }
  const mean = (s: number): number | null => (n > 0 ? s / n : null);
  return {
    n,
    missing,
    pinball: mean(pin),
    qlike: mean(ql),
    mse: mean(se),
    brier: mean(br),
    logLoss: mean(ll),
    coverage: n > 0 ? INTERVAL_LEVELS.map((level, k) => ({ level, coverage: inside[k]! / n, meanWidth: width[k]! / n })) : [],
  };
}
