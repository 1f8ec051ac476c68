// The layouts beyond the exact headers of ../shared/data: Binance's 12-column klines (with and
// without header, ms and us open times) and generic CSVs whose header names the columns, with the
// --columns mapping; detection on the first lines, row parsing, and the timestamp shapes.
import { describe, expect, it } from 'vitest';
import { BitPredictError } from '../../errors.js';
import { BINANCE_KLINE_HEADER, KNOWN_PARTIAL_LAST_ROW, detectFormat, detectLayout, parseColumnsOption, parseCsvRow, type CandleLayout } from './formats.js';
import { parseFlexibleTime } from './timestamps.js';

const T0 = Date.UTC(2024, 0, 1);

function thrown(f: () => unknown): BitPredictError {
  try {
    f();
  } catch (err) {
    if (err instanceof BitPredictError) return err;
    throw err;
  }
  throw new Error('expected a BitPredictError');
}

function row(layout: CandleLayout, line: string) {
  const r = parseCsvRow(layout.format, line, layout.columns);
  if (!r.ok) throw new Error(`row rejected: ${r.reason}`);
  return r.row;
}

describe('parseFlexibleTime', () => {
  it('reads epoch numbers by magnitude: s, ms, us, ns', () => {
    expect(parseFlexibleTime('1704067200')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('1704067200000')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('1704067200000000')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('1704067200000000000')).toEqual({ ok: true, ms: T0 });
  });

  it('reads ISO 8601 and "YYYY-MM-DD HH:MM:SS" as UTC unless an offset is given', () => {
    expect(parseFlexibleTime('2024-01-01 00:00:00')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('2024-01-01T00:00:00Z')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('2024-01-01T00:00')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('2024-01-01')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('2024-01-01T02:00:00+02:00')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('2023-12-31T19:00:00-0500')).toEqual({ ok: true, ms: T0 });
    expect(parseFlexibleTime('2024-01-01T00:00:00.250Z')).toEqual({ ok: true, ms: T0 + 250 });
  });

  it('refuses what is not a time, with the reason', () => {
    for (const bad of ['', 'abc', '01/01/2024', '2024-02-30 00:00:00', '2024-01-01 24:00:00', '2024-01-01T00:00:00+25:00', '-1704067200', '99999999', '1e12']) {
      const r = parseFlexibleTime(bad);
      expect(r.ok, bad).toBe(false);
    }
    expect(parseFlexibleTime('946684799')).toMatchObject({ ok: false, reason: expect.stringContaining('before 2000-01-01') as unknown });
    expect(parseFlexibleTime('123456789012345678901')).toMatchObject({ ok: false });
  });
});

describe('detectLayout: Binance klines', () => {
  const line =
    '1704067200000,42283.58000000,42554.57000000,42261.02000000,42475.23000000,1271.68108000,1704070799999,53957248.97378950,47134,682.57581000,28957416.81963200,0';

  it('reads the 12 columns with the header, and without it from line 1', () => {
    const withHeader = detectLayout('BTCUSDT-1h-2024-01.csv', BINANCE_KLINE_HEADER, line);
    expect(withHeader).toMatchObject({ format: 'binance-kline-csv', header: true });
    const without = detectLayout('BTCUSDT-1h-2024-01.csv', line);
    expect(without).toMatchObject({ format: 'binance-kline-csv', header: false });
    for (const layout of [withHeader, without]) {
      expect(row(layout, line)).toEqual({
        openTime: T0,
        open: 42283.58,
        high: 42554.57,
        low: 42261.02,
        close: 42475.23,
        volume: 1271.68108,
        quoteVolume: 53957248.9737895,
        tradeCount: 47134,
      });
    }
  });

  it('reads microsecond open times (the spot files since 2025)', () => {
    const us =
      '1735689600000000,93576.00000000,94509.42000000,93489.03000000,94401.14000000,755.99010000,1735693199999999,71159446.78590000,127145,401.91720000,37828010.83400000,0';
    const layout = detectLayout('BTCUSDT-1h-2025-01.csv', us);
    expect(row(layout, us).openTime).toBe(Date.UTC(2025, 0, 1));
  });

  it('rejects a kline row with a column missing or extra', () => {
    const layout = detectLayout('k.csv', line);
    expect(parseCsvRow(layout.format, line.split(',').slice(0, 11).join(','), layout.columns)).toMatchObject({
      ok: false,
      reason: 'expected 12 columns, got 11',
    });
    expect(parseCsvRow(layout.format, `${line},1`, layout.columns)).toMatchObject({ ok: false, reason: 'expected 12 columns, got 13' });
  });
});

