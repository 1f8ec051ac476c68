// Point-in-time sentiment window index: the scored texts a feature vector at candle close t may use
// are exactly those with publishedAt in (t - W, t] (no look-ahead: an item published at t + 1 ms
// never counts, one at exactly t does, one at exactly t - W does not).
//
// Layout: parallel arrays kept sorted by (publishedAt, id), with a `head` offset so that evicting
// the oldest items is O(evicted) and the arrays are compacted only now and then. Ids are unique in
// the index (duplicates are refused), so (publishedAt, id) is a total order: the window of any t is
// a contiguous run found by two binary searches, and aggregate() sums it in that fixed order. The
// result therefore depends only on the set of items held, never on the order they arrived in
// (bit-identical, checked with Object.is in the tests). No prefix sums: they would carry rounding
// from outside the window and break that property.
//
// add() is an append when items arrive in order (the usual case); an out-of-order item is placed
// by binary search and spliced in (O(n) move, rare).

import { BitPredictError } from '../errors.js';
import type { ScoredText } from '../../schemas/types.js';

export interface TextIndexItem {
  /** Id of the scored text; the dedupe key. */
  id: string;
  /** Event time (ms since epoch, safe integer) used by the window join. */
  publishedAt: number;
  /** VADER compound score in [-1, 1]. */
  compound: number;
  /** FinBERT P(positive) - P(negative) in [-1, 1], or null when the text has no FinBERT score. */
  finbert: number | null;
}

export interface TextWindowAggregate {
  /** Number of items with publishedAt in (t - W, t]. */
  textCount: number;
  /** Mean VADER compound; null when textCount is 0. */
  vaderMean: number | null;
  /** Population standard deviation of VADER compound; null when textCount < 2. */
  vaderStd: number | null;
  /** Share of items with compound >= 0.05; null when textCount is 0. */
  vaderPosShare: number | null;
  /** Share of items with compound <= -0.05; null when textCount is 0. */
  vaderNegShare: number | null;
  /** Number of those items that carry a FinBERT score. */
  finbertCount: number;
  /** Mean FinBERT score over the items that carry one; null when finbertCount is 0. */
  finbertMean: number | null;
}

export interface TextIndex {
  /**
   * Adds an item. 'duplicate' when an item with the same id is held (not yet evicted): the first
   * one wins, even when the later one has different content. Throws ERR_VALIDATION on bad input.
   */
  add(item: TextIndexItem): 'added' | 'duplicate';
  /** Sentiment aggregate over items with t - windowMs < publishedAt <= t. */
  aggregate(t: number, windowMs: number): TextWindowAggregate;
  /** Drops items with publishedAt <= time and forgets their ids; returns how many were dropped. */
  evictBefore(time: number): number;
  /** Drops the `count` oldest items (by publishedAt, then id) and forgets their ids; returns how many were dropped. */
  evictOldest(count: number): number;
  /** Number of items held. */
  readonly size: number;
  /** Largest publishedAt held, or null when empty. */
  readonly maxPublishedAt: number | null;
}

/** VADER's conventional thresholds for a positive / negative text. */
export const VADER_POSITIVE_THRESHOLD = 0.05;
export const VADER_NEGATIVE_THRESHOLD = -0.05;

/** The index item of a scored text: finbert = P(positive) - P(negative), or null without FinBERT. */
export function textIndexItemOf(scored: ScoredText): TextIndexItem {
  return {
    id: scored.id,
    publishedAt: scored.publishedAt,
    compound: scored.vader.compound,
    finbert: scored.finbert === null ? null : scored.finbert.positive - scored.finbert.negative,
  };
}

function invalid(message: string): BitPredictError {
  return new BitPredictError('ERR_VALIDATION', message);
}

function validateItem(item: TextIndexItem): void {
  if (typeof item.id !== 'string' || item.id.length === 0) {
    throw invalid(`text index: id must be a non-empty string, got ${JSON.stringify(item.id)}`);
  }
  if (!Number.isSafeInteger(item.publishedAt)) {
    throw invalid(`text index: publishedAt of "${item.id}" must be a safe integer (ms), got ${String(item.publishedAt)}`);
  }
  if (typeof item.compound !== 'number' || !Number.isFinite(item.compound) || item.compound < -1 || item.compound > 1) {
    throw invalid(`text index: compound of "${item.id}" must be a finite number in [-1, 1], got ${String(item.compound)}`);
  }
  if (item.finbert !== null && (typeof item.finbert !== 'number' || !Number.isFinite(item.finbert) || item.finbert < -1 || item.finbert > 1)) {
    throw invalid(`text index: finbert of "${item.id}" must be null or a finite number in [-1, 1], got ${String(item.finbert)}`);
  }
}

function validateTime(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw invalid(`text index: ${name} must be a safe integer (ms), got ${String(value)}`);
  }
}

function validateWindow(windowMs: number): void {
  if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
    throw invalid(`text index: windowMs must be a positive safe integer (ms), got ${String(windowMs)}`);
  }
}

/**
 * The held items as parallel arrays (columns) sorted by (publishedAt, id). Slots [head,
 * times.length) are live; the slots before head are evicted and wait for the next compaction.
 */
interface Columns {
  times: number[];
  ids: string[];
  compounds: number[];
  // NaN stands for "no FinBERT score" (validated inputs are never NaN); keeps the array all-double.
  finberts: number[];
  head: number;
}

