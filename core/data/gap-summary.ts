// The summary of the gaps of a candle series that `data inspect` and `data fetch` report: how
// many, how many candles they miss, the largest and the first few. Each caller says what a gap's
// `from` and `to` mean (see CandleGapInfo and FetchGap).

export interface GapSummary<G extends { missing: number }> {
  count: number;
  missingCandles: number;
  largest: G | null;
  first: G[];
}

export function emptyGapSummary<G extends { missing: number }>(): GapSummary<G> {
  return { count: 0, missingCandles: 0, largest: null, first: [] };
}

/** Counts `gap` into `s`; the first `listLimit` gaps are kept as they come. */
export function addGap<G extends { missing: number }>(s: GapSummary<G>, gap: G, listLimit: number): void {
  s.count++;
  s.missingCandles += gap.missing;
  if (s.largest === null || gap.missing > s.largest.missing) s.largest = gap;
  if (s.first.length < listLimit) s.first.push(gap);
}
