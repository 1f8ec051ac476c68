// The common rules of both backtest sources (filtering, dedupe, order, gaps, coverage errors) as
// pure functions, and the files path on slices of the real data.
import { describe, expect, it } from 'vitest';
import { isBitPredictError } from '../../core/errors.js';
import type { Candle, ScoredText } from '../../schemas/types.js';
import type { BacktestRange } from './types.js';
import {
  assembleEvents,
  checkCoverage,
  checkRange,
  findGaps,
  loadEventsFromFiles,
  scoreText,
  selectCandles,
  selectTexts,
  warmupStart,
  type AssembleInput,
} from './source.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../test/helpers/shared-data.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 2, 1);
const RANGE: BacktestRange = { symbol: 'BTCUSDT', interval: '1h', from: T0, to: T0 + 24 * H };

function candle(openTime: number, o: Partial<Candle> = {}): Candle {
  return {
    symbol: 'BTCUSDT',
    interval: '1h',
    exchange: 'binance',
    openTime,
    closeTime: openTime + H,
    open: 100,
    high: 101,
    low: 99,
    close: 100.5,
    volume: 1,
    quoteVolume: null,
    tradeCount: null,
    source: 'test',
    ingestedAt: 1_900_000_000_000,
    ...o,
  };
}

function text(id: string, publishedAt: number, o: Partial<ScoredText> = {}): ScoredText {
  return {
    id,
    source: 'test',
    kind: 'tweet',
    publishedAt,
    vader: { compound: 0.1, pos: 0.2, neu: 0.8, neg: 0 },
    finbert: null,
    vaderVersion: 'v',
    scoredAt: 42,
    ...o,
  };
}

/** Hourly candles opening at T0 + h*H for each h in hours. */
function series(hours: number[]): Candle[] {
  return hours.map((h) => candle(T0 + h * H));
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

function input(o: Partial<AssembleInput>): AssembleInput {
  return {
    source: 'kafka',
    range: RANGE,
    warmupBars: 4,
    sentimentWindowMs: 2 * H,
    candles: series(range(-4, 24)),
    texts: [],
    provenance: ['p'],
    where: 'topic t',
    ...o,
  };
}

function rangeError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isBitPredictError(err) && err.code === 'ERR_BACKTEST_RANGE') return err.message;
    throw err;
  }
  throw new Error('expected ERR_BACKTEST_RANGE');
}

