// Trade -> candle builder in event time. The watermark is the largest trade (or heartbeat) time
// seen; a candle closes once the watermark reaches closeTime + grace, and only then is it handed
// out, so a half-formed candle never leaves the builder. Policies:
// - a trade for a candle that has already closed is "late": counted by the caller and dropped
//   (the REST history, used for gap fill, stays the source of truth for that minute);
// - a trade id seen before within an open candle is a duplicate and ignored;
// - open/close/volume are computed at close from the trades sorted by (time, id), so any arrival
//   order of the same trades gives bit-identical candles (float sums depend on order);
// - an interval without trades produces no candle: nothing is fabricated.
import { intervalMs } from '../../../core/domain/intervals.js';
import type { CandleDraft, TradeTick } from './parse.js';

export type TradeOutcome = 'accepted' | 'duplicate' | 'late' | 'before-start';

export interface CandleBuilder {
  /** Adds a trade and moves the watermark; closed candles are collected by takeClosed(). */
  add(trade: TradeTick): TradeOutcome;
  /** Moves the watermark without a trade (an exchange heartbeat carrying exchange time). */
  advance(time: number): void;
  /** Candles closed by the watermark since the last call, oldest first. */
  takeClosed(): CandleDraft[];
  readonly watermark: number;
  /** Open times below this are closed: trades for them are late. */
  readonly closedBefore: number;
  /** Candles currently open. */
  readonly openCount: number;
}

interface Acc {
  ids: Set<number>;
  trades: TradeTick[];
}

const NONE: CandleDraft[] = [];

function byTimeThenId(a: TradeTick, b: TradeTick): number {
  return a.time - b.time || a.tradeId - b.tradeId;
}

export function createCandleBuilder(opts: {
  symbol: string;
  interval: string;
  exchange: string;
  source: string;
  graceMs: number;
  /** Trades opening before this candle open time are ignored (not counted late): used after a
   * reconnect, when the candle in progress missed trades and must come from REST instead. */
  startFrom?: number;
}): CandleBuilder {
  const len = intervalMs(opts.interval);
  const startFrom = opts.startFrom ?? Number.NEGATIVE_INFINITY;
  const open = new Map<number, Acc>();
  let watermark = Number.NEGATIVE_INFINITY;
  let closedBefore = startFrom;
  // Earliest watermark at which some open candle closes; avoids scanning the map per trade.
  let nextCloseAt = Number.POSITIVE_INFINITY;
  let closed: CandleDraft[] = NONE;

  function build(openTime: number, acc: Acc): CandleDraft {
    const trades = acc.trades.sort(byTimeThenId);
    const first = trades[0] as TradeTick;
    let high = first.price;
    let low = first.price;
    let volume = 0;
    let quoteVolume = 0;
    for (const t of trades) {
      if (t.price > high) high = t.price;
      if (t.price < low) low = t.price;
      volume += t.size;
      quoteVolume += t.price * t.size;
    }
    return {
      symbol: opts.symbol,
      interval: opts.interval,
      exchange: opts.exchange,
      openTime,
      closeTime: openTime + len,
      open: first.price,
      high,
      low,
      close: (trades[trades.length - 1] as TradeTick).price,
      volume,
      quoteVolume,
      tradeCount: trades.length,
      source: opts.source,
    };
  }

  function closeUpTo(): void {
    if (watermark < nextCloseAt) return;
    // Everything opening at or before this has closeTime + grace <= watermark.
    const lastClosedOpen = Math.floor((watermark - opts.graceMs - len) / len) * len;
    const ready = [...open.keys()].filter((t) => t <= lastClosedOpen).sort((a, b) => a - b);
    if (closed === NONE) closed = [];
    for (const t of ready) {
      closed.push(build(t, open.get(t) as Acc));
      open.delete(t);
    }
    closedBefore = Math.max(closedBefore, lastClosedOpen + len);
    nextCloseAt = Number.POSITIVE_INFINITY;
    for (const t of open.keys()) nextCloseAt = Math.min(nextCloseAt, t + len + opts.graceMs);
  }

  return {
    add(trade) {
      const openTime = trade.time - (((trade.time % len) + len) % len);
      if (openTime < startFrom) return 'before-start';
      if (openTime < closedBefore) return 'late';
      let acc = open.get(openTime);
      if (!acc) {
        acc = { ids: new Set(), trades: [] };
        open.set(openTime, acc);
        const at = openTime + len + opts.graceMs;
        if (at < nextCloseAt) nextCloseAt = at;
      }
      if (acc.ids.has(trade.tradeId)) return 'duplicate';
      acc.ids.add(trade.tradeId);
      acc.trades.push(trade);
      if (trade.time > watermark) {
        watermark = trade.time;
        closeUpTo();
      }
      return 'accepted';
    },
    advance(time) {
      if (time > watermark) {
        watermark = time;
        closeUpTo();
        // With no open candle, closedBefore still moves: a trade arriving now for a window the
        // watermark has passed would otherwise open (and later emit) a candle from one trade.
        const lastClosedOpen = Math.floor((watermark - opts.graceMs - len) / len) * len;
        closedBefore = Math.max(closedBefore, lastClosedOpen + len);
      }
    },
    takeClosed() {
      const out = closed;
      closed = NONE;
      return out;
    },
    get watermark() {
      return watermark;
    },
    get closedBefore() {
      return closedBefore;
    },
    get openCount() {
      return open.size;
    },
  };
}

/** The same OHLCV by a bare loop over trades already in order (no watermark, no dedupe): the benchmark baseline. */
export function bareOhlcv(
  trades: readonly TradeTick[],
  lenMs: number,
  onCandle: (openTime: number, o: number, h: number, l: number, c: number, v: number, n: number) => void,
): void {
  let cur = Number.NaN;
  let o = 0;
  let h = 0;
  let l = 0;
  let c = 0;
  let v = 0;
  let n = 0;
  for (const t of trades) {
    const openTime = t.time - (t.time % lenMs);
    if (openTime !== cur) {
      if (n > 0) onCandle(cur, o, h, l, c, v, n);
      cur = openTime;
      o = h = l = t.price;
      v = 0;
      n = 0;
    }
    if (t.price > h) h = t.price;
    if (t.price < l) l = t.price;
    c = t.price;
    v += t.size;
    n++;
  }
  if (n > 0) onCandle(cur, o, h, l, c, v, n);
}