/** Compact the arrays once this many evicted slots sit in front of `head` (and they are at least half). */
const COMPACT_MIN = 1024;

function emptyColumns(): Columns {
  return { times: [], ids: [], compounds: [], finberts: [], head: 0 };
}

/** First live slot whose publishedAt > time. */
function upperBoundTime(c: Columns, time: number): number {
  let lo = c.head;
  let hi = c.times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((c.times[mid] as number) <= time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First live slot whose (publishedAt, id) > (time, id). */
function upperBoundKey(c: Columns, time: number, id: string): number {
  let lo = c.head;
  let hi = c.times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const tm = c.times[mid] as number;
    if (tm < time || (tm === time && (c.ids[mid] as string) < id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Puts an item in its (publishedAt, id) place: an append when it sorts last (the usual case), else a splice. */
function insertSorted(c: Columns, item: TextIndexItem): void {
  const fb = item.finbert === null ? Number.NaN : item.finbert;
  const n = c.times.length;
  const lastTime = n > c.head ? (c.times[n - 1] as number) : Number.NEGATIVE_INFINITY;
  if (item.publishedAt > lastTime || (item.publishedAt === lastTime && item.id > (c.ids[n - 1] as string))) {
    c.times.push(item.publishedAt);
    c.ids.push(item.id);
    c.compounds.push(item.compound);
    c.finberts.push(fb);
  } else {
    const at = upperBoundKey(c, item.publishedAt, item.id);
    c.times.splice(at, 0, item.publishedAt);
    c.ids.splice(at, 0, item.id);
    c.compounds.splice(at, 0, item.compound);
    c.finberts.splice(at, 0, fb);
  }
}

/** Evicts the live slots before `end`: O(evicted), with the arrays emptied or compacted only now and then. */
function dropBefore(c: Columns, end: number): void {
  c.head = end;
  if (c.head === c.times.length) {
    Object.assign(c, emptyColumns());
  } else if (c.head >= COMPACT_MIN && c.head * 2 >= c.times.length) {
    c.times = c.times.slice(c.head);
    c.ids = c.ids.slice(c.head);
    c.compounds = c.compounds.slice(c.head);
    c.finberts = c.finberts.slice(c.head);
    c.head = 0;
  }
}

/** The aggregate of slots [from, to), summed in slot order so it depends only on the items held. */
function aggregateSlots(c: Columns, from: number, to: number): TextWindowAggregate {
  const count = to - from;
  if (count <= 0) {
    return { textCount: 0, vaderMean: null, vaderStd: null, vaderPosShare: null, vaderNegShare: null, finbertCount: 0, finbertMean: null };
  }
  const { compounds, finberts } = c;
  let sum = 0;
  let pos = 0;
  let neg = 0;
  let fbCount = 0;
  let fbSum = 0;
  for (let i = from; i < to; i++) {
    const v = compounds[i] as number;
    sum += v;
    if (v >= VADER_POSITIVE_THRESHOLD) pos++;
    else if (v <= VADER_NEGATIVE_THRESHOLD) neg++;
    const f = finberts[i] as number;
    if (f === f) {
      fbCount++;
      fbSum += f;
    }
  }
  const mean = sum / count;
  return {
    textCount: count,
    vaderMean: mean,
    vaderStd: count >= 2 ? populationStd(compounds, from, to, mean) : null,
    vaderPosShare: pos / count,
    vaderNegShare: neg / count,
    finbertCount: fbCount,
    finbertMean: fbCount === 0 ? null : fbSum / fbCount,
  };
}

/** Two-pass population standard deviation of xs[from, to): no catastrophic cancellation, same fixed order. */
function populationStd(xs: number[], from: number, to: number, mean: number): number {
  let sq = 0;
  for (let i = from; i < to; i++) {
    const d = (xs[i] as number) - mean;
    sq += d * d;
  }
  return Math.sqrt(sq / (to - from));
}

export function createTextIndex(): TextIndex {
  const c = emptyColumns();
  // Ids of the items held: the dedupe set, emptied of an id when its item is evicted.
  const live = new Set<string>();
  /** Evicts the live slots before `end`, forgetting their ids. */
  function evictTo(end: number): number {
    const dropped = end - c.head;
    if (dropped <= 0) return 0;
    for (let i = c.head; i < end; i++) live.delete(c.ids[i] as string);
    dropBefore(c, end);
    return dropped;
  }
  return {
    add(item) {
      validateItem(item);
      if (live.has(item.id)) return 'duplicate';
      live.add(item.id);
      insertSorted(c, item);
      return 'added';
    },
    aggregate(t, windowMs) {
      validateTime('t', t);
      validateWindow(windowMs);
      return aggregateSlots(c, upperBoundTime(c, t - windowMs), upperBoundTime(c, t));
    },
    evictBefore(time) {
      validateTime('time', time);
      return evictTo(upperBoundTime(c, time));
    },
    evictOldest(count) {
      if (!Number.isSafeInteger(count) || count < 0) throw invalid(`text index: count must be a non-negative safe integer, got ${String(count)}`);
      return evictTo(Math.min(c.head + count, c.times.length));
    },
    get size() {
      return c.times.length - c.head;
    },
    get maxPublishedAt() {
      return c.times.length > c.head ? (c.times[c.times.length - 1] as number) : null;
    },
  };
}
