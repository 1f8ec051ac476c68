// The contracts between the backtest's parts: where the events come from (source.ts: the topics
// or the files), what the engine makes of them (engine.ts) and what the CLI writes (JSON + HTML).
import type { Candle, ScoredText } from '../../schemas/types.js';

/** What to backtest: one series over [from, to) of candle close... see engine.ts for the exact rule. */
export interface BacktestRange {
  symbol: string;
  interval: string;
  /** Inclusive start (ms, UTC): the first bar whose prediction is traded closes at or after this. */
  from: number;
  /** Exclusive end (ms, UTC). */
  to: number;
}

/** A hole in the candle series: bars that should exist between two candles and do not. */
export interface CandleGap {
  /** openTime of the first missing bar (ms). */
  from: number;
  /** openTime of the next candle that exists (ms). */
  to: number;
  missingBars: number;
}

/** Everything a backtest reads, in event-time order, with where it came from. */
export interface BacktestEvents {
  source: 'kafka' | 'files';
  range: BacktestRange;
  /** Start of the warm-up: candles from here on feed the indicators before `range.from`. */
  warmupFrom: number;
  /** Candles of the series with warmupFrom <= openTime and closeTime <= range.to, in openTime order, one per openTime. */
  candles: Candle[];
  /** Scored texts with publishedAt < range.to, in publishedAt order (then id), one per id. */
  texts: ScoredText[];
  /** Gaps inside [warmupFrom, range.to). */
  gaps: CandleGap[];
  /** Human-readable description of where the events were read (topic offsets or file paths). */
  provenance: string[];
}
