// The bound on the feature processor's text index: whatever text.scored holds, the index keeps
// only the texts a coming feature vector can still use, and never more than a hard cap.
//
// By time. A series' candles reach the join in order (the indicator engine refuses an older one),
// so the next vector of series s has t > newest(s), and its window (t - W, t] only holds texts
// published after newest(s) - W. Over every series seen, the texts at or before
//   horizon = min_s newest(s) - W - margin
// can therefore never count again: they are evicted, and a text that arrives at or before the
// horizon is refused as 'expired' (counted, not held). The margin (BITPREDICT_FEATURES_TEXT_
// RETAIN_MARGIN_MS) keeps a day more for what the rule cannot see: a series not seen yet whose first
// candle is older than the others' (a new symbol, or one this instance is handed by a rebalance),
// and the start of a restart (the floor below). A series that stops holds the horizon back; the cap
// then bounds the index.
//
// By count. Past `maxTexts` the oldest texts (publishedAt, then id) are dropped first, which is the
// least harmful choice (they leave the windows first), and counted: when the cap bites, vectors whose
// windows reach back to the dropped texts have fewer texts than the topic holds. Size the cap above
// the texts of one window plus the margin.
//
// The floor: on start the processor reads text.scored from a time (offsets by time), not from its
// beginning; texts at or before that time are refused like those behind the horizon.
import { createTextIndex, type TextIndex, type TextIndexItem } from './text-index.js';

export type BoundedAddOutcome = 'added' | 'duplicate' | 'expired';
export type EvictReason = 'time' | 'cap';

export interface BoundedTextIndex {
  /** The point-in-time index (aggregate, size); add through this object so the bound holds. */
  readonly index: TextIndex;
  /** Adds a text: 'expired' when it is at or before the horizon (never held). Throws ERR_VALIDATION on bad input. */
  add(item: TextIndexItem): BoundedAddOutcome;
  /** A vector of `series` at `t` has been computed: moves the horizon and evicts behind it. Returns the count evicted. */
  noteCandle(series: string, t: number): number;
  /** Texts at or before this time are not needed (the start's restore point); only ever raises the horizon. */
  setFloor(time: number): void;
  /** Texts published at or before this are not held; null: no bound by time yet. */
  readonly horizon: number | null;
}

export function createBoundedTextIndex(o: {
  windowMs: number;
  marginMs: number;
  maxTexts: number;
  onEvict?(reason: EvictReason, count: number): void;
}): BoundedTextIndex {
  const index = createTextIndex();
  const newest = new Map<string, number>();
  let floor: number | null = null;
  let byCandles: number | null = null;

  const horizon = (): number | null => (floor === null ? byCandles : byCandles === null ? floor : Math.max(floor, byCandles));

  function evictBehind(): number {
    const h = horizon();
    if (h === null) return 0;
    const n = index.evictBefore(h);
    if (n > 0) o.onEvict?.('time', n);
    return n;
  }

  return {
    index,
    add(item) {
      const h = horizon();
      if (h !== null && Number.isSafeInteger(item.publishedAt) && item.publishedAt <= h) return 'expired';
      const outcome = index.add(item);
      if (index.size > o.maxTexts) {
        const n = index.evictOldest(index.size - o.maxTexts);
        o.onEvict?.('cap', n);
      }
      return outcome;
    },
    noteCandle(series, t) {
      const prev = newest.get(series);
      if (prev !== undefined && prev >= t) return 0;
      newest.set(series, t);
      let min = Number.POSITIVE_INFINITY;
      for (const v of newest.values()) if (v < min) min = v;
      byCandles = min - o.windowMs - o.marginMs;
      return evictBehind();
    },
    setFloor(time) {
      if (floor === null || time > floor) floor = time;
      evictBehind();
    },
    get horizon() {
      return horizon();
    },
  };
}