describe('detectLayout: generic CSV', () => {
  it('finds the columns by name in any order, case and spelling; extra columns are ignored', () => {
    const layout = detectLayout(
      'x.csv',
      'Symbol,Close,Volume,Open Time,Open,High,Low,Trades',
      'BTCUSDT,42475.23,1271.68,2024-01-01 00:00:00,42283.58,42554.57,42261.02,47134',
    );
    expect(layout.format).toBe('generic-csv');
    expect(row(layout, 'BTCUSDT,42475.23,1271.68,2024-01-01 00:00:00,42283.58,42554.57,42261.02,47134')).toEqual({
      openTime: T0,
      open: 42283.58,
      high: 42554.57,
      low: 42261.02,
      close: 42475.23,
      volume: 1271.68,
      quoteVolume: null,
      tradeCount: 47134,
    });
  });

  it('the datetime CSV of the researcher: datetime,open,high,low,close,volume', () => {
    const layout = detectLayout('btc.csv', 'datetime,open,high,low,close,volume', '2024-01-01 00:00:00,42283.58,42554.57,42261.02,42475.23,1271.68108');
    expect(layout).toMatchObject({ format: 'generic-csv', header: true });
    expect(row(layout, '2024-01-01 00:00:00,42283.58,42554.57,42261.02,42475.23,1271.68108').openTime).toBe(T0);
  });

  it('keeps the exact headers of ../shared/data on their formats; other timestamp shapes under the shared header go generic', () => {
    const h = 'timestamp,open,high,low,close,volume';
    expect(detectFormat('p.csv', h, '1704067200000,1,1,1,1,1')).toBe('binance-1m-csv');
    expect(detectFormat('p.csv', h, '2024-01-01 00:00:00,1,1,1,1,1')).toBe('binance-csv');
    expect(detectFormat('p.csv', h, '1704067200,1,1,1,1,1')).toBe('generic-csv');
    expect(detectFormat('p.csv', h, '2024-01-01T00:00:00Z,1,1,1,1,1')).toBe('generic-csv');
    expect(row(detectLayout('p.csv', h, '1704067200,1,1,1,1,1'), '1704067200,1,1,1,1,1').openTime).toBe(T0);
    expect(detectFormat('m.csv', 'open_time_ms,open_time_utc,open,high,low,close,volume_btc,source_folder')).toBe('merged-csv');
  });

  it('quoted fields are unquoted', () => {
    const layout = detectLayout('q.csv', '"time","open","high","low","close","volume"', '"2024-01-01 00:00:00","1","2","0.5","1.5","10"');
    expect(row(layout, '"2024-01-01 00:00:00","1","2","0.5","1.5","10"')).toMatchObject({ openTime: T0, close: 1.5 });
  });

  it('an unknown header is an ERR_REPLAY_FILE listing what is accepted and pointing to --columns', () => {
    const err = thrown(() => detectLayout('when.csv', 'when,price,amount', '2024-01-01 00:00:00,1,1'));
    expect(err.code).toBe('ERR_REPLAY_FILE');
    expect(err.message).toContain('when.csv');
    expect(err.message).toContain('no column for time, open, high, low, close, volume');
    expect(err.message).toContain('"timestamp,open,high,low,close,volume"');
    expect(err.message).toContain(BINANCE_KLINE_HEADER);
    expect(err.message).toContain('--columns');
    const noVolume = thrown(() => detectLayout('d.csv', 'date,open,high,low,close'));
    expect(noVolume.message).toContain('no column for volume');
  });

  it('a headerless file that is not 12-column klines is refused, with the --columns way out', () => {
    const err = thrown(() => detectLayout('h.csv', '1704067200000,1,2,0.5,1.5,10'));
    expect(err.message).toContain('without a header');
    expect(err.message).toContain('--columns time=1,open=2');
  });

  it('an oversized first line is refused before it is split', () => {
    expect(thrown(() => detectLayout('big.csv', `time,${'x'.repeat(5000)}`)).message).toMatch(/5005 characters long/);
  });
});

