// Replay against the real stack: dedupe on restart (resume) and the other real price files.
// Resume: a second run with a larger limit publishes only the missing candles, a third publishes
// nothing, and an aborted run followed by a resume leaves the full set exactly once. The other
// files (README 1a-1e) are replayed on slices and compared with an independent reading of the
// file written here: original event times, keep-last for duplicated minutes, gaps kept as gaps.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { runReplay, type ReplayOptions, type ReplaySummary } from '../../producers/replay/service.js';
import { createProducer } from '../../core/kafka/producer.js';

const H = 3_600_000;
const D = 24 * H;

interface Ref {
  openTime: number;
  close: number;
  volume: number;
}

function csvRows(rel: string): string[][] {
  return readFileSync(join(DATA_DIR, rel), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/\r$/, '').split(','));
}

async function replay(tp: TestPlatform, opts: Omit<ReplayOptions, 'platform' | 'config' | 'producer'>): Promise<ReplaySummary> {
  const producer = await createProducer(tp.platform.kafka);
  try {
    return await runReplay({ platform: tp.platform, config: tp.config, producer, ...opts });
  } finally {
    await producer.close();
  }
}

async function candlesOf(
  tp: TestPlatform,
  key: string,
): Promise<{ openTime: number; closeTime: number; close: number; volume: number; timestamp: number; quoteVolume: number | null; tradeCount: number | null }[]> {
  const all = await tp.readAll('candles');
  return all
    .filter((r) => r.key === key)
    .map((r) => {
      const v = r.value;
      if (!v) throw new Error(`record at offset ${r.offset} did not decode`);
      return {
        openTime: v.openTime,
        closeTime: v.closeTime,
        close: v.close,
        volume: v.volume,
        timestamp: r.timestamp,
        quoteVolume: v.quoteVolume,
        tradeCount: v.tradeCount,
      };
    });
}

describe.skipIf(!hasSharedData(HOURLY_MERGED))('replay resume (dedupe on restart)', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await createTestPlatform('replay-resume');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  it('limit 300 then limit 500 leaves exactly 500 candles in order; a third run publishes nothing', async () => {
    const expected = csvRows(HOURLY_MERGED)
      .slice(0, 500)
      .map((c) => Number(c[0]));
    const base = { file: HOURLY_MERGED, symbol: 'BTCUSDT', interval: '1h', rate: 0, resume: true };
    const first = await replay(tp, { ...base, limit: 300 });
    expect(first).toMatchObject({ published: 300, skippedExisting: 0, resumedAfter: null });
    const second = await replay(tp, { ...base, limit: 500 });
    expect(second).toMatchObject({ published: 200, skippedExisting: 300, resumedAfter: expected[299] });
    const third = await replay(tp, { ...base, limit: 500 });
    expect(third).toMatchObject({ published: 0, skippedExisting: 500, resumedAfter: expected[499] });
    const candles = await candlesOf(tp, 'BTCUSDT:1h');
    expect(candles.map((c) => c.openTime)).toEqual(expected);
    expect(candles.map((c) => c.timestamp)).toEqual(expected.map((t) => t + H));
  });

  it('an aborted run followed by a resume publishes the full set exactly once', async () => {
    const expected = csvRows(HOURLY_MERGED)
      .slice(0, 3000)
      .map((c) => Number(c[0]));
    const base = { file: HOURLY_MERGED, symbol: 'ABORTUSDT', interval: '1h', rate: 0, resume: true, limit: 3000, batchSize: 100 };
    const ac = new AbortController();
    const aborted = await replay(tp, { ...base, signal: ac.signal, onProgress: (p) => p.published >= 700 && ac.abort() });
    expect(aborted.aborted).toBe(true);
    expect(aborted.published).toBeGreaterThanOrEqual(700);
    expect(aborted.published).toBeLessThan(3000);
    const resumed = await replay(tp, base);
    expect(resumed.aborted).toBe(false);
    expect(resumed.skippedExisting).toBe(aborted.published);
    expect(resumed.published + aborted.published).toBe(3000);
    const candles = await candlesOf(tp, 'ABORTUSDT:1h');
    expect(candles.map((c) => c.openTime)).toEqual(expected);
  });

  it('without resume, a second run publishes again (the option is off unless asked for)', async () => {
    const base = { file: HOURLY_MERGED, symbol: 'NORESUME', interval: '1h', rate: 0, limit: 20 };
    await replay(tp, base);
    const again = await replay(tp, base);
    expect(again).toMatchObject({ published: 20, skippedExisting: 0, resumedAfter: null });
    expect(await candlesOf(tp, 'NORESUME:1h')).toHaveLength(40);
  });
});

