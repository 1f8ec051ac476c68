import { describe, expect, it } from 'vitest';
import { checkRow, checkSeries, csvLine, fileSymbol, remoteSymbol } from './history.js';

const H = 3_600_000;
const T = Date.parse('2024-03-01T00:00:00Z');
const binance = (over: Partial<Record<number, unknown>> = {}): unknown[] => {
  const row: unknown[] = [T, '100.5', '110', '95.25', '105', '12.5', T + H - 1, '1300', 42, '6', '600', '0'];
  for (const [i, v] of Object.entries(over)) row[Number(i)] = v;
  return row;
};

describe('checkRow', () => {
  it('reads a Binance kline (strings) and a Coinbase candle ([time_s, low, high, open, close, volume], numbers)', () => {
    expect(checkRow('binance', binance(), H)).toEqual({ ok: true, row: { openTime: T, open: 100.5, high: 110, low: 95.25, close: 105, volume: 12.5 } });
    expect(checkRow('coinbase', [T / 1000, 95.25, 110, 100.5, 105, 12.5], H)).toEqual({
      ok: true,
      row: { openTime: T, open: 100.5, high: 110, low: 95.25, close: 105, volume: 12.5 },
    });
    expect(csvLine({ openTime: T, open: 100.5, high: 110, low: 95.25, close: 105, volume: 12.5 })).toBe(`${T},100.5,110,95.25,105,12.5\n`);
  });

  it.each([
    ['a row that is not an array', { a: 1 }, 'row is object, not an array'],
    ['too few fields', [T, '1', '2'], 'row has 3 fields, expected 12'],
    ['a text open time', binance({ 0: '1709251200000' }), 'open time "1709251200000" is not a whole number'],
    ['a fractional open time', binance({ 0: T + 0.5 }), 'is not a whole number'],
    ['a non-numeric price', binance({ 2: 'NaN' }), 'high "NaN" is not a finite number'],
    ['an empty volume', binance({ 5: '' }), 'volume "" is not a finite number'],
    ['Infinity', binance({ 4: 'Infinity' }), 'close "Infinity" is not a finite number'],
    ['a time off the grid', binance({ 0: T + 60_000, 6: T + 60_000 + H - 1 }), 'open time is not on the 60-minute grid'],
    ['a close time that does not match', binance({ 6: T + H }), 'close time'],
    ['high below close', binance({ 2: '104' }), 'high 104 is below open or close'],
    ['low above open', binance({ 3: '101' }), 'low 101 is above open or close'],
    ['a negative volume', binance({ 5: '-1' }), 'volume -1 is negative'],
    ['a zero price', binance({ 1: '0', 3: '0' }), 'prices must be > 0'],
  ])('rejects %s', (_what, raw, reason) => {
    const r = checkRow('binance', raw, H);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.reason).toContain(reason);
  });

  it('rejects Coinbase rows of another arity or with a text time', () => {
    expect(checkRow('coinbase', [T / 1000, 1, 2, 1, 1], H)).toMatchObject({ ok: false, reason: 'row has 5 fields, expected 6' });
    expect(checkRow('coinbase', [T / 1000, 1, 2, 1, 1, 1, 7], H)).toMatchObject({ ok: false, reason: 'row has 7 fields, expected 6' });
    expect(checkRow('coinbase', ['1709251200', 1, 2, 1, 1, 1], H)).toMatchObject({ ok: false });
  });
});

describe('series checks', () => {
  it('maps symbols to each exchange and names files after them', () => {
    expect(remoteSymbol('binance', 'btcusdt')).toBe('BTCUSDT');
    expect(remoteSymbol('coinbase', 'BTCUSDT')).toBe('BTC-USD');
    expect(fileSymbol('coinbase', 'BTCUSDT')).toBe('BTCUSD');
    expect(() => remoteSymbol('coinbase', 'BTCXYZ')).toThrow(/no Coinbase product/);
    expect(() => remoteSymbol('binance', 'BTC/USDT')).toThrow(/not an exchange symbol/);
  });

  it('refuses unknown exchanges, unknown intervals and granularities Coinbase does not serve', () => {
    expect(() => checkSeries('kraken', '1h')).toThrow(/binance or coinbase/);
    expect(() => checkSeries('binance', '2h')).toThrow(/expected one of 1m, 5m, 15m, 1h, 4h, 1d/);
    expect(() => checkSeries('coinbase', '4h')).toThrow(/no candle granularity of 14400 s .*--exchange binance/);
    expect(() => checkSeries('binance', '4h')).not.toThrow();
    expect(() => checkSeries('coinbase', '1d')).not.toThrow();
  });
});
