// Standard normal CDF through the error function of Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7
// on erf, so <= 7.5e-8 on the CDF): ample for a baseline's direction probability, and pure.
const P = 0.3275911;
const A1 = 0.254829592;
const A2 = -0.284496736;
const A3 = 1.421413741;
const A4 = -1.453152027;
const A5 = 1.061405429;

export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const sign = x < 0 ? -1 : 1;
  const ax = Math.abs(x);
  const t = 1 / (1 + P * ax);
  const poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
  return sign * (1 - poly * Math.exp(-ax * ax));
}

export function normalCdf(z: number): number {
  if (z === Number.POSITIVE_INFINITY) return 1;
  if (z === Number.NEGATIVE_INFINITY) return 0;
  return 0.5 * (1 + erf(z / Math.SQRT2));
}