// The other real price files (README 1a..1e): each test is skipped without its file.
const [F1A, F1B, F1C, F1D, F1E] = [
  'btc_binance_spot_1h_2017_2022/BTC_USDT-1h.json',
  'btc_binance_spot_1h_2022_2025/BTCUSDT_1h.csv',
  'btc_binance_spot_1h_2023_2026/BTCUSDT_1h.csv',
  'btc_binance_spot_1m_2024_03/BTCUSDT-1m.csv',
  'btc_usd_yahoo_daily_2014_2025/BTC-USD.csv',
];

describe('replay of the other real price files', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await createTestPlatform('replay-files');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  async function check(symbol: string, interval: string, file: string, ref: Ref[], opts: Partial<ReplayOptions> = {}): Promise<ReplaySummary> {
    const summary = await replay(tp, { file, symbol, interval, rate: 0, ...opts });
    const candles = await candlesOf(tp, `${symbol}:${interval}`);
    const len = interval === '1d' ? D : interval === '1m' ? 60_000 : H;
    expect(candles.map((c) => [c.openTime, c.close, c.volume])).toEqual(ref.map((r) => [r.openTime, r.close, r.volume]));
    expect(candles.every((c) => c.closeTime === c.openTime + len && c.timestamp === c.closeTime)).toBe(true);
    expect(summary.published).toBe(ref.length);
    return summary;
  }

  it.skipIf(!hasSharedData(F1A))('1a freqtrade JSON: a slice across a 6-hour outage keeps the gap', async () => {
    const rel = 'btc_binance_spot_1h_2017_2022/BTC_USDT-1h.json';
    const entries = JSON.parse(readFileSync(join(DATA_DIR, rel), 'utf8')) as number[][];
    const slice = entries.slice(480, 510).map((e) => ({ openTime: e[0] as number, close: e[4] as number, volume: e[5] as number }));
    const summary = await check('FT1A', '1h', rel, slice, { from: slice[0]?.openTime, limit: 30 });
    expect(summary).toMatchObject({ format: 'freqtrade-json', gaps: 1, missingIntervals: 6, deadLettered: 0 });
  });

  it.skipIf(!hasSharedData(F1B))('1b 2022-2025 CSV: the 2023-03-24 13:00 halt stays a gap', async () => {
    const rel = 'btc_binance_spot_1h_2022_2025/BTCUSDT_1h.csv';
    const from = Date.UTC(2023, 2, 24, 0);
    const slice = csvRows(rel)
      .map((c) => ({ openTime: Date.parse(`${c[0]?.replace(' ', 'T')}Z`), close: Number(c[4]), volume: Number(c[5]) }))
      .filter((r) => r.openTime >= from)
      .slice(0, 30);
    expect(slice.some((r) => r.openTime === from + 13 * H)).toBe(false);
    const summary = await check('CSV1B', '1h', rel, slice, { from, limit: 30 });
    expect(summary).toMatchObject({ format: 'binance-csv', gaps: 1, missingIntervals: 1 });
  });

  it.skipIf(!hasSharedData(F1C))('1c 2023-2026 CSV keeps quote volume and trade counts, and the same gap', async () => {
    const rel = 'btc_binance_spot_1h_2023_2026/BTCUSDT_1h.csv';
    const from = Date.UTC(2023, 2, 24, 0);
    const rows = csvRows(rel)
      .map((c) => ({
        openTime: Date.parse((c[2] ?? '').replace(' ', 'T')),
        close: Number(c[6]),
        volume: Number(c[7]),
        quoteVolume: Number(c[8]),
        tradeCount: Number(c[9]),
      }))
      .filter((r) => r.openTime >= from)
      .slice(0, 30);
    const summary = await check(
      'CSV1C',
      '1h',
      rel,
      rows.map(({ openTime, close, volume }) => ({ openTime, close, volume })),
      { from, limit: 30 },
    );
    expect(summary).toMatchObject({ format: 'binance-csv-ext', gaps: 1, missingIntervals: 1 });
    const candles = await candlesOf(tp, 'CSV1C:1h');
    expect(candles.map((c) => [c.quoteVolume, c.tradeCount])).toEqual(rows.map((r) => [r.quoteVolume, r.tradeCount]));
  });

  it.skipIf(!hasSharedData(F1D))('1d 1-minute file: duplicated minutes keep the last copy, the partial last minute is dropped', async () => {
    const rel = 'btc_binance_spot_1m_2024_03/BTCUSDT-1m.csv';
    const rows = csvRows(rel);
    const from = Number(rows[30880]?.[0]);
    // Independent keep-last dedupe of the file's tail, without its final (possibly partial) row.
    const byTime = new Map<number, Ref>();
    for (const c of rows.slice(0, -1)) {
      const openTime = Number(c[0]);
      if (openTime >= from) byTime.set(openTime, { openTime, close: Number(c[4]), volume: Number(c[5]) });
    }
    const ref = [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
    const duplicates = rows.slice(0, -1).filter((c) => Number(c[0]) >= from).length - ref.length;
    expect(duplicates).toBeGreaterThan(1);
    const summary = await check('M1D', '1m', rel, ref, { from });
    expect(summary).toMatchObject({ format: 'binance-1m-csv', duplicatesReplaced: duplicates, gaps: 0, droppedPartialLastRow: true, deadLettered: 0 });
  });

  it.skipIf(!hasSharedData(F1D))('1d 1-minute file from the start: the page overlap at row 1000 is one candle', async () => {
    const rel = 'btc_binance_spot_1m_2024_03/BTCUSDT-1m.csv';
    const rows = csvRows(rel).slice(0, 1101);
    const byTime = new Map<number, Ref>();
    for (const c of rows) byTime.set(Number(c[0]), { openTime: Number(c[0]), close: Number(c[4]), volume: Number(c[5]) });
    const ref = [...byTime.values()].slice(0, 1100);
    const summary = await check('M1S', '1m', rel, ref, { limit: 1100 });
    expect(summary).toMatchObject({ duplicatesReplaced: 1, gaps: 0 });
  });

  it.skipIf(!hasSharedData(F1E))('1e Yahoo daily: UTC-midnight days, USD volume as quote volume, partial last day dropped', async () => {
    const rel = 'btc_usd_yahoo_daily_2014_2025/BTC-USD.csv';
    const from = Date.UTC(2025, 10, 1);
    const all = csvRows(rel);
    const ref = all
      .slice(0, -1)
      .map((c) => ({ openTime: Date.parse(`${c[0]}T00:00:00Z`), close: Number(c[4]), volume: Number(c[5]) / Number(c[4]) }))
      .filter((r) => r.openTime >= from);
    expect(ref.at(-1)?.openTime).toBe(Date.UTC(2025, 10, 28));
    const summary = await check('YAHOO', '1d', rel, ref, { from });
    expect(summary).toMatchObject({ format: 'yahoo-daily-csv', gaps: 0, droppedPartialLastRow: true });
    const candles = await candlesOf(tp, 'YAHOO:1d');
    expect(candles.map((c) => c.quoteVolume)).toEqual(
      all
        .slice(0, -1)
        .filter((c) => Date.parse(`${c[0]}T00:00:00Z`) >= from)
        .map((c) => Number(c[5])),
    );
  });

  it.skipIf(!hasSharedData(F1B))("speedFactor paces by the candles' own spacing and still publishes every candle once", async () => {
    const rel = 'btc_binance_spot_1h_2022_2025/BTCUSDT_1h.csv';
    const from = Date.UTC(2023, 2, 24, 10);
    const slice = csvRows(rel)
      .map((c) => ({ openTime: Date.parse(`${c[0]?.replace(' ', 'T')}Z`), close: Number(c[4]), volume: Number(c[5]) }))
      .filter((r) => r.openTime >= from)
      .slice(0, 6);
    // 36000 x real time: one hour of data per 100 ms, the 13:00 gap a 200 ms pause.
    const summary = await check('SPEED', '1h', rel, slice, { from, limit: 6, speedFactor: 36_000 });
    expect(summary).toMatchObject({ gaps: 1, missingIntervals: 1 });
    await expect(replay(tp, { file: rel, symbol: 'SPEED2', interval: '1h', rate: 5, speedFactor: 10 })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(replay(tp, { file: rel, symbol: 'SPEED2', interval: '1h', rate: 0, speedFactor: -1 })).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });
});
