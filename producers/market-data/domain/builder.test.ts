import { describe, expect, it } from 'vitest';
import { bareOhlcv, createCandleBuilder } from './builder.js';
import type { CandleDraft, TradeTick } from './parse.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const MIN = 60_000;

function builder(graceMs = 2000, startFrom?: number) {
  return createCandleBuilder({
    symbol: 'BTCUSD',
    interval: '1m',
    exchange: 'coinbase',
    source: 'coinbase-ws',
    graceMs,
    ...(startFrom === undefined ? {} : { startFrom }),
  });
}

function trades(): TradeTick[] {
  return [
    { tradeId: 1, time: T0 + 1_000, price: 100, size: 0.1 },
    { tradeId: 2, time: T0 + 20_000, price: 105, size: 0.2 },
    { tradeId: 3, time: T0 + 40_000, price: 95, size: 0.3 },
    { tradeId: 4, time: T0 + 59_999, price: 101, size: 0.4 },
    { tradeId: 5, time: T0 + MIN + 500, price: 102, size: 1 },
    { tradeId: 6, time: T0 + 3 * MIN + 10, price: 99, size: 2 },
    { tradeId: 7, time: T0 + 4 * MIN + 5_000, price: 98, size: 1 },
  ];
}

function run(list: TradeTick[], graceMs = 2000): CandleDraft[] {
  const b = builder(graceMs);
  const out: CandleDraft[] = [];
  for (const t of list) {
    b.add(t);
    out.push(...b.takeClosed());
  }
  return out;
}

describe('createCandleBuilder', () => {
  it('builds OHLCV in event time and never emits an open candle', () => {
    const out = run(trades());
    expect(out.map((c) => c.openTime)).toEqual([T0, T0 + MIN, T0 + 3 * MIN]);
    expect(out[0]).toMatchObject({ open: 100, high: 105, low: 95, close: 101, tradeCount: 4, closeTime: T0 + MIN, symbol: 'BTCUSD', exchange: 'coinbase' });
    expect(out[0]?.volume).toBeCloseTo(1.0, 12);
    expect(out[0]?.quoteVolume).toBeCloseTo(100 * 0.1 + 105 * 0.2 + 95 * 0.3 + 101 * 0.4, 9);
    // The 4m candle is still open: its close + grace has not been passed.
  });

  it('fabricates no candle for an interval without trades', () => {
    const out = run(trades());
    expect(out.some((c) => c.openTime === T0 + 2 * MIN)).toBe(false);
  });

  it('gives identical candles for shuffled and duplicated trades (within grace)', () => {
    const inOrder = run(trades(), 10_000);
    const list = trades();
    const messy = [list[1], list[0], list[3], list[2], list[2], list[0], list[4], list[4], list[6], list[5], list[6]] as TradeTick[];
    // Trade 6 (3m) arrives after trade 7 (4m+5s): within the 10 s grace the 3m candle is still open.
    expect(run(messy, 10_000)).toEqual(inOrder);
    expect(inOrder.map((c) => c.openTime)).toEqual([T0, T0 + MIN]);
  });

  it('counts duplicates and ignores them', () => {
    const b = builder();
    const t = { tradeId: 9, time: T0 + 5, price: 1, size: 1 };
    expect(b.add(t)).toBe('accepted');
    expect(b.add({ ...t })).toBe('duplicate');
  });

  it('closes only when the watermark reaches closeTime + grace', () => {
    const b = builder(2000);
    b.add({ tradeId: 1, time: T0 + 10, price: 1, size: 1 });
    b.add({ tradeId: 2, time: T0 + MIN + 1999, price: 2, size: 1 });
    expect(b.takeClosed()).toEqual([]);
    b.add({ tradeId: 3, time: T0 + MIN + 2000, price: 3, size: 1 });
    expect(b.takeClosed().map((c) => c.close)).toEqual([1]);
  });

  it('drops a trade for an already closed candle as late, without changing the emitted candle', () => {
    const b = builder(0);
    b.add({ tradeId: 1, time: T0 + 10, price: 1, size: 1 });
    b.add({ tradeId: 2, time: T0 + MIN + 1, price: 2, size: 1 });
    const [first] = b.takeClosed();
    expect(first?.close).toBe(1);
    expect(b.add({ tradeId: 3, time: T0 + 30_000, price: 50, size: 1 })).toBe('late');
    expect(b.takeClosed()).toEqual([]);
  });

  it('heartbeats advance the watermark and close candles; later trades for passed windows are late', () => {
    const b = builder(1000);
    b.add({ tradeId: 1, time: T0 + 10, price: 1, size: 1 });
    b.advance(T0 + MIN + 1000);
    expect(b.takeClosed()).toHaveLength(1);
    b.advance(T0 + 5 * MIN + 1000);
    expect(b.add({ tradeId: 2, time: T0 + 3 * MIN, price: 1, size: 1 })).toBe('late');
    expect(b.openCount).toBe(0);
  });

  it('ignores trades before startFrom (a candle interrupted by a reconnect comes from REST)', () => {
    const b = builder(0, T0 + MIN);
    expect(b.add({ tradeId: 1, time: T0 + 59_000, price: 1, size: 1 })).toBe('before-start');
    expect(b.add({ tradeId: 2, time: T0 + MIN, price: 1, size: 1 })).toBe('accepted');
  });

  it('matches the bare baseline loop on in-order trades', () => {
    const base: number[][] = [];
    bareOhlcv(trades(), MIN, (t, o, h, l, c, _v, n) => base.push([t, o, h, l, c, n]));
    const out = run([...trades(), { tradeId: 99, time: T0 + 10 * MIN, price: 1, size: 1 }]);
    expect(out.map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.tradeCount])).toEqual(base);
  });
});