describe('backtest source: common rules', () => {
  it('validates the range and computes the warm-up start', () => {
    expect(checkRange(RANGE, 10)).toBe(H);
    expect(warmupStart(RANGE, 10)).toBe(T0 - 10 * H);
    expect(rangeError(() => checkRange({ ...RANGE, to: RANGE.from }, 0))).toMatch(/empty/);
    expect(rangeError(() => checkRange({ ...RANGE, from: 1.5 }, 0))).toMatch(/safe integers/);
    expect(rangeError(() => checkRange({ ...RANGE, interval: '2h' }, 0))).toMatch(/interval "2h" is unknown/);
    expect(() => checkRange(RANGE, -1)).toThrow(/warmupBars/);
  });

  it('keeps the series inside [warmupFrom, to], one per openTime (last wins), sorted, ingestedAt = closeTime', () => {
    const replaced = candle(T0 + 2 * H, { close: 100.9 });
    const read = [
      ...series([5, 3, 2, 1, 0, -1, -2, -3]),
      replaced,
      candle(T0 - 5 * H), // before the warm-up
      candle(T0 + 24 * H), // closes after `to`
      candle(Date.UTC(2030, 0, 1)), // future-dated
      candle(T0 + 4 * H, { symbol: 'ETHUSDT' }),
      candle(T0 + 4 * H, { interval: '4h', closeTime: T0 + 8 * H }),
    ];
    const got = selectCandles(read, RANGE, T0 - 3 * H);
    expect(got.map((c) => (c.openTime - T0) / H)).toEqual([-3, -2, -1, 0, 1, 2, 3, 5]);
    expect(got.find((c) => c.openTime === T0 + 2 * H)?.close).toBe(100.9);
    expect(got.every((c) => c.ingestedAt === c.closeTime)).toBe(true);
    // Fixed key order, whatever the input's order was: the JSON of equal data is byte-identical.
    const shuffled = Object.fromEntries(Object.entries(candle(T0)).reverse()) as unknown as Candle;
    expect(JSON.stringify(selectCandles([shuffled], RANGE, T0))).toBe(JSON.stringify(selectCandles([candle(T0)], RANGE, T0)));
  });

  it('keeps texts in [from, to), one per id (last wins), sorted by publishedAt then id, scoredAt = publishedAt', () => {
    const got = selectTexts(
      [
        text('b', T0),
        text('a', T0),
        text('c', T0 - 3 * H),
        text('d', T0 + 5 * H),
        text('x', T0 + 10 * H),
        text('a', T0, { source: 'again' }),
        text('f', Date.UTC(2030, 0, 1)),
      ],
      T0 - H,
      T0 + 10 * H,
    );
    expect(got.map((t) => t.id)).toEqual(['a', 'b', 'd']);
    expect(got[0]?.source).toBe('again');
    expect(got.every((t) => t.scoredAt === t.publishedAt)).toBe(true);
  });

  it('scores a TextItem with VADER as the sentiment processor does, without the wall clock', () => {
    const s = scoreText({ id: 'i', source: 's', kind: 'news', publishedAt: 5, title: 'Bitcoin soars', text: 'Great gains' });
    expect(s).toMatchObject({ id: 'i', kind: 'news', publishedAt: 5, finbert: null, scoredAt: 5 });
    expect(s.vader.compound).toBeGreaterThan(0);
  });

  it('finds gaps between candles and at the head and tail of [warmupFrom, to)', () => {
    const c = series([-2, -1, 0, 1, 4, 5, 9, 10, 11]);
    expect(findGaps(c, T0 - 4 * H, T0 + 13 * H, H)).toEqual([
      { from: T0 - 4 * H, to: T0 - 2 * H, missingBars: 2 },
      { from: T0 + 2 * H, to: T0 + 4 * H, missingBars: 2 },
      { from: T0 + 6 * H, to: T0 + 9 * H, missingBars: 3 },
      { from: T0 + 12 * H, to: T0 + 13 * H, missingBars: 1 },
    ]);
    expect(findGaps(series(range(-2, 12)), T0 - 2 * H, T0 + 12 * H, H)).toEqual([]);
    // Unaligned bounds: only whole bars inside count.
    expect(findGaps(series(range(-2, 12)), T0 - 2.5 * H, T0 + 12.5 * H, H)).toEqual([]);
    expect(findGaps([], T0, T0 + H, H)).toEqual([]);
  });

  it('refuses ranges the candles do not cover, naming the requested and the available range', () => {
    expect(rangeError(() => checkCoverage([], RANGE, T0 - 4 * H, 'topic t'))).toMatch(
      /holds no BTCUSDT:1h candle between 2024-02-29T20:00:00.000Z and 2024-03-02T00:00:00.000Z/,
    );
    const late = rangeError(() => checkCoverage(series(range(1, 24)), RANGE, T0 - 4 * H, 'topic t'));
    expect(late).toContain('requested BTCUSDT:1h 2024-03-01T00:00:00.000Z .. 2024-03-02T00:00:00.000Z');
    expect(late).toContain('topic t holds BTCUSDT:1h candles from 2024-03-01T01:00:00.000Z to 2024-03-02T00:00:00.000Z');
    expect(rangeError(() => checkCoverage(series(range(0, 22)), RANGE, T0 - 4 * H, 'topic t'))).toMatch(/ends before the range/);
    // A missing warm-up head, or a missing last bar, is a gap, not an error.
    expect(() => checkCoverage(series(range(0, 23)), RANGE, T0 - 4 * H, 'topic t')).not.toThrow();
  });

  it('assembles the events: same output for any read order and duplicates; future-dated records cannot change it', () => {
    const base = assembleEvents(input({ texts: [text('a', T0 - 5 * H), text('b', T0 - 6 * H - 1), text('c', T0 + 3 * H)] }));
    expect(base).toMatchObject({ source: 'kafka', warmupFrom: T0 - 4 * H, gaps: [], provenance: ['p'] });
    expect(base.candles).toHaveLength(28);
    expect(base.texts.map((t) => t.id)).toEqual(['a', 'c']);
    const messy = assembleEvents(
      input({
        candles: [...series(range(-4, 24)).reverse(), candle(T0 + 3 * H), candle(Date.UTC(2030, 0, 1)), candle(T0 + 24 * H)],
        texts: [text('c', T0 + 3 * H), text('z', T0 + 24 * H), text('a', T0 - 5 * H), text('f', Date.UTC(2030, 0, 1)), text('c', T0 + 3 * H)],
      }),
    );
    expect(JSON.stringify(messy)).toBe(JSON.stringify(base));
    const holed = assembleEvents(input({ candles: series([...range(-2, 5), ...range(8, 24)]) }));
    expect(holed.gaps).toEqual([
      { from: T0 - 4 * H, to: T0 - 2 * H, missingBars: 2 },
      { from: T0 + 5 * H, to: T0 + 8 * H, missingBars: 3 },
    ]);
    expect(() => assembleEvents(input({ candles: series(range(2, 24)) }))).toThrow(/data starts after the range/);
  });
});

