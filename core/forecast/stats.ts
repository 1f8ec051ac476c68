// Statistical tests for forecast evaluation: the distributions they need (normal, chi-square,
// Student-t, through the regularised incomplete gamma and beta functions), Kupiec's unconditional
// and Christoffersen's conditional coverage tests, and the Diebold-Mariano test with the
// Harvey-Leybourne-Newbold correction. Pure code: no I/O, no dependencies.
import { BitPredictError } from '../errors.js';

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 (Lanczos, g = 7; relative error about 1e-15). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const xx = x - 1;
  let a = LANCZOS[0]!;
  const t = xx + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (xx + i);
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;

/** Regularised upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a) (series or continued fraction). */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) throw new BitPredictError('ERR_VALIDATION', `incomplete gamma needs a > 0 and x >= 0, got a=${a}, x=${x}`);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  const lnPre = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    // Series for P(a, x); Q = 1 - P.
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < 10_000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    return 1 - sum * Math.exp(lnPre);
  }
  // Lentz's continued fraction for Q(a, x).
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(lnPre) * h;
}

/** Continued fraction of the incomplete beta function (Numerical Recipes betacf, Lentz). */
function betaCf(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b). */
export function betaInc(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1))
    throw new BitPredictError('ERR_VALIDATION', `incomplete beta needs a, b > 0 and x in [0, 1], got x=${x}, a=${a}, b=${b}`);
  if (x === 0 || x === 1) return x;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaCf(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaCf(b, a, 1 - x)) / b;
}

/** Standard normal CDF Phi(x), through erfc = Q(1/2, x^2 / 2) (accurate in both tails). */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) throw new BitPredictError('ERR_VALIDATION', 'normal cdf of NaN');
  if (x === 0) return 0.5;
  const tail = 0.5 * gammaQ(0.5, (x * x) / 2); // P(Z > |x|)
  return x > 0 ? 1 - tail : tail;
}

/** Survival function P(X > x) of the chi-square distribution with dof degrees of freedom. */
export function chiSquareSf(x: number, dof: number): number {
  if (!(dof > 0) || !Number.isFinite(dof)) throw new BitPredictError('ERR_VALIDATION', `chi-square degrees of freedom ${dof} is not positive`);
  if (Number.isNaN(x)) throw new BitPredictError('ERR_VALIDATION', 'chi-square survival of NaN');
  if (x <= 0) return 1;
  if (dof === 2) return Math.exp(-x / 2); // exact closed form
  return gammaQ(dof / 2, x / 2);
}

/** Survival function P(T > t) of Student's t with dof degrees of freedom. */
export function studentTSf(t: number, dof: number): number {
  if (!(dof > 0)) throw new BitPredictError('ERR_VALIDATION', `Student-t degrees of freedom ${dof} is not positive`);
  if (Number.isNaN(t)) throw new BitPredictError('ERR_VALIDATION', 'Student-t survival of NaN');
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  const tail = 0.5 * betaInc(dof / (dof + t * t), dof / 2, 0.5); // P(T > |t|)
  return t >= 0 ? tail : 1 - tail;
}

/** Two-sided p-value P(|T| > |t|) of Student's t. */
export function studentTTwoSided(t: number, dof: number): number {
  return Math.min(1, 2 * studentTSf(Math.abs(t), dof));
}

/** x * ln(y) with the convention 0 * ln(0) = 0 (likelihoods with zero counts). */
function xlogy(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log(y);
}

/** Bernoulli log-likelihood of k successes in n at rate p. */
function bernoulliLl(k: number, n: number, p: number): number {
  return xlogy(k, p) + xlogy(n - k, 1 - p);
}

function checkNominal(nominal: number): void {
  if (!(nominal > 0 && nominal < 1)) throw new BitPredictError('ERR_VALIDATION', `nominal rate ${nominal} is not in (0, 1)`);
}

/**
 * Kupiec's unconditional coverage likelihood-ratio test: H0 the hit rate is `nominal` (for example
 * 0.8 for "inside the 80 % interval"). LR = -2 [ln L(nominal) - ln L(hits / n)] ~ chi2(1).
 * hits = 0 or hits = n are fine (0 ln 0 = 0).
 */
export function kupiec(hits: number, n: number, nominal: number): { lr: number; pValue: number } {
  if (!Number.isSafeInteger(n) || n < 1) throw new BitPredictError('ERR_VALIDATION', `Kupiec test needs n >= 1 observations, got ${n}`);
  if (!Number.isSafeInteger(hits) || hits < 0 || hits > n) throw new BitPredictError('ERR_VALIDATION', `Kupiec hits ${hits} is not an integer in 0..${n}`);
  checkNominal(nominal);
  const lr = Math.max(0, -2 * (bernoulliLl(hits, n, nominal) - bernoulliLl(hits, n, hits / n)));
  return { lr, pValue: chiSquareSf(lr, 1) };
}