describe('--columns', () => {
  it('maps header names; fields it does not name are still detected', () => {
    const layout = detectLayout('c.csv', 'bar_start,o,h,l,c,base_qty,notes', undefined, { columns: 'time=bar_start,volume=BASE_QTY' });
    expect(layout.columns).toMatchObject({ time: 0, open: 1, high: 2, low: 3, close: 4, volume: 5 });
    expect(row(layout, '2024-01-01 00:00:00,1,2,0.5,1.5,10,first')).toMatchObject({ openTime: T0, volume: 10 });
  });

  it('maps 1-based column numbers, for a headerless file', () => {
    const layout = detectLayout('n.csv', '10,1704067200000,1,2,0.5,1.5', undefined, { columns: 'volume=1,time=2,open=3,high=4,low=5,close=6' });
    expect(layout).toMatchObject({ format: 'generic-csv', header: false });
    expect(row(layout, '10,1704067200000,1,2,0.5,1.5')).toMatchObject({ openTime: T0, open: 1, volume: 10 });
  });

  it('overrides detection of a known layout', () => {
    const layout = detectLayout('x.csv', 'timestamp,open,high,low,close,volume,vol2', undefined, { columns: 'volume=vol2' });
    expect(row(layout, '2024-01-01 00:00:00,1,2,0.5,1.5,10,99').volume).toBe(99);
  });

  it('refuses a bad mapping with the way to write it', () => {
    expect(thrown(() => parseColumnsOption('time')).message).toContain('FIELD=COLUMN');
    expect(thrown(() => parseColumnsOption('price=close')).message).toContain('time, open, high, low, close, volume, quote_volume, trades');
    expect(thrown(() => parseColumnsOption('time=a,time=b')).message).toContain('time is given twice');
    expect(thrown(() => detectLayout('c.csv', 'a,b,c,d,e,f', undefined, { columns: 'time=zz' })).message).toContain('no such column; the header has "a"');
    expect(thrown(() => detectLayout('c.csv', 'a,b,c,d,e,f', undefined, { columns: 'time=9' })).message).toContain('the file has 6 columns');
    expect(thrown(() => detectLayout('c.csv', '1,2,3,4,5,6', undefined, { columns: 'time=t' })).message).toContain('named by number');
  });
});

describe('generic rows: bad input', () => {
  const layout = detectLayout('g.csv', 'time,open,high,low,close,volume');
  it.each([
    ['2024-01-01 00:00:00,abc,2,0.5,1.5,10', 'open "abc" is not a number'],
    ['2024-01-01 00:00:00,1,2,0.5,1.5', 'expected at least 6 columns, got 5'],
    ['yesterday,1,2,0.5,1.5,10', 'timestamp "yesterday" is neither'],
    ['2024-01-01 00:00:00,1,2,0.5,,10', 'close is empty'],
    [`2024-01-01 00:00:00,1,2,0.5,1.5,${'9'.repeat(2000)}`, 'characters long (max 1024)'],
    ['', 'empty line'],
  ])('row %# is refused', (line, reason) => {
    expect(parseCsvRow(layout.format, line, layout.columns)).toMatchObject({
      ok: false,
      code: 'ERR_REPLAY_MALFORMED_ROW',
      reason: expect.stringContaining(reason) as unknown,
    });
  });
});

describe('KNOWN_PARTIAL_LAST_ROW', () => {
  it('holds for the README files only; any other file is judged by the clock', () => {
    expect(KNOWN_PARTIAL_LAST_ROW('binance-csv', 'btc_binance_spot_1h_2022_2025/BTCUSDT_1h.csv')).toBe(true);
    expect(KNOWN_PARTIAL_LAST_ROW('binance-1m-csv', 'BTCUSDT-1h-fetched.csv')).toBe(false);
    expect(KNOWN_PARTIAL_LAST_ROW('generic-csv', 'BTCUSDT_1h.csv')).toBe(false);
    expect(KNOWN_PARTIAL_LAST_ROW('binance-kline-csv', 'BTCUSDT-1h-2025-01.csv')).toBe(false);
  });
});
