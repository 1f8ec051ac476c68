// Parses the real price files of ../shared/data (README section 1) in place. The test does the
// file I/O; the code under test stays pure.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { toCandle, validateCandle } from '../../domain/candle.js';
import { KNOWN_PARTIAL_LAST_ROW, detectFormat, parseCsvRow, parseJsonEntry, type CandleRow, type ReplayFormat } from './formats.js';
import { intervalMs } from '../../domain/intervals.js';
import { createRowSequencer, type SequencerStats } from './sequencer.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../../test/helpers/shared-data.js';

const DATA = SHARED_DATA_DIR;
// After every file's last candle closed; validation must accept every real row with no tolerance.
const NOW = Date.UTC(2026, 2, 1);

interface FileCase {
  path: string;
  interval: string;
  format: ReplayFormat;
  rows: number;
  first: number;
  last: number;
  stats: Partial<SequencerStats>;
  emitted: number;
}

const FILES: FileCase[] = [
  {
    path: 'btc_binance_spot_1h_2017_2022/BTC_USDT-1h.json',
    interval: '1h',
    format: 'freqtrade-json',
    rows: 45_024,
    first: Date.UTC(2017, 7, 17, 4),
    last: Date.UTC(2022, 9, 11, 10),
    stats: { gaps: 27, missingIntervals: 127, duplicatesReplaced: 0, outOfOrder: 0 },
    emitted: 45_024,
  },
  {
    path: 'btc_binance_spot_1h_2022_2025/BTCUSDT_1h.csv',
    interval: '1h',
    format: 'binance-csv',
    rows: 29_303,
    first: Date.UTC(2022, 0, 1),
    last: Date.UTC(2025, 4, 5, 23),
    stats: { gaps: 1, missingIntervals: 1, duplicatesReplaced: 0, outOfOrder: 0 },
    emitted: 29_303,
  },
  {
    path: 'btc_binance_spot_1h_2023_2026/BTCUSDT_1h.csv',
    interval: '1h',
    format: 'binance-csv-ext',
    rows: 27_083,
    first: Date.UTC(2023, 0, 1),
    last: Date.UTC(2026, 1, 2, 11),
    stats: { gaps: 1, missingIntervals: 1, duplicatesReplaced: 0, outOfOrder: 0 },
    emitted: 27_083,
  },
  {
    path: 'btc_binance_spot_1m_2024_03/BTCUSDT-1m.csv',
    interval: '1m',
    format: 'binance-1m-csv',
    rows: 30_954,
    first: Date.UTC(2024, 2, 1),
    last: Date.UTC(2024, 2, 22, 10, 59),
    stats: { gaps: 0, missingIntervals: 0, duplicatesReplaced: 54, duplicatesChanged: 24, outOfOrder: 0 },
    emitted: 30_900,
  },
  {
    path: 'btc_usd_yahoo_daily_2014_2025/BTC-USD.csv',
    interval: '1d',
    format: 'yahoo-daily-csv',
    rows: 4_091,
    first: Date.UTC(2014, 8, 18),
    last: Date.UTC(2025, 10, 29),
    stats: { gaps: 0, missingIntervals: 0, duplicatesReplaced: 0, outOfOrder: 0 },
    emitted: 4_091,
  },
  {
    path: 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv',
    interval: '1h',
    format: 'merged-csv',
    rows: 74_063,
    first: Date.UTC(2017, 7, 17, 4),
    last: Date.UTC(2026, 1, 2, 10),
    stats: { gaps: 28, missingIntervals: 128, duplicatesReplaced: 0, outOfOrder: 0 },
    emitted: 74_063,
  },
];

