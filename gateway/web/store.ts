// The page's data for one symbol and interval, without DOM: candles and feature vectors in time
// order (one per openTime), predictions keyed by forecast, and the latest score per forecaster,
// horizon and window. Records arrive from REST pages, WebSocket snapshots and live messages in any
// order and more than once; each merge says what changed, so the chart redraws only that.
import type { Candle, Feature, ModelsInfo, Prediction, Score } from './types.js';

/** What one insert did to a time-ordered list. */
export type InsertResult = 'append' | 'replace' | 'insert' | 'duplicate';

/**
 * Puts `item` into `list` (sorted by `key`, unique): appended when newest, replacing the item of
 * the same key (`duplicate` when equal), inserted in place when older (a late or refilled record).
 * Returns what happened and the index it now has.
 */
export function insertByKey<T>(list: T[], item: T, key: (x: T) => number, same: (a: T, b: T) => boolean): { result: InsertResult; index: number } {
  const k = key(item);
  const last = list.at(-1);
  if (last === undefined || key(last) < k) {
    list.push(item);
    return { result: 'append', index: list.length - 1 };
  }
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(list[mid]!) < k) lo = mid + 1;
    else hi = mid;
  }
  if (key(list[lo]!) === k) {
    if (same(list[lo]!, item)) return { result: 'duplicate', index: lo };
    list[lo] = item;
    return { result: 'replace', index: lo };
  }
  list.splice(lo, 0, item);
  return { result: 'insert', index: lo };
}

function sameCandle(a: Candle, b: Candle): boolean {
  return a.closeTime === b.closeTime && a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume;
}

const openTimeOf = (x: { openTime: number }): number => x.openTime;

/** Where the chart must redraw from after merges: the smallest index that changed, or null. */
export interface Changes {
  candlesFrom: number | null;
  featuresFrom: number | null;
  predictions: boolean;
  scores: boolean;
  models: boolean;
}

export function noChanges(): Changes {
  return { candlesFrom: null, featuresFrom: null, predictions: false, scores: false, models: false };
}

function lower(a: number | null, b: number): number {
  return a === null ? b : Math.min(a, b);
}

/** How many records were dropped, by why; shown on the page, never thrown. */
export interface Dropped {
  malformed: number;
  duplicate: number;
  /** Candles that close after the wall clock plus one interval: no exchange can have closed them yet. */
  future: number;
}

export interface SeriesStore {
  readonly symbol: string;
  readonly interval: string;
  readonly candles: Candle[];
  readonly features: Feature[];
  /** By forecast: `${eventTime}|${modelName}`. */
  readonly predictions: Map<string, Prediction>;
  /** By `${modelName}|${horizonSteps}|${windowMs}`: the newest one. */
  readonly scores: Map<string, Score>;
  models: ModelsInfo | null;
  readonly dropped: Dropped;
  changes: Changes;
}

/** Predictions kept (up to a tenth more between trims): weeks of every forecaster; the oldest go first. */
export const MAX_PREDICTIONS = 20_000;
/** Candles and vectors kept: twice the history read on open, so a long fast replay cannot fill the tab's memory. */
export const MAX_SERIES = 20_000;

/** Drops the oldest items of a time-ordered list once it is a tenth over `max`; true when it did. */
function trimOldest<T>(list: T[], max: number): boolean {
  if (list.length <= max * 1.1) return false;
  list.splice(0, list.length - max);
  return true;
}

export function createStore(symbol: string, interval: string): SeriesStore {
  return {
    symbol,
    interval,
    candles: [],
    features: [],
    predictions: new Map(),
    scores: new Map(),
    models: null,
    dropped: { malformed: 0, duplicate: 0, future: 0 },
    changes: noChanges(),
  };
}

/**
 * The records of the store's series among `items` (checked by parse.ts: null for one that failed,
 * counted as malformed). A channel carries every interval of its symbol, so records of another
 * series are skipped without counting as errors.
 */
