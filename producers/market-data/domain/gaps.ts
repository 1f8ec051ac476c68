// Gap planning: which candle open times are missing between the last one published for a key and
// the last one that has closed, and how to page them into REST requests.

/** Open time of the last candle that has fully closed at `nowMs` (its closeTime <= nowMs). */
export function lastClosedOpenTime(nowMs: number, lenMs: number): number {
  return Math.floor(nowMs / lenMs) * lenMs - lenMs;
}

export interface GapPlan {
  /** First missing open time (inclusive). */
  from: number;
  /** Last missing open time (inclusive). */
  to: number;
  count: number;
}

/**
 * Candles after `lastPublished` up to `upTo` (both open times). Null when nothing is missing, or
 * when nothing was ever published for the key: a first start streams from now on instead of
 * guessing how much history a consumer wants (the replay producer is the tool for history).
 */
export function planGap(lastPublished: number | null, upTo: number, lenMs: number): GapPlan | null {
  if (lastPublished === null) return null;
  const from = lastPublished + lenMs;
  if (from > upTo) return null;
  const to = upTo - ((upTo - from) % lenMs);
  return { from, to, count: (to - from) / lenMs + 1 };
}

/** Splits a plan into pages of at most `perRequest` candles each, oldest first. */
export function pageGap(plan: GapPlan, lenMs: number, perRequest: number): { from: number; to: number }[] {
  const pages: { from: number; to: number }[] = [];
  const step = Math.max(1, Math.floor(perRequest)) * lenMs;
  for (let from = plan.from; from <= plan.to; from += step) {
    pages.push({ from, to: Math.min(plan.to, from + step - lenMs) });
  }
  return pages;
}
