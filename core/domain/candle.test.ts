import { describe, it, expect } from 'vitest';
import type { Candle } from '../../schemas/types.js';
import { toCandle, validateCandle } from './candle.js';
import type { CandleRow } from '../data/candles/formats.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1, 12);
const NOW = Date.UTC(2024, 5, 1);
const row: CandleRow = { openTime: T0, open: 100, high: 110, low: 95, close: 105, volume: 3, quoteVolume: null, tradeCount: null };
const meta = { symbol: 'BTCUSDT', interval: '1h', exchange: 'binance', source: 'replay:test.csv', ingestedAt: NOW };

function candle(over: Partial<Candle> = {}): Candle {
  return { ...toCandle(row, meta), ...over };
}

describe('toCandle', () => {
  it('sets closeTime = openTime + interval and copies meta', () => {
    expect(toCandle(row, meta)).toEqual({
      symbol: 'BTCUSDT',
      interval: '1h',
      exchange: 'binance',
      openTime: T0,
      closeTime: T0 + H,
      open: 100,
      high: 110,
      low: 95,
      close: 105,
      volume: 3,
      quoteVolume: null,
      tradeCount: null,
      source: 'replay:test.csv',
      ingestedAt: NOW,
    });
    expect(toCandle(row, { ...meta, interval: '1d' }).closeTime).toBe(T0 + 86_400_000);
  });
  it('throws ERR_VALIDATION for an unknown interval', () => {
    expect(() => toCandle(row, { ...meta, interval: '3h' })).toThrow(/unknown interval "3h"/);
  });
});

describe('validateCandle', () => {
  it('accepts a good candle, and one closing exactly at now + tolerance', () => {
    expect(validateCandle(candle(), NOW, 0)).toBeNull();
    expect(validateCandle(candle(), T0 + H - 1000, 1000)).toBeNull();
    expect(validateCandle(candle({ interval: '1d', openTime: Date.UTC(2024, 0, 1), closeTime: Date.UTC(2024, 0, 2) }), NOW, 0)).toBeNull();
    expect(validateCandle(candle({ open: 95, close: 110 }), NOW, 0)).toBeNull();
  });

  const cases: Array<[string, Partial<Candle>, string]> = [
    ['high < low', { high: 100, low: 101, open: 100, close: 100 }, 'high 100 < low 101'],
    ['high < open', { open: 111 }, 'high 110 < open 111'],
    ['high < close', { close: 111 }, 'high 110 < close 111'],
    ['low > open', { open: 94 }, 'low 95 > open 94'],
    ['low > close', { close: 94 }, 'low 95 > close 94'],
    ['negative price', { low: -1 }, 'low -1 is not > 0'],
    ['zero price', { open: 0 }, 'open 0 is not > 0'],
    ['negative volume', { volume: -0.5 }, 'volume -0.5 is negative'],
    ['NaN close', { close: Number.NaN }, 'close NaN is not a finite number'],
    ['infinite high', { high: Number.POSITIVE_INFINITY }, 'high Infinity is not a finite number'],
    ['fractional time', { openTime: T0 + 0.5 }, `openTime ${T0 + 0.5} is not an integer of ms`],
    ['negative quote volume', { quoteVolume: -1 }, 'quoteVolume -1 is not a finite number >= 0'],
    ['fractional trade count', { tradeCount: 1.5 }, 'tradeCount 1.5 is not an integer >= 0'],
    ['empty symbol', { symbol: '' }, 'symbol is empty'],
    ['unknown interval', { interval: '2h' }, 'unknown interval "2h"'],
    ['misaligned open', { openTime: T0 + 60_000, closeTime: T0 + 60_000 + H }, 'openTime 2024-01-01T12:01:00.000Z is not aligned to 1h'],
    [
      'daily candle not at UTC midnight',
      { interval: '1d', openTime: T0, closeTime: T0 + 86_400_000 },
      'openTime 2024-01-01T12:00:00.000Z is not aligned to 1d',
    ],
    ['wrong close time', { closeTime: T0 + H - 1 }, 'closeTime 2024-01-01T12:59:59.999Z is not openTime + 1h (2024-01-01T13:00:00.000Z)'],
    ['future-dated', { openTime: Date.UTC(2099, 0, 1), closeTime: Date.UTC(2099, 0, 1) + H }, 'closeTime 2099-01-01T01:00:00.000Z is in the future'],
  ];
  it.each(cases)('rejects %s', (_name, over, expected) => {
    expect(validateCandle(candle(over), NOW, 300_000)).toEqual({ code: 'ERR_VALIDATION', reason: expected });
  });

  it('rejects a candle that has not closed yet at now (tolerance 0)', () => {
    expect(validateCandle(candle(), T0 + H - 1, 0)?.reason).toMatch(/is in the future/);
  });
});
