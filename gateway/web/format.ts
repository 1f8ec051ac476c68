// Numbers and times in words for the panels. Times are UTC, as on the chart's axis.

/** "2025-01-31 14:00 UTC"; "?" for a time that is not one. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '?';
}

/** "2025-01-31". */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString().slice(0, 10) : '?';
}

// One formatter for every price: toLocaleString with options builds a new one per call, which
// showed up as the page's hottest function under a fast replay.
const PRICE = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A price with two decimals and thousands separators. */
export function formatPrice(v: number): string {
  return Number.isFinite(v) ? PRICE.format(v) : '?';
}

/** A share in [0, 1] as "78 %" (digits: decimals). */
export function formatShare(v: number, digits = 0): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(digits)} %` : '?';
}

/** A length of time in the largest whole unit: "3 d", "5 h", "12 min". */
export function formatSpan(ms: number): string {
  const a = Math.abs(ms);
  if (a >= 86_400_000) return `${Math.floor(a / 86_400_000)} d`;
  if (a >= 3_600_000) return `${Math.floor(a / 3_600_000)} h`;
  return `${Math.floor(a / 60_000)} min`;
}