const DATA_DIR = SHARED_DATA_DIR;
const HOURLY = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const NEWS = 'crypto_news_2021_2022/cryptonews.csv';

describe.skipIf(!hasSharedData(HOURLY, NEWS))('backtest source: files (real data)', () => {
  it('reads the real outage of 2018-02-08 as a gap and the news of the window', async () => {
    const r: BacktestRange = { symbol: 'BTCUSDT', interval: '1h', from: Date.UTC(2018, 1, 7), to: Date.UTC(2018, 1, 11) };
    const ev = await loadEventsFromFiles({ dataDir: DATA_DIR, candleFile: HOURLY, textFiles: [], range: r, warmupBars: 24, now: () => Date.UTC(2026, 0, 1) });
    expect(ev.source).toBe('files');
    expect(ev.warmupFrom).toBe(r.from - 24 * H);
    expect(ev.gaps.length).toBeGreaterThanOrEqual(1);
    expect(ev.gaps.some((g) => g.from <= Date.UTC(2018, 1, 8, 1) && g.to >= Date.UTC(2018, 1, 9, 9))).toBe(true);
    expect(ev.candles.length + ev.gaps.reduce((n, g) => n + g.missingBars, 0)).toBe(24 + 96);
    expect(ev.provenance[0]).toContain('BTCUSDT_1h_merged.csv');

    const n = await loadEventsFromFiles({
      dataDir: DATA_DIR,
      candleFile: HOURLY,
      textFiles: [NEWS],
      range: { ...r, from: Date.UTC(2021, 10, 1), to: Date.UTC(2021, 10, 3) },
      warmupBars: 10,
      sentimentWindowMs: 4 * H,
    });
    expect(n.texts.length).toBeGreaterThan(0);
    expect(
      n.texts.every((t) => t.publishedAt >= n.warmupFrom - 4 * H && t.publishedAt < Date.UTC(2021, 10, 3) && t.scoredAt === t.publishedAt && t.kind === 'news'),
    ).toBe(true);
  });

  it('refuses a range before the file starts, naming what the file holds', async () => {
    const r: BacktestRange = { symbol: 'BTCUSDT', interval: '1h', from: Date.UTC(2017, 0, 1), to: Date.UTC(2017, 8, 1) };
    await expect(loadEventsFromFiles({ dataDir: DATA_DIR, candleFile: HOURLY, textFiles: [], range: r, warmupBars: 0 })).rejects.toThrow(
      /requested BTCUSDT:1h 2017-01-01T00:00:00.000Z .. 2017-09-01T00:00:00.000Z.*holds BTCUSDT:1h candles from 2017-08-17T04:00:00.000Z/,
    );
  });
});
