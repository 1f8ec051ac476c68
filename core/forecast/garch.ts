// GARCH(1,1) with zero mean, fitted by Gaussian quasi-maximum likelihood in plain TypeScript:
// v[t+1] = omega + alpha r[t]^2 + beta v[t], alpha, beta >= 0, alpha + beta < 1. The optimiser is
// Nelder-Mead on an unconstrained reparameterisation, on returns rescaled to unit mean square
// (so the simplex steps mean the same thing at any price scale). Pure code.
import { BitPredictError } from '../errors.js';

export interface GarchParams {
  omega: number;
  alpha: number;
  beta: number;
}

/** Minimises f from x0 by Nelder-Mead (standard coefficients); returns the best point and value. */
export function nelderMead(f: (x: readonly number[]) => number, x0: readonly number[], step = 0.5, maxIter = 2000, tol = 1e-12): { x: number[]; fx: number } {
  const n = x0.length;
  let pts: number[][] = [x0.slice()];
  for (let i = 0; i < n; i++) {
    const p = x0.slice();
    p[i]! += step;
    pts.push(p);
  }
  let vals = pts.map((p) => f(p));
  for (let iter = 0; iter < maxIter; iter++) {
    const order = vals.map((_, i) => i).sort((a, b) => vals[a]! - vals[b]!);
    pts = order.map((i) => pts[i]!);
    vals = order.map((i) => vals[i]!);
    if (Math.abs(vals[n]! - vals[0]!) <= tol * (Math.abs(vals[0]!) + 1e-30)) break;
    const c = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[j]! += pts[i]![j]! / n;
    const along = (t: number): number[] => c.map((cj, j) => cj + t * (pts[n]![j]! - cj));
    const xr = along(-1);
    const fr = f(xr);
    if (fr < vals[0]!) {
      const xe = along(-2);
      const fe = f(xe);
      if (fe < fr) [pts[n], vals[n]] = [xe, fe];
      else [pts[n], vals[n]] = [xr, fr];
    } else if (fr < vals[n - 1]!) {
      [pts[n], vals[n]] = [xr, fr];
    } else {
      const xc = fr < vals[n]! ? along(-0.5) : along(0.5);
      const fc = f(xc);
      if (fc < Math.min(fr, vals[n]!)) [pts[n], vals[n]] = [xc, fc];
      else {
        for (let i = 1; i <= n; i++) {
          pts[i] = pts[i]!.map((v, j) => pts[0]![j]! + 0.5 * (v - pts[0]![j]!));
          vals[i] = f(pts[i]!);
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i <= n; i++) if (vals[i]! < vals[best]!) best = i;
  return { x: pts[best]!, fx: vals[best]! };
}

/**
 * Gaussian quasi log-likelihood (without the constant) of the returns under GARCH(1,1), starting
 * from v = v0: sum over known r of -(ln v + r^2 / v) / 2. A null return (gap) skips the term and
 * the update: the variance carries over the gap unchanged.
 */
export function garchLogLik(r: readonly (number | null)[], p: GarchParams, v0: number): number {
  let v = v0;
  let ll = 0;
  for (const x of r) {
    if (x === null) continue;
    ll -= 0.5 * (Math.log(v) + (x * x) / v);
    v = p.omega + p.alpha * x * x + p.beta * v;
  }
  return ll;
}

/** garchLogLik of known returns only (no gaps), the same arithmetic in the same order. */
function denseLogLik(r: Float64Array, p: GarchParams, v0: number): number {
  const { omega, alpha, beta } = p;
  let v = v0;
  let ll = 0;
  for (let i = 0; i < r.length; i++) {
    const x = r[i]!;
    ll -= 0.5 * (Math.log(v) + (x * x) / v);
    v = omega + alpha * x * x + beta * v;
  }
  return ll;
}

const logistic = (u: number): number => 1 / (1 + Math.exp(-u));
const logit = (p: number): number => Math.log(p / (1 - p));

/** Parameters from the unconstrained point: omega = e^a, persistence = logistic(b), alpha share = logistic(c). */
function fromTheta(t: readonly number[]): GarchParams {
  const phi = logistic(t[1]!);
  const alpha = phi * logistic(t[2]!);
  return { omega: Math.exp(t[0]!), alpha, beta: phi - alpha };
}

/** Mean of r^2 over the known returns (the starting variance, and the unit of the fit). */
export function meanSquare(r: readonly (number | null)[]): number {
  let s = 0;
  let n = 0;
  for (const x of r)
    if (x !== null) {
      s += x * x;
      n++;
    }
  return n > 0 ? s / n : 0;
}

/**
 * Fits GARCH(1,1) by quasi-maximum likelihood. The recursion starts at the sample mean square of
 * the known returns; needs at least 50 known returns with a positive mean square.
 */
export function fitGarch(r: readonly (number | null)[]): { params: GarchParams; v0: number; logLik: number } {
  const known = r.filter((x): x is number => x !== null);
  if (known.length < 50) throw new BitPredictError('ERR_VALIDATION', `GARCH needs at least 50 known returns, got ${known.length}`);
  if (known.some((x) => !Number.isFinite(x))) throw new BitPredictError('ERR_VALIDATION', 'GARCH returns must be finite');
  const v0 = meanSquare(r);
  if (!(v0 > 0)) throw new BitPredictError('ERR_VALIDATION', 'GARCH needs returns that are not all zero');
  const s = Math.sqrt(v0);
  // The known returns only, in a typed array: garchLogLik skips a null without a term or an update,
  // so the dense loop computes the same sums in the same order, without the null checks of a mixed
  // array (the likelihood is evaluated hundreds of times per fit).
  const z = Float64Array.from(known, (x) => x / s);
  const nll = (t: readonly number[]): number => {
    const ll = denseLogLik(z, fromTheta(t), 1);
    return Number.isFinite(ll) ? -ll : Infinity;
  };
  // Start at alpha 0.05, beta 0.9 with the unconditional variance on the sample's (variance targeting),
  // then restart from the optimum so a collapsed simplex gets a second look.
  let best = nelderMead(nll, [Math.log(0.05), logit(0.95), logit(0.05 / 0.95)]);
  for (let k = 0; k < 2; k++) {
    const again = nelderMead(nll, best.x, 0.2);
    if (!(again.fx < best.fx - 1e-9)) break;
    best = again;
  }
  const u = fromTheta(best.x);
  const params = { omega: u.omega * v0, alpha: u.alpha, beta: u.beta };
  return { params, v0, logLik: garchLogLik(r, params, v0) };
}

/**
 * Sum of the 1..h step-ahead variance forecasts given the one-step forecast vNext = v[t+1]:
 * E v[t+k] = vbar + phi^(k-1) (vNext - vbar) with phi = alpha + beta and vbar = omega / (1 - phi),
 * so the sum is h vbar + (vNext - vbar) (1 - phi^h) / (1 - phi).
 */
export function garchVarianceSum(p: GarchParams, vNext: number, h: number): number {
  const phi = p.alpha + p.beta;
  const vbar = p.omega / (1 - phi);
  return h * vbar + ((vNext - vbar) * (1 - Math.pow(phi, h))) / (1 - phi);
}
