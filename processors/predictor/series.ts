// Per-series state of the predictor: the last event time and the window of the last vectors of
// every symbol:interval it has seen. The handler moves the live state; prepareBatch moves a copy
// of it with the same code, so both see exactly the same windows.
import type { FeatureVector } from '../../schemas/types.js';
import { seriesKey } from '../../schemas/keys.js';

export interface SeriesState {
  last: Map<string, number>;
  windows: Map<string, FeatureVector[]>;
}

/** What advancing a series by one vector did. */
export type Step =
  | { kind: 'ok'; series: string; window: FeatureVector[] }
  | { kind: 'invalid'; reason: string }
  | { kind: 'duplicate' }
  | { kind: 'out-of-order'; last: number };

export interface SeriesTracker {
  readonly live: SeriesState;
  /** A copy of the live state that advance() can move without touching it. */
  copy(): SeriesState;
  /**
   * Moves one series by f: the last event time and the window of its last `keep` vectors (rebuilt
   * from history on the series' first vector). Nothing moves for an invalid, redelivered or
   * out-of-order vector.
   */
  advance(state: SeriesState, f: FeatureVector, keep: number): Promise<Step>;
  /** Drops these series from the live state: their next vector rebuilds the window from history. */
  forget(series: Iterable<string>): void;
}

export function createSeriesTracker(deps: {
  /** The `keep` vectors of f's series before f (from the Redis feature history). */
  historyBefore(f: FeatureVector, keep: number): Promise<FeatureVector[]>;
  futureToleranceMs: number;
  now: () => number;
}): SeriesTracker {
  const live: SeriesState = { last: new Map(), windows: new Map() };

  /** Why f is rejected before touching the series state (null: it goes on). */
  function invalid(f: FeatureVector): string | null {
    if (!(f.close > 0) || !Number.isFinite(f.close)) return `feature close ${f.close} is not a positive price`;
    if (f.eventTime > deps.now() + deps.futureToleranceMs) return `feature eventTime ${new Date(f.eventTime).toISOString()} is in the future`;
    return null;
  }

  return {
    live,
    forget(series) {
      for (const k of series) {
        live.last.delete(k);
        live.windows.delete(k);
      }
    },
    copy: () => ({ last: new Map(live.last), windows: new Map([...live.windows].map(([s, w]) => [s, w.slice()])) }),
    async advance(state, f, keep) {
      const bad = invalid(f);
      if (bad !== null) return { kind: 'invalid', reason: bad };
      const series = seriesKey(f.symbol, f.interval);
      const last = state.last.get(series);
      if (last !== undefined && f.eventTime <= last) return f.eventTime === last ? { kind: 'duplicate' } : { kind: 'out-of-order', last };
      let w = state.windows.get(series);
      if (w === undefined) {
        w = await deps.historyBefore(f, keep);
        state.windows.set(series, w);
      }
      w.push(f);
      if (w.length > keep) w.splice(0, w.length - keep);
      // Last, after the only await: a failed Redis read leaves the series where it was, so a retry
      // of the record is not mistaken for a redelivery.
      state.last.set(series, f.eventTime);
      return { kind: 'ok', series, window: w };
    },
  };
}