/** Data rows of a file, parsed, in file order. Every row must parse: the files are known good. */
function loadRows(file: FileCase, pick: (all: string[]) => string[] | unknown[] = (all) => all): CandleRow[] {
  const text = readFileSync(resolve(DATA, file.path), 'utf8');
  const name = file.path.split('/').pop() ?? file.path;
  if (file.format === 'freqtrade-json') {
    expect(detectFormat(name, text.slice(0, 100))).toBe('freqtrade-json');
    const entries = pick(JSON.parse(text) as string[]);
    return entries.map((e, i) => {
      const r = parseJsonEntry(e);
      if (!r.ok) throw new Error(`${name} entry ${i}: ${r.reason}`);
      return r.row;
    });
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const [header, ...data] = lines;
  expect(detectFormat(name, header ?? '', data[0])).toBe(file.format);
  expect(detectFormat(name, header ?? '')).toBe(file.format);
  return (pick(data) as string[]).map((line, i) => {
    const r = parseCsvRow(file.format, line);
    if (!r.ok) throw new Error(`${name} row ${i}: ${r.reason}: ${line}`);
    return r.row;
  });
}

/** Whether the files FILES[i] are there (tests that read them are skipped without them). */
const has = (...i: number[]): boolean => hasSharedData(...i.map((k) => (FILES[k] as FileCase).path));

describe.each(FILES)('real file $path', (file) => {
  const hasFile = hasSharedData(file.path);
  it.skipIf(!hasFile)('parses and validates the first and last 200 rows', () => {
    const head = loadRows(file, (all) => all.slice(0, 200));
    const tail = loadRows(file, (all) => all.slice(-200));
    expect(head).toHaveLength(200);
    expect(tail).toHaveLength(200);
    expect(head[0]?.openTime).toBe(file.first);
    expect(tail.at(-1)?.openTime).toBe(file.last);
    const meta = { symbol: 'BTCUSDT', interval: file.interval, exchange: 'binance', source: `replay:${file.path}`, ingestedAt: NOW };
    for (const row of [...head, ...tail]) {
      expect(validateCandle(toCandle(row, meta), NOW, 0)).toBeNull();
    }
  });

  it.skipIf(!hasFile)('goes through the sequencer with the README counts', () => {
    const rows = loadRows(file);
    expect(rows).toHaveLength(file.rows);
    const meta = { symbol: 'BTCUSDT', interval: file.interval, exchange: 'binance', source: `replay:${file.path}`, ingestedAt: NOW };
    const invalid = rows.map((r) => validateCandle(toCandle(r, meta), NOW, 0)).filter((x) => x !== null);
    expect(invalid).toEqual([]);
    const seq = createRowSequencer(intervalMs(file.interval));
    let emitted = 0;
    let prev = -Infinity;
    for (const row of rows) {
      const out = seq.push(row);
      for (const e of out.emit) {
        expect(e.openTime).toBeGreaterThan(prev);
        prev = e.openTime;
        emitted += 1;
      }
    }
    emitted += seq.flush().length;
    expect(emitted).toBe(file.emitted);
    expect(seq.stats()).toMatchObject(file.stats);
  });

  it('knows whether the last row is an in-progress candle', () => {
    expect(KNOWN_PARTIAL_LAST_ROW(file.format, file.path)).toBe(file.format !== 'merged-csv');
  });
});

it.skipIf(!has(1, 2))('1b: the partial last row differs from the complete candle in 1c (why it is dropped)', () => {
  const b = loadRows(FILES[1] as FileCase, (all) => all.slice(-1))[0];
  const c = loadRows(FILES[2] as FileCase).find((x) => x.openTime === b?.openTime);
  expect(b?.openTime).toBe(Date.UTC(2025, 4, 5, 23));
  expect(b?.volume).toBe(9.3906);
  expect(c).toBeDefined();
  expect(c?.volume).toBeGreaterThan(b?.volume ?? Infinity);
  expect(c?.close).not.toBe(b?.close);
});

it.skipIf(!has(3))('1d: for every repeated minute the sequencer publishes the last copy in the file', () => {
  const rows = loadRows(FILES[3] as FileCase);
  const lastCopy = new Map<number, CandleRow>();
  const seen = new Set<number>();
  const repeated = new Set<number>();
  for (const r of rows) {
    if (seen.has(r.openTime)) repeated.add(r.openTime);
    seen.add(r.openTime);
    lastCopy.set(r.openTime, r);
  }
  expect(repeated.size).toBe(54);
  const seq = createRowSequencer(60_000);
  const out = [...rows.flatMap((r) => seq.push(r).emit), ...seq.flush()];
  const published = out.filter((r) => repeated.has(r.openTime));
  expect(published).toHaveLength(54);
  for (const r of published) expect(r).toBe(lastCopy.get(r.openTime));
});
