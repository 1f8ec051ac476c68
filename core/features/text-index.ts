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

/** Compact the arrays once this many evicted slots sit in front of `head` (and they are at least half). */
const COMPACT_MIN = 1024;

export function createTextIndex(): TextIndex {
  // Slots [head, times.length) are live, sorted by (publishedAt, id).
  let times: number[] = [];
  let ids: string[] = [];
  let compounds: number[] = [];
  // NaN stands for "no FinBERT score" (validated inputs are never NaN); keeps the array all-double.
  let finberts: number[] = [];
  let head = 0;
  const live = new Set<string>();

  /** First live index whose publishedAt > time. */
  function upperBoundTime(time: number): number {
    let lo = head;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((times[mid] as number) <= time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First live index whose (publishedAt, id) > (time, id). */
  function upperBoundKey(time: number, id: string): number {
    let lo = head;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const tm = times[mid] as number;
      if (tm < time || (tm === time && (ids[mid] as string) < id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function compact(): void {
    times = times.slice(head);
    ids = ids.slice(head);
    compounds = compounds.slice(head);
    finberts = finberts.slice(head);
    head = 0;
  }

  function add(item: TextIndexItem): 'added' | 'duplicate' {
    validateItem(item);
    if (live.has(item.id)) return 'duplicate';
    live.add(item.id);
    const fb = item.finbert === null ? Number.NaN : item.finbert;
    const n = times.length;
    const lastTime = n > head ? (times[n - 1] as number) : Number.NEGATIVE_INFINITY;
    if (item.publishedAt > lastTime || (item.publishedAt === lastTime && item.id > (ids[n - 1] as string))) {
      times.push(item.publishedAt);
      ids.push(item.id);
      compounds.push(item.compound);
      finberts.push(fb);
    } else {
      const at = upperBoundKey(item.publishedAt, item.id);
      times.splice(at, 0, item.publishedAt);
      ids.splice(at, 0, item.id);
      compounds.splice(at, 0, item.compound);
      finberts.splice(at, 0, fb);
    }
    return 'added';
  }

  function aggregate(t: number, windowMs: number): TextWindowAggregate {
    validateTime('t', t);
    if (!Number.isSafeInteger(windowMs) || windowMs <= 0) {
      throw invalid(`text index: windowMs must be a positive safe integer (ms), got ${String(windowMs)}`);
    }
    const from = upperBoundTime(t - windowMs);
    const to = upperBoundTime(t);
    const count = to - from;
    if (count <= 0) {
      return { textCount: 0, vaderMean: null, vaderStd: null, vaderPosShare: null, vaderNegShare: null, finbertCount: 0, finbertMean: null };
    }
    let sum = 0;
    let pos = 0;
    let neg = 0;
    let fbCount = 0;
    let fbSum = 0;
    for (let i = from; i < to; i++) {
      const c = compounds[i] as number;
      sum += c;
      if (c >= VADER_POSITIVE_THRESHOLD) pos++;
      else if (c <= VADER_NEGATIVE_THRESHOLD) neg++;
      const f = finberts[i] as number;
      if (f === f) {
        fbCount++;
        fbSum += f;
      }
    }
    const mean = sum / count;
    let std: number | null = null;
    if (count >= 2) {
      // Two-pass population variance: no catastrophic cancellation, same fixed order.
      let sq = 0;
      for (let i = from; i < to; i++) {
        const d = (compounds[i] as number) - mean;
        sq += d * d;
      }
      std = Math.sqrt(sq / count);
    }
    return {
      textCount: count,
      vaderMean: mean,
      vaderStd: std,
      vaderPosShare: pos / count,
      vaderNegShare: neg / count,
      finbertCount: fbCount,
      finbertMean: fbCount === 0 ? null : fbSum / fbCount,
    };
  }

  function evictBefore(time: number): number {
    validateTime('time', time);
    const end = upperBoundTime(time);
    const dropped = end - head;
    if (dropped <= 0) return 0;
    for (let i = head; i < end; i++) live.delete(ids[i] as string);
    head = end;
    if (head === times.length) {
      times = [];
      ids = [];
      compounds = [];
      finberts = [];
      head = 0;
    } else if (head >= COMPACT_MIN && head * 2 >= times.length) {
      compact();
    }
    return dropped;
  }

  return {
    add,
    aggregate,
    evictBefore,
    get size() {
      return times.length - head;
    },
    get maxPublishedAt() {
      return times.length > head ? (times[times.length - 1] as number) : null;
    },
  };
}
