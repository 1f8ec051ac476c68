// Naive and simple baselines that every model is reported beside. Pure.
// - persistence: next log return forecast 0 (price unchanged).
// - EMA drift: EMA of the realised log returns known at t (strictly earlier windows' targets).
// - linear: ridge regression of the next return on the last step's features (closed form).
// - logistic: L2-regularised logistic regression of the direction on the same features (IRLS,
//   deterministic), giving probUp.
// Fit the linear/logistic models on training rows only; the caller slices the rows.
import { BitPredictError } from '../../core/errors.js';

type NumArray = ArrayLike<number>;

/** The part of a WindowSet (core/models/domain/dataset.ts) the baselines read. */
export interface WindowRows {
  T: number;
  F: number;
  n: number;
  X: Float32Array;
}

/** Persistence: a zero log return for each of n rows. */
export function persistenceForecast(n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) throw new BitPredictError('ERR_VALIDATION', `persistenceForecast: n=${n} must be an integer >= 0`);
  return new Float64Array(n);
}

export interface EmaDriftOptions {
  /** EMA span; alpha = 2 / (span + 1). Default 24. */
  span?: number;
}

/**
 * EMA drift forecast. pred[i] = EMA of yReturn[0..i-1] (returns realised at or before eventTimes[i],
 * since yReturn[j] is realised at eventTimes[j] + one interval <= eventTimes[i]). pred[0] = 0. The EMA
 * is seeded with the first return and updated e <- e + alpha (r - e). Being causal, it can be run over
 * the whole series and sliced to any test range without leakage. eventTimes must strictly increase.
 */
export function emaDriftForecast(yReturn: NumArray, eventTimes: NumArray, options: EmaDriftOptions = {}): Float64Array {
  const span = options.span ?? 24;
  if (!(span >= 1) || !Number.isFinite(span)) throw new BitPredictError('ERR_VALIDATION', `emaDriftForecast: span=${span} must be >= 1`);
  if (yReturn.length !== eventTimes.length) {
    throw new BitPredictError('ERR_VALIDATION', `emaDriftForecast: yReturn (${yReturn.length}) and eventTimes (${eventTimes.length}) lengths differ`);
  }
  const alpha = 2 / (span + 1);
  const n = yReturn.length;
  const out = new Float64Array(n);
  let ema: number | null = null;
  for (let i = 0; i < n; i++) {
    if (i > 0 && !(eventTimes[i]! > eventTimes[i - 1]!)) {
      throw new BitPredictError(
        'ERR_VALIDATION',
        `emaDriftForecast: eventTimes must strictly increase (index ${i}: ${eventTimes[i]} after ${eventTimes[i - 1]})`,
      );
    }
    out[i] = ema ?? 0;
    const r = yReturn[i]!;
    if (!Number.isFinite(r)) throw new BitPredictError('ERR_VALIDATION', `emaDriftForecast: yReturn[${i}]=${r} is not finite`);
    ema = ema === null ? r : ema + alpha * (r - ema);
  }
  return out;
}

/** Feature row of the last step of each window (row-major [window][step][feature]). */
export function lastStepRows(ws: WindowRows): Float64Array[] {
  if (ws.X.length !== ws.n * ws.T * ws.F) {
    throw new BitPredictError('ERR_VALIDATION', `lastStepRows: X has ${ws.X.length} values, expected n*T*F = ${ws.n * ws.T * ws.F}`);
  }
  const rows: Float64Array[] = [];
  for (let i = 0; i < ws.n; i++) {
    const off = (i * ws.T + ws.T - 1) * ws.F;
    rows.push(Float64Array.from(ws.X.subarray(off, off + ws.F)));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Linear algebra (small dense SPD systems)
// ---------------------------------------------------------------------------------------------

/** Solve A x = b for symmetric positive-definite A (p x p, row-major) by Cholesky. Throws if not SPD. */
export function solveSpd(A: Float64Array, b: Float64Array, p: number, what: string): Float64Array {
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * p + j]!;
      for (let k = 0; k < j; k++) s -= L[i * p + k]! * L[j * p + k]!;
      if (i === j) {
        if (!(s > 1e-300)) {
          throw new BitPredictError('ERR_VALIDATION', `${what}: the normal matrix is singular (collinear or constant features); use lambda > 0`);
        }
        L[i * p + i] = Math.sqrt(s);
      } else {
        L[i * p + j] = s / L[j * p + j]!;
      }
    }
  }
  const y = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * p + k]! * y[k]!;
    y[i] = s / L[i * p + i]!;
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < p; k++) s -= L[k * p + i]! * x[k]!;
    x[i] = s / L[i * p + i]!;
  }
  return x;
}