/**
 * Christoffersen's conditional coverage test on the sequence of "inside the interval" flags:
 * LR_ind tests independence (a first-order Markov chain against i.i.d., chi2(1)), LR_cc = LR_uc +
 * LR_ind tests independence and the nominal rate together (chi2(2)). LR_uc is Kupiec's statistic
 * on the whole sequence. Needs at least 2 observations.
 */
export function christoffersen(inside: readonly boolean[], nominal: number): { lrInd: number; lrCc: number; pValueInd: number; pValueCc: number } {
  checkNominal(nominal);
  const n = inside.length;
  if (n < 2) throw new BitPredictError('ERR_VALIDATION', `Christoffersen test needs at least 2 observations, got ${n}`);
  // n_ij: transitions from state i to state j (1 = inside).
  let n00 = 0;
  let n01 = 0;
  let n10 = 0;
  let n11 = 0;
  for (let t = 1; t < n; t++) {
    const a = inside[t - 1];
    const b = inside[t];
    if (typeof a !== 'boolean' || typeof b !== 'boolean') throw new BitPredictError('ERR_VALIDATION', `Christoffersen flag ${t} is not a boolean`);
    if (a) {
      if (b) n11++;
      else n10++;
    } else if (b) n01++;
    else n00++;
  }
  const pi01 = n00 + n01 > 0 ? n01 / (n00 + n01) : 0;
  const pi11 = n10 + n11 > 0 ? n11 / (n10 + n11) : 0;
  const pi = (n01 + n11) / (n - 1);
  const llIid = bernoulliLl(n01 + n11, n - 1, pi);
  const llMarkov = bernoulliLl(n01, n00 + n01, pi01) + bernoulliLl(n11, n10 + n11, pi11);
  const lrInd = Math.max(0, -2 * (llIid - llMarkov));
  let hits = 0;
  for (const v of inside) if (v) hits++;
  const lrCc = kupiec(hits, n, nominal).lr + lrInd;
  return { lrInd, lrCc, pValueInd: chiSquareSf(lrInd, 1), pValueCc: chiSquareSf(lrCc, 2) };
}

/**
 * Diebold-Mariano test of equal expected loss, with the Harvey-Leybourne-Newbold small-sample
 * correction. d_t = lossA_t - lossB_t; the long-run variance of d is Newey-West (Bartlett weights
 * 1 - k/h) over h - 1 lags, since h-step forecast errors overlap and are MA(h-1) under the null;
 * stat = HLN * mean(d) / sqrt(V / n) with HLN = sqrt((n + 1 - 2h + h(h-1)/n) / n), and the two-sided
 * p-value is from Student-t with n - 1 dof. A negative stat means A has the lower loss.
 */
export function dieboldMariano(
  lossA: readonly number[],
  lossB: readonly number[],
  horizon: number,
): { n: number; meanDiff: number; stat: number; pValue: number } {
  const n = lossA.length;
  if (lossB.length !== n) throw new BitPredictError('ERR_VALIDATION', `Diebold-Mariano losses differ in length: ${n} vs ${lossB.length}`);
  if (!Number.isSafeInteger(horizon) || horizon < 1)
    throw new BitPredictError('ERR_VALIDATION', `Diebold-Mariano horizon ${horizon} is not a positive integer`);
  if (n < Math.max(3, 2 * horizon))
    throw new BitPredictError('ERR_VALIDATION', `Diebold-Mariano needs at least ${Math.max(3, 2 * horizon)} loss pairs at horizon ${horizon}, got ${n}`);
  const d = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = lossA[i]! - lossB[i]!;
    if (!Number.isFinite(v)) throw new BitPredictError('ERR_VALIDATION', `Diebold-Mariano loss pair ${i} is not finite (${lossA[i]}, ${lossB[i]})`);
    d[i] = v;
    sum += v;
  }
  const meanDiff = sum / n;
  let v = 0;
  for (let k = 0; k < horizon; k++) {
    let g = 0;
    for (let t = k; t < n; t++) g += (d[t]! - meanDiff) * (d[t - k]! - meanDiff);
    g /= n;
    v += k === 0 ? g : 2 * (1 - k / horizon) * g;
  }
  const hln = Math.sqrt((n + 1 - 2 * horizon + (horizon * (horizon - 1)) / n) / n);
  let stat: number;
  if (v > 0) stat = (hln * meanDiff) / Math.sqrt(v / n);
  else stat = meanDiff === 0 ? 0 : meanDiff > 0 ? Infinity : -Infinity; // constant, non-zero difference
  return { n, meanDiff, stat, pValue: studentTTwoSided(stat, n - 1) };
}
