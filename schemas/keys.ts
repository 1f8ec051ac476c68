// Record keys are part of the topic contracts (schemas/index.ts names each topic's key): one
// function builds each, so producers, processors and readers cannot drift apart.

/** The key of market.candles, features, predictions and scores records, and the name of one series: "symbol:interval". */
export function seriesKey(symbol: string, interval: string): string {
  return `${symbol}:${interval}`;
}
