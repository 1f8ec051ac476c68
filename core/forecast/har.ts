// HAR-RV style regression of the absolute h-step return on the recent absolute returns (last step,
// mean of the last 24 and of the last 168) and the hour of day of the target's start, by least
// squares. Pure code.
import { BitPredictError } from '../errors.js';

/** Regressors: 1, |r_t|, mean |r| over 24, mean |r| over 168, and two harmonics of the hour of day. */
export const HAR_FEATURES = ['const', 'abs1', 'mean24', 'mean168', 'sin1', 'cos1', 'sin2', 'cos2'] as const;
export const HAR_DIM = HAR_FEATURES.length;

const DAY_MS = 86_400_000;

/** Fills x with the HAR regressors for a target starting at targetStartMs (UTC). */
export function harRow(x: Float64Array, abs1: number, mean24: number, mean168: number, targetStartMs: number): void {
  const u = ((((targetStartMs % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS) * 2 * Math.PI; // fraction of the UTC day
  x[0] = 1;
  x[1] = abs1;
  x[2] = mean24;
  x[3] = mean168;
  x[4] = Math.sin(u);
  x[5] = Math.cos(u);
  x[6] = Math.sin(2 * u);
  x[7] = Math.cos(2 * u);
}

/** beta . x */
export function dot(beta: readonly number[], x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < beta.length; i++) s += beta[i]! * x[i]!;
  return s;
}

/** Accumulates X'X and X'y row by row, then solves for beta (a tiny ridge keeps a constant regressor solvable). */
export class LeastSquares {
  readonly xtx: Float64Array;
  readonly xty: Float64Array;
  n = 0;
  constructor(readonly dim: number) {
    this.xtx = new Float64Array(dim * dim);
    this.xty = new Float64Array(dim);
  }

  add(x: Float64Array, y: number): void {
    const d = this.dim;
    for (let i = 0; i < d; i++) {
      const xi = x[i]!;
      this.xty[i]! += xi * y;
      for (let j = 0; j < d; j++) this.xtx[i * d + j]! += xi * x[j]!;
    }
    this.n++;
  }

  solve(ridge = 1e-10): number[] {
    const d = this.dim;
    if (this.n < d) throw new BitPredictError('ERR_VALIDATION', `least squares with ${d} regressors needs at least ${d} rows, got ${this.n}`);
    // Gaussian elimination with partial pivoting on [X'X + ridge * diag | X'y]; the ridge is relative
    // to each diagonal entry so it does not depend on the units of a regressor.
    const a = Array.from({ length: d }, (_, i) => {
      const row = Array.from(this.xtx.subarray(i * d, (i + 1) * d));
      row[i] = row[i]! > 0 ? row[i]! * (1 + ridge) : 1; // an all-zero regressor gets coefficient 0
      row.push(this.xty[i]!);
      return row;
    });
    for (let col = 0; col < d; col++) {
      let piv = col;
      for (let r = col + 1; r < d; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[piv]![col]!)) piv = r;
      [a[col], a[piv]] = [a[piv]!, a[col]!];
      const p = a[col]![col]!;
      if (p === 0) throw new BitPredictError('ERR_VALIDATION', 'least squares is singular');
      for (let r = col + 1; r < d; r++) {
        const f = a[r]![col]! / p;
        if (f !== 0) for (let c = col; c <= d; c++) a[r]![c]! -= f * a[col]![c]!;
      }
    }
    const beta = new Array<number>(d).fill(0);
    for (let r = d - 1; r >= 0; r--) {
      let s = a[r]![d]!;
      for (let c = r + 1; c < d; c++) s -= a[r]![c]! * beta[c]!;
      beta[r] = s / a[r]![r]!;
    }
    if (beta.some((b) => !Number.isFinite(b))) throw new BitPredictError('ERR_VALIDATION', 'least squares gave a non-finite coefficient');
    return beta;
  }
}