function checkDesign(X: readonly NumArray[], y: NumArray, what: string): number {
  if (X.length === 0) throw new BitPredictError('ERR_VALIDATION', `${what}: no training rows`);
  if (X.length !== y.length) throw new BitPredictError('ERR_VALIDATION', `${what}: X has ${X.length} rows but y has ${y.length}`);
  const p = X[0]!.length;
  if (p === 0) throw new BitPredictError('ERR_VALIDATION', `${what}: rows have no features`);
  for (let i = 0; i < X.length; i++) {
    const row = X[i]!;
    if (row.length !== p) throw new BitPredictError('ERR_VALIDATION', `${what}: row ${i} has ${row.length} features, expected ${p}`);
    for (let j = 0; j < p; j++) {
      if (!Number.isFinite(row[j]!)) throw new BitPredictError('ERR_VALIDATION', `${what}: X[${i}][${j}]=${row[j]} is not finite`);
    }
    if (!Number.isFinite(y[i]!)) throw new BitPredictError('ERR_VALIDATION', `${what}: y[${i}]=${y[i]} is not finite`);
  }
  return p;
}

function checkLambda(lambda: number, what: string): void {
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new BitPredictError('ERR_VALIDATION', `${what}: lambda=${lambda} must be a finite number >= 0`);
}

// ---------------------------------------------------------------------------------------------
// Ridge regression
// ---------------------------------------------------------------------------------------------

export interface LinearModel {
  kind: 'ridge';
  lambda: number;
  intercept: number;
  weights: number[];
}

/**
 * Ridge regression minimising (1/n) sum (y - b - x.w)^2 + lambda |w|^2 (intercept b not penalised),
 * solved in closed form on centred data: (Xc'Xc/n + lambda I) w = Xc'yc/n, b = ybar - xbar.w.
 */
export function fitLinear(X: readonly NumArray[], y: NumArray, lambda = 1e-3): LinearModel {
  const p = checkDesign(X, y, 'fitLinear');
  checkLambda(lambda, 'fitLinear');
  const n = X.length;
  const xbar = new Float64Array(p);
  let ybar = 0;
  for (let i = 0; i < n; i++) {
    const row = X[i]!;
    for (let j = 0; j < p; j++) xbar[j]! += row[j]!;
    ybar += y[i]!;
  }
  for (let j = 0; j < p; j++) xbar[j]! /= n;
  ybar /= n;
  const A = new Float64Array(p * p);
  const b = new Float64Array(p);
  const xc = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const row = X[i]!;
    for (let j = 0; j < p; j++) xc[j] = row[j]! - xbar[j]!;
    const yc = y[i]! - ybar;
    for (let j = 0; j < p; j++) {
      b[j]! += xc[j]! * yc;
      for (let k = 0; k <= j; k++) A[j * p + k]! += xc[j]! * xc[k]!;
    }
  }
  for (let j = 0; j < p; j++) {
    b[j]! /= n;
    for (let k = 0; k <= j; k++) {
      A[j * p + k]! /= n;
      A[k * p + j] = A[j * p + k]!;
    }
    A[j * p + j]! += lambda;
  }
  const w = solveSpd(A, b, p, 'fitLinear');
  let intercept = ybar;
  for (let j = 0; j < p; j++) intercept -= xbar[j]! * w[j]!;
  return { kind: 'ridge', lambda, intercept, weights: Array.from(w) };
}