function ofThisSeries<T extends { symbol: string; interval: string }>(store: SeriesStore, items: readonly (T | null)[]): T[] {
  const out: T[] = [];
  for (const x of items) {
    if (x === null) store.dropped.malformed++;
    else if (x.symbol === store.symbol && x.interval === store.interval) out.push(x);
  }
  return out;
}

/**
 * Merges candles (already checked by parse.ts; null for one that failed). Candles of another
 * series (a channel carries every interval) are skipped without counting as errors; one that
 * closes after `notAfter` (the wall clock plus one interval) is refused and counted.
 */
export function addCandles(store: SeriesStore, candles: readonly (Candle | null)[], notAfter = Infinity): void {
  for (const c of ofThisSeries(store, candles)) {
    if (c.closeTime > notAfter) {
      // Future-dated (a producer's clock or a bad record): drawing it would make the freshness say
      // "live" about data that cannot exist yet, and every later candle would look out of order.
      store.dropped.future++;
      continue;
    }
    const { result, index } = insertByKey(store.candles, c, openTimeOf, sameCandle);
    if (result === 'duplicate') store.dropped.duplicate++;
    else store.changes.candlesFrom = lower(store.changes.candlesFrom, index);
  }
  if (trimOldest(store.candles, MAX_SERIES)) store.changes.candlesFrom = 0;
}

function sameFeature(a: Feature, b: Feature): boolean {
  return a.eventTime === b.eventTime && a.close === b.close && a.sma20 === b.sma20 && a.rsi14 === b.rsi14 && a.textCount === b.textCount;
}

export function addFeatures(store: SeriesStore, features: readonly (Feature | null)[]): void {
  for (const f of ofThisSeries(store, features)) {
    const { result, index } = insertByKey(store.features, f, openTimeOf, sameFeature);
    if (result !== 'duplicate') store.changes.featuresFrom = lower(store.changes.featuresFrom, index);
  }
  if (trimOldest(store.features, MAX_SERIES)) store.changes.featuresFrom = 0;
}

export function predictionKey(p: Prediction): string {
  return `${p.eventTime}|${p.modelName}`;
}

export function addPredictions(store: SeriesStore, predictions: readonly (Prediction | null)[]): void {
  for (const p of ofThisSeries(store, predictions)) {
    // A record published twice (a snapshot overlapping a live message) is the same forecast.
    store.predictions.set(predictionKey(p), p);
    store.changes.predictions = true;
  }
  // Trimmed in steps of a tenth, not one by one: each trim sorts the whole map.
  if (store.predictions.size > MAX_PREDICTIONS * 1.1) trimPredictions(store);
}

function trimPredictions(store: SeriesStore): void {
  const byAge = [...store.predictions.values()].sort((a, b) => a.eventTime - b.eventTime);
  for (const p of byAge.slice(0, byAge.length - MAX_PREDICTIONS)) store.predictions.delete(predictionKey(p));
}

export function scoreKey(s: Pick<Score, 'modelName' | 'horizonSteps' | 'windowMs'>): string {
  return `${s.modelName}|${s.horizonSteps}|${s.windowMs}`;
}

/** Keeps the newest score of each forecaster, horizon and window (a late older one does not win). */
export function addScores(store: SeriesStore, scores: readonly (Score | null)[]): void {
  for (const s of ofThisSeries(store, scores)) {
    const key = scoreKey(s);
    const old = store.scores.get(key);
    if (old !== undefined && (old.eventTime > s.eventTime || (old.eventTime === s.eventTime && old.computedAt > s.computedAt))) continue;
    store.scores.set(key, s);
    store.changes.scores = true;
  }
}

/** The changes since the last call, and a clean slate for the next. */
export function takeChanges(store: SeriesStore): Changes {
  const c = store.changes;
  store.changes = noChanges();
  return c;
}

/** The candle that closed at `closeTime`, by binary search on openTime order. */
export function candleClosingAt(candles: readonly Candle[], closeTime: number): Candle | undefined {
  let lo = 0;
  let hi = candles.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (candles[mid]!.closeTime < closeTime) lo = mid + 1;
    else hi = mid;
  }
  const c = candles[lo];
  return c !== undefined && c.closeTime === closeTime ? c : undefined;
}
