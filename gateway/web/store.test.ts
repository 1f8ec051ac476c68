import { describe, expect, it } from 'vitest';
import {
  addCandles,
  addFeatures,
  addPredictions,
  addScores,
  candleClosingAt,
  createStore,
  insertByKey,
  MAX_PREDICTIONS,
  MAX_SERIES,
  takeChanges,
} from './store.js';
import { candle, feature, HOUR, prediction, score, T0 } from './testing.js';

describe('future-dated candles', () => {
  it('refuses a candle closing after the wall clock plus one interval, counts it, and keeps the last real one', () => {
    const s = createStore('BTCUSDT', '1h');
    const now = T0 + 3 * HOUR;
    addCandles(s, [candle(0, 100), candle(1, 101)], now + HOUR);
    addCandles(s, [candle(30, 999)], now + HOUR);
    expect(s.candles.map((c) => c.close)).toEqual([100, 101]);
    expect(s.dropped.future).toBe(1);
    // The candle closing exactly one interval ahead is still taken (clock skew of a few seconds at the edge).
    addCandles(s, [candle(3, 103)], now + HOUR);
    expect(s.candles.at(-1)?.close).toBe(103);
    expect(s.dropped.future).toBe(1);
  });
});

describe('candles in any order, any number of times', () => {
  it('appends new candles and reports where the chart must redraw from', () => {
    const s = createStore('BTCUSDT', '1h');
    addCandles(s, [candle(0, 100), candle(1, 101)]);
    expect(s.candles.map((c) => c.close)).toEqual([100, 101]);
    expect(takeChanges(s).candlesFrom).toBe(0);
    addCandles(s, [candle(2, 102)]);
    expect(takeChanges(s).candlesFrom).toBe(2);
  });

  it('ignores an exact duplicate, counts it, and redraws nothing', () => {
    const s = createStore('BTCUSDT', '1h');
    addCandles(s, [candle(0, 100), candle(1, 101)]);
    takeChanges(s);
    addCandles(s, [candle(1, 101), candle(0, 100)]);
    expect(s.candles).toHaveLength(2);
    expect(s.dropped.duplicate).toBe(2);
    expect(takeChanges(s).candlesFrom).toBeNull();
  });

  it('puts a late, older candle in its place and redraws from there', () => {
    const s = createStore('BTCUSDT', '1h');
    addCandles(s, [candle(0, 100), candle(2, 102), candle(3, 103)]);
    takeChanges(s);
    addCandles(s, [candle(1, 101)]);
    expect(s.candles.map((c) => c.openTime)).toEqual([0, 1, 2, 3].map((i) => T0 + i * HOUR));
    expect(takeChanges(s).candlesFrom).toBe(1);
  });

  it('replaces a candle of the same open time that differs (a correction)', () => {
    const s = createStore('BTCUSDT', '1h');
    addCandles(s, [candle(0, 100), candle(1, 101)]);
    takeChanges(s);
    addCandles(s, [candle(1, 101.5)]);
    expect(s.candles.map((c) => c.close)).toEqual([100, 101.5]);
    expect(takeChanges(s).candlesFrom).toBe(1);
  });

  it('skips other series silently and counts malformed ones', () => {
    const s = createStore('BTCUSDT', '1h');
    addCandles(s, [candle(0, 100, { interval: '1m' }), candle(0, 100, { symbol: 'ETHUSDT' }), null]);
    expect(s.candles).toEqual([]);
    expect(s.dropped.malformed).toBe(1);
  });

  it('keeps order whatever order a shuffled history arrives in', () => {
    const s = createStore('BTCUSDT', '1h');
    const order = [5, 3, 9, 0, 1, 8, 2, 7, 4, 6, 3, 9];
    addCandles(
      s,
      order.map((i) => candle(i, 100 + i)),
    );
    expect(s.candles.map((c) => c.close)).toEqual([...Array(10).keys()].map((i) => 100 + i));
  });

  it('finds the candle that closed at a time', () => {
    const list = [0, 1, 2, 4].map((i) => candle(i, 100 + i));
    expect(candleClosingAt(list, T0 + 3 * HOUR)?.close).toBe(102);
    expect(candleClosingAt(list, T0 + 4 * HOUR)).toBeUndefined();
    expect(candleClosingAt([], T0)).toBeUndefined();
  });
});

describe('insertByKey', () => {
  it('says what it did', () => {
    const list = [1, 3];
    const same = (a: number, b: number) => a === b;
    expect(insertByKey(list, 4, (x) => x, same)).toEqual({ result: 'append', index: 2 });
    expect(insertByKey(list, 2, (x) => x, same)).toEqual({ result: 'insert', index: 1 });
    expect(insertByKey(list, 3, (x) => x, same)).toEqual({ result: 'duplicate', index: 2 });
    expect(list).toEqual([1, 2, 3, 4]);
  });
});

describe('features, predictions and scores', () => {
  it('orders features by candle', () => {
    const s = createStore('BTCUSDT', '1h');
    addFeatures(s, [feature(2), feature(0), feature(1), null]);
    expect(s.features.map((f) => f.openTime)).toEqual([0, 1, 2].map((i) => T0 + i * HOUR));
    expect(s.dropped.malformed).toBe(1);
  });

  it('keeps one prediction per forecast (event time and forecaster) of the series', () => {
    const s = createStore('BTCUSDT', '1h');
    addPredictions(s, [prediction(T0, 100), prediction(T0, 100), prediction(T0, 100, { modelName: 'ewma' }), prediction(T0, 100, { interval: '4h' })]);
    expect([...s.predictions.keys()].sort()).toEqual([`${T0}|ewma`, `${T0}|lstm`]);
  });

  it('keeps the newest score of each forecaster, horizon and window; a late older one does not win', () => {
    const s = createStore('BTCUSDT', '1h');
    addScores(s, [score('lstm', 86_400_000, { eventTime: T0 + HOUR, samples: 20 })]);
    addScores(s, [score('lstm', 86_400_000, { eventTime: T0, samples: 10 }), score('lstm', 86_400_000, { horizonSteps: 4 })]);
    expect([...s.scores.values()].map((x) => [x.horizonSteps, x.samples])).toEqual([
      [1, 20],
      [4, 160],
    ]);
  });
});

describe('bounded memory under a long fast replay', () => {
  it('drops the oldest candles in steps once over the bound, and redraws the whole series then', () => {
    const s = createStore('BTCUSDT', '1h');
    addCandles(
      s,
      Array.from({ length: MAX_SERIES * 1.1 }, (_, i) => candle(i, 100)),
    );
    expect(s.candles).toHaveLength(MAX_SERIES * 1.1);
    takeChanges(s);
    addCandles(s, [candle(MAX_SERIES * 1.1, 100)]);
    expect(s.candles).toHaveLength(MAX_SERIES);
    expect(s.candles.at(-1)?.openTime).toBe(T0 + MAX_SERIES * 1.1 * HOUR);
    expect(takeChanges(s).candlesFrom).toBe(0);
  });

  it('keeps the newest predictions', () => {
    const s = createStore('BTCUSDT', '1h');
    const n = MAX_PREDICTIONS * 1.1 + 1;
    addPredictions(
      s,
      Array.from({ length: n }, (_, i) => prediction(T0 + i * HOUR, 100)),
    );
    expect(s.predictions.size).toBe(MAX_PREDICTIONS);
    expect(s.predictions.has(`${T0 + (n - 1) * HOUR}|lstm`)).toBe(true);
    expect(s.predictions.has(`${T0}|lstm`)).toBe(false);
  });
});