function dot(w: readonly number[], row: NumArray, what: string): number {
  if (row.length !== w.length) throw new BitPredictError('ERR_VALIDATION', `${what}: row has ${row.length} features, model expects ${w.length}`);
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * row[j]!;
  return s;
}

export function predictLinear(model: LinearModel, X: readonly NumArray[]): Float64Array {
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = model.intercept + dot(model.weights, X[i]!, 'predictLinear');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Logistic regression (IRLS / Newton)
// ---------------------------------------------------------------------------------------------

export interface LogisticModel {
  kind: 'logistic';
  lambda: number;
  intercept: number;
  weights: number[];
  iterations: number;
  converged: boolean;
}

export interface LogisticOptions {
  /** L2 penalty on the weights (not the intercept) of the mean log-loss. Default 1e-3. */
  lambda?: number;
  maxIter?: number;
  /** stop when the largest Newton step is below this. Default 1e-10. */
  tol?: number;
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/**
 * Logistic regression of y in {0,1} (any y > 0 counts as 1, so a return vector may be passed)
 * minimising (1/n) sum logloss + (lambda/2) |w|^2 by Newton/IRLS from zero weights; deterministic.
 */
export function fitLogistic(X: readonly NumArray[], y: NumArray, options: LogisticOptions = {}): LogisticModel {
  const p = checkDesign(X, y, 'fitLogistic');
  const lambda = options.lambda ?? 1e-3;
  checkLambda(lambda, 'fitLogistic');
  const maxIter = options.maxIter ?? 100;
  const tol = options.tol ?? 1e-10;
  const n = X.length;
  const q = p + 1; // index 0 = intercept
  const beta = new Float64Array(q);
  const x = new Float64Array(q);
  let iterations = 0;
  let converged = false;
  for (let it = 0; it < maxIter; it++) {
    iterations = it + 1;
    const H = new Float64Array(q * q);
    const g = new Float64Array(q);
    for (let i = 0; i < n; i++) {
      const row = X[i]!;
      x[0] = 1;
      for (let j = 0; j < p; j++) x[j + 1] = row[j]!;
      let z = 0;
      for (let j = 0; j < q; j++) z += beta[j]! * x[j]!;
      const mu = sigmoid(z);
      const yi = y[i]! > 0 ? 1 : 0;
      const wgt = Math.max(mu * (1 - mu), 1e-12);
      for (let j = 0; j < q; j++) {
        g[j]! += (mu - yi) * x[j]!;
        for (let k = 0; k <= j; k++) H[j * q + k]! += wgt * x[j]! * x[k]!;
      }
    }
    for (let j = 0; j < q; j++) {
      g[j]! /= n;
      for (let k = 0; k <= j; k++) {
        H[j * q + k]! /= n;
        H[k * q + j] = H[j * q + k]!;
      }
      if (j > 0) {
        g[j]! += lambda * beta[j]!;
        H[j * q + j]! += lambda;
      }
    }
    const step = solveSpd(H, g, q, 'fitLogistic');
    let maxStep = 0;
    for (let j = 0; j < q; j++) {
      beta[j]! -= step[j]!;
      maxStep = Math.max(maxStep, Math.abs(step[j]!));
    }
    if (!Number.isFinite(maxStep)) throw new BitPredictError('ERR_VALIDATION', 'fitLogistic: diverged (separable data?); use a larger lambda');
    if (maxStep < tol) {
      converged = true;
      break;
    }
  }
  return { kind: 'logistic', lambda, intercept: beta[0]!, weights: Array.from(beta.subarray(1)), iterations, converged };
}

/** P(up) for each row. */
export function predictLogistic(model: LogisticModel, X: readonly NumArray[]): Float64Array {
  const out = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) out[i] = sigmoid(model.intercept + dot(model.weights, X[i]!, 'predictLogistic'));
  return out;
}
