// Reading candle files of every layout in place (readCandleFile: what the replay, the backtest and
// evaluate read) from the hand-typed fixtures of test/fixtures/candles, the bad rows of each kind
// going where the replay sends them, the unfinished last candle rule, and `data inspect`'s report.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCandleFile } from './load.js';
import { inferInterval, inspectCandleFile } from './inspect.js';
import { rejection } from '../../test/helpers/errors.js';

const FIXTURES = resolve(import.meta.dirname, '../../test/fixtures/candles');
const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const NOW = () => Date.UTC(2026, 0, 1);

const read = (file: string, opts: Parameters<typeof readCandleFile>[4] = {}) => readCandleFile(FIXTURES, file, 'BTCUSDT', '1h', { now: NOW, ...opts });

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'bp-layouts-')), name);
  writeFileSync(path, text);
  return path;
}

describe('readCandleFile: every layout in place', () => {
  it.each([
    ['generic-datetime.csv', 'generic-csv', 4, T0],
    ['binance-kline-header.csv', 'binance-kline-csv', 3, T0],
    ['binance-kline-noheader.csv', 'binance-kline-csv', 3, T0],
    ['binance-kline-us.csv', 'binance-kline-csv', 3, Date.UTC(2025, 0, 1)],
    ['unix-seconds.csv', 'generic-csv', 3, T0],
  ])('%s', async (file, format, count, first) => {
    const r = await read(file);
    expect(r.layout.format).toBe(format);
    expect(r.candles.map((c) => c.openTime)).toEqual(Array.from({ length: count }, (_, i) => first + i * H));
    expect(r).toMatchObject({ deadRows: 0, droppedLastRow: null });
    expect(r.candles.every((c) => c.closeTime === c.openTime + H && c.high >= Math.max(c.open, c.close))).toBe(true);
  });

  it('the kline CSV with and without its header give the same candles, quote volume and trades included', async () => {
    const a = await read('binance-kline-header.csv');
    const b = await read('binance-kline-noheader.csv');
    const values = (r: typeof a) => r.candles.map(({ source: _source, ...c }) => c);
    expect(values(a)).toEqual(values(b));
    expect(a.candles[0]).toMatchObject({ open: 42283.58, close: 42475.23, volume: 1271.68108, quoteVolume: 53957248.9737895, tradeCount: 47134 });
  });

  it('ISO times with an offset are moved to UTC ("+02:00" two hours back, "-01:00" one forward)', async () => {
    const r = await read('iso-offset.csv');
    expect(r.candles.map((c) => c.openTime)).toEqual([T0, T0 + H, T0 + 2 * H]);
    expect(r.deadRows).toBe(0);
  });

  it('--columns names what detection cannot find', async () => {
    expect((await rejection(read('columns-mapping.csv'))).message).toMatch(/no column for time, volume.*--columns/);
    const r = await read('columns-mapping.csv', { columns: 'time=bar_start,volume=base_qty' });
    expect(r.candles.map((c) => [c.openTime, c.volume])).toEqual([
      [T0, 1271.68108],
      [T0 + H, 1196.37856],
      [T0 + 2 * H, 685.21103],
    ]);
  });

  it('an unknown header is an ERR_REPLAY_FILE naming the file, the accepted layouts and --columns', async () => {
    const err = await rejection(read('unknown-header.csv'));
    expect(err.code).toBe('ERR_REPLAY_FILE');
    expect(err.message).toContain('unknown-header.csv');
    expect(err.message).toContain('--columns');
    expect(err.message).toContain('open_time,open,high,low,close,volume,close_time');
  });
});

describe('readCandleFile: bad input goes where the replay sends it, never lost', () => {
  it('malformed, duplicated, out of order, future-dated and a truncated last line', async () => {
    const dead: { lineNo: number; code: string; reason: string }[] = [];
    const r = await read('bad-rows.csv', { onDeadRow: (d) => void dead.push(d) });
    expect(r.candles.map((c) => c.openTime)).toEqual([T0, T0 + H, T0 + 2 * H, T0 + 3 * H, T0 + 6 * H]);
    // The duplicate of 02:00 (line 6) replaces line 5: the later copy wins.
    expect(r.candles[2]).toMatchObject({ high: 42640, close: 42585 });
    expect(r.stats).toMatchObject({ duplicatesReplaced: 1, duplicatesChanged: 1, outOfOrder: 1, gaps: 1, missingIntervals: 2 });
    expect(dead.map((d) => [d.lineNo, d.code])).toEqual([
      [4, 'ERR_REPLAY_MALFORMED_ROW'],
      [7, 'ERR_VALIDATION'],
      [8, 'ERR_VALIDATION'],
      [11, 'ERR_REPLAY_MALFORMED_ROW'],
    ]);
    expect(dead[0]?.reason).toContain('open "abc" is not a number');
    expect(dead[2]?.reason).toContain('in the future');
    expect(dead[3]?.reason).toContain('expected at least 6 columns, got 3');
    expect(r.droppedLastRow).toBeNull();
  });

  it('an oversized line is dead-lettered unparsed; the rows around it are kept', async () => {
    const path = tempFile(
      'big.csv',
      `time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T01:00:00Z,1,2,0.5,1.5,${'1'.repeat(100_000)}\n2024-01-01T02:00:00Z,1,2,0.5,1.5,10\n`,
    );
    const dead: { lineNo: number; reason: string }[] = [];
    const r = await readCandleFile(FIXTURES, path, 'BTCUSDT', '1h', { now: NOW, onDeadRow: (d) => void dead.push(d) });
    expect(r.candles.map((c) => c.openTime)).toEqual([T0, T0 + 2 * H]);
    expect(dead).toEqual([expect.objectContaining({ lineNo: 3, reason: 'line is 100033 characters long (max 1024)' })]);
  });

  it('an empty file and a header-only file give no candle and no crash', async () => {
    expect((await rejection(readCandleFile(FIXTURES, tempFile('e.csv', ''), 'BTCUSDT', '1h', { now: NOW }))).code).toBe('ERR_REPLAY_FILE');
    const r = await readCandleFile(FIXTURES, tempFile('h.csv', 'datetime,open,high,low,close,volume\n'), 'BTCUSDT', '1h', { now: NOW });
    expect(r).toMatchObject({ candles: [], deadRows: 0, droppedLastRow: null });
  });
});

