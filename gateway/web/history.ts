// A session's history from REST: the backfill when a series is shown (models, then candles alone,
// then feature vectors and predictions), and the refill after the stream lost messages. Answers
// that come back for a session no longer on view are dropped.
import { AuthError, type Page } from './api.js';
import type { ChannelKind } from './protocol.js';
import type { Session } from './session.js';
import { addCandles, addFeatures, addPredictions } from './store.js';

/** Pages asked for at most per refill. */
const REFILL_PAGES = 10;

export interface HistoryDeps {
  /** The session on view, or null before the first. */
  shown(): Session | null;
  now(): number;
  /** The models answered: the stream may connect (it needs a key that works). */
  connect(symbol: string): void;
  /** The store changed: draw it. */
  changed(): void;
  /** Shown in the notice line of the session on view. */
  problem(words: string): void;
}

export interface History {
  /** Loads `s`'s history; rejects with AuthError or NetworkError when the gateway refused or was not reached. */
  backfill(s: Session): Promise<void>;
  /** Refills `kind` of the session on view after a gap; false when a request failed (reported as a problem). */
  refill(kind: ChannelKind): Promise<boolean>;
}

/** Pages of `next` from `first` on, until a page is not full (or REFILL_PAGES pages). */
async function refillPages<T>(
  first: number | undefined,
  next: (from: number | undefined) => Promise<Page<T>>,
  add: (items: T[]) => void,
  at: (x: T) => number,
): Promise<void> {
  let from = first;
  for (let i = 0; i < REFILL_PAGES; i++) {
    const page = await next(from);
    add(page.items);
    const last = page.items.at(-1);
    if (last === undefined || page.items.length < 2 || at(last) === from) return;
    from = at(last);
  }
}

/** Refills `kind` of `s` from its newest record on; null for scores, which are never refilled. */
function refillKind(s: Session, kind: ChannelKind, now: () => number): Promise<void> | null {
  const { symbol, interval } = s.store;
  if (kind === 'candles') {
    return refillPages(
      s.store.candles.at(-1)?.openTime,
      (f) => s.api.candles(symbol, interval, f === undefined ? {} : { from: f }),
      (x) => addCandles(s.store, x, now() + s.stepMs),
      (c) => c.openTime,
    );
  }
  if (kind === 'features') {
    return refillPages(
      s.store.features.at(-1)?.eventTime,
      (f) => s.api.features(symbol, interval, f === undefined ? {} : { from: f }),
      (x) => addFeatures(s.store, x),
      (x) => x.eventTime,
    );
  }
  if (kind === 'predictions') {
    let from: number | undefined;
    for (const p of s.store.predictions.values()) if (from === undefined || p.eventTime > from) from = p.eventTime;
    return refillPages(
      from,
      (f) => s.api.predictions(symbol, f === undefined ? {} : { from: f }),
      (x) => addPredictions(s.store, x),
      (p) => p.eventTime,
    );
  }
  // Scores need no refill: the snapshot that follows a gap holds the latest of each.
  return null;
}

export function createHistory(deps: HistoryDeps): History {
  /** Records of one REST page into the store; a failed request is reported, not thrown. */
  async function load<T>(s: Session, what: string, request: Promise<Page<T>>, add: (items: T[]) => void): Promise<T[] | null> {
    try {
      const page = await request;
      if (s !== deps.shown()) return null;
      if (page.rejected > 0) s.store.dropped.malformed += page.rejected;
      add(page.items);
      deps.changed();
      return page.items;
    } catch (err) {
      if (s !== deps.shown() || s.abort.signal.aborted) return null;
      if (err instanceof AuthError) throw err;
      deps.problem(`${what} unavailable: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }

  return {
    async backfill(s) {
      const { symbol, interval } = s.store;
      const models = await s.api.models();
      if (s !== deps.shown()) return;
      s.store.models = models;
      s.store.changes.models = true;
      deps.connect(symbol);
      // Candles first, alone: the gateway answers one request at a time on its CPU, and the chart
      // can be drawn from them while the (heavier) vectors and predictions are still on the way.
      await load(s, 'candle history', s.api.candles(symbol, interval), (items) => addCandles(s.store, items, deps.now() + s.stepMs));
      s.candlesLoaded = true;
      await Promise.all([
        load(s, 'feature history', s.api.features(symbol, interval), (items) => addFeatures(s.store, items)),
        load(s, 'prediction history', s.api.predictions(symbol), (items) => addPredictions(s.store, items)),
      ]);
      s.backfilled = true;
      deps.changed();
    },
    async refill(kind) {
      const s = deps.shown();
      if (s === null) return true;
      try {
        const pages = refillKind(s, kind, () => deps.now());
        if (pages !== null) await pages;
        deps.changed();
        return true;
      } catch (err) {
        deps.problem(`could not refill ${kind} after a gap: ${err instanceof Error ? err.message : String(err)}`);
        return false;
      }
    },
  };
}
