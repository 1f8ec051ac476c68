// One series on view (a symbol at an interval): its store, its REST client (aborted when the page
// moves on), and what the page knows about it. Records from the stream go in here, without DOM.
import type { Api } from './api.js';
import { intervalMs } from './forecast.js';
import { parseCandle, parseFeature, parsePrediction, parseScore } from './parse.js';
import type { ChannelKind } from './protocol.js';
import { addCandles, addFeatures, addPredictions, addScores, createStore, type SeriesStore } from './store.js';

export interface Session {
  store: SeriesStore;
  stepMs: number;
  abort: AbortController;
  api: Api;
  backfilled: boolean;
  /** The REST candle history has been merged: only then is a drawn chart the "first chart" (a WebSocket snapshot of one candle may come first). */
  candlesLoaded: boolean;
  subscribed: boolean;
  /** Wall time of the last candle of this series that arrived over the WebSocket. */
  lastArrival: number | null;
  problems: string[];
}

/** The session of `symbol` at `interval`, with a REST client that its own abort stops. */
export function newSession(symbol: string, interval: string, api: (signal: AbortSignal) => Api): Session {
  const abort = new AbortController();
  return {
    store: createStore(symbol, interval),
    stepMs: intervalMs(interval) ?? 3_600_000,
    abort,
    api: api(abort.signal),
    backfilled: false,
    candlesLoaded: false,
    subscribed: false,
    lastArrival: null,
    problems: [],
  };
}

/** Merges one streamed record; a live candle of this series (not a snapshot's) also marks its arrival time. */
export function addRecord(s: Session, kind: ChannelKind, data: unknown, live: boolean, now: () => number): void {
  if (kind === 'candles') {
    const c = parseCandle(data);
    addCandles(s.store, [c], now() + s.stepMs);
    if (live && c !== null && c.symbol === s.store.symbol && c.interval === s.store.interval) s.lastArrival = now();
  } else if (kind === 'features') addFeatures(s.store, [parseFeature(data)]);
  else if (kind === 'predictions') addPredictions(s.store, [parsePrediction(data)]);
  else addScores(s.store, [parseScore(data)]);
}

/** Keeps the newest three problems for the notice line. */
export function noteProblem(s: Session, words: string): void {
  s.problems = [...s.problems.slice(-2), words];
}