describe('the unfinished last candle', () => {
  it('is dropped when it closes after now, and reported with its line and the reason', async () => {
    // 03:30 is inside the 03:00 candle of generic-datetime.csv: its close (04:00) is after now.
    const r = await read('generic-datetime.csv', { now: () => T0 + 3.5 * H });
    expect(r.candles.map((c) => c.openTime)).toEqual([T0, T0 + H, T0 + 2 * H]);
    expect(r.droppedLastRow).toEqual({
      lineNo: 5,
      openTime: T0 + 3 * H,
      reason: 'the candle had not closed: its close time 2024-01-01T04:00:00.000Z is after now (2024-01-01T03:30:00.000Z)',
    });
    // At 04:00 it has closed: kept.
    expect((await read('generic-datetime.csv', { now: () => T0 + 4 * H })).candles).toHaveLength(4);
  });

  it('is dropped whatever its time with dropLast, and reported', async () => {
    const r = await read('binance-kline-header.csv', { dropLast: true });
    expect(r.candles).toHaveLength(2);
    expect(r.droppedLastRow).toMatchObject({ lineNo: 4, openTime: T0 + 2 * H, reason: 'asked to (--drop-last)' });
  });

  it('of a file the data README lists is dropped and reported as such', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-known-'));
    writeFileSync(
      join(dir, 'BTCUSDT_1h.csv'),
      'timestamp,open,high,low,close,volume\n2024-01-01 00:00:00,1,2,0.5,1.5,10\n2024-01-01 01:00:00,1,2,0.5,1.5,10\n',
    );
    const r = await readCandleFile(dir, 'BTCUSDT_1h.csv', 'BTCUSDT', '1h', { now: NOW });
    expect(r.candles).toHaveLength(1);
    expect(r.droppedLastRow).toMatchObject({ lineNo: 3, reason: 'the data README marks it in progress' });
  });
});

describe('inspectCandleFile', () => {
  it('infers the interval from the most common step', () => {
    expect(inferInterval([T0, T0 + H, T0 + 2 * H, T0 + 5 * H, T0 + 6 * H])).toBe('1h');
    expect(inferInterval([T0, T0 + 60_000, T0 + 120_000])).toBe('1m');
    expect(inferInterval([T0, T0 + 7 * H])).toBeNull();
    expect(inferInterval([T0])).toBeNull();
  });

  it('reports rows, range, interval, gaps, duplicates, out-of-order and bad rows with line numbers', async () => {
    const { report } = await inspectCandleFile(FIXTURES, 'bad-rows.csv', { now: NOW });
    expect(report).toMatchObject({
      format: 'generic-csv',
      header: true,
      interval: '1h',
      intervalInferred: true,
      rows: 10,
      candles: 5,
      first: '2024-01-01T00:00:00.000Z',
      last: '2024-01-01T06:00:00.000Z',
      gaps: { count: 1, missingCandles: 2, largest: { from: '2024-01-01T04:00:00.000Z', to: '2024-01-01T06:00:00.000Z', missing: 2 } },
      duplicates: 1,
      outOfOrder: 1,
      badRows: 3,
      unfinishedLastRow: null,
    });
    expect(report.rejected.map((d) => d.line)).toEqual([4, 7, 8, 11]);
  });

  it('says when the last candle is unfinished, and refuses an unknown --interval', async () => {
    const { report } = await inspectCandleFile(FIXTURES, 'generic-datetime.csv', { now: () => T0 + 3.5 * H });
    expect(report.unfinishedLastRow).toBe(
      'dropped the last row, line 5 (open 2024-01-01T03:00:00.000Z): the candle had not closed: its close time 2024-01-01T04:00:00.000Z is after now (2024-01-01T03:30:00.000Z)',
    );
    expect((await rejection(inspectCandleFile(FIXTURES, 'generic-datetime.csv', { interval: '2h' }))).code).toBe('ERR_CONFIG_INVALID');
  });

  it('asks for --interval when the open times show none', async () => {
    const path = tempFile('odd.csv', 'time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T07:00:00Z,1,2,0.5,1.5,10\n');
    expect((await rejection(inspectCandleFile(FIXTURES, path, { now: NOW }))).message).toContain('give it with --interval');
  });
});
