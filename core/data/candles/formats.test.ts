import { describe, it, expect } from 'vitest';
import { BitPredictError } from '../../errors.js';
import {
  KNOWN_PARTIAL_LAST_ROW,
  MAX_LINE_LENGTH,
  detectFormat,
  isPlainDecimal,
  parseCsvRow,
  parseDecimal,
  parseJsonEntry,
  type ReplayFormat,
  type RowResult,
} from './formats.js';
import { INTERVAL_MS, intervalMs } from '../../domain/intervals.js';

function row(r: RowResult) {
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.row;
}
function reason(r: RowResult): string {
  if (r.ok) throw new Error(`expected a malformed row, got ${JSON.stringify(r.row)}`);
  expect(r.code).toBe('ERR_REPLAY_MALFORMED_ROW');
  return r.reason;
}

describe('intervalMs', () => {
  it('knows the six intervals', () => {
    expect(intervalMs('1m')).toBe(60_000);
    expect(intervalMs('1h')).toBe(3_600_000);
    expect(intervalMs('1d')).toBe(86_400_000);
    expect(Object.keys(INTERVAL_MS)).toEqual(['1m', '5m', '15m', '1h', '4h', '1d']);
  });
  it('rejects unknown intervals, including prototype keys', () => {
    for (const bad of ['2h', '', '1H', 'toString', '__proto__']) {
      expect(() => intervalMs(bad)).toThrow(BitPredictError);
      try {
        intervalMs(bad);
      } catch (e) {
        expect((e as BitPredictError).code).toBe('ERR_VALIDATION');
      }
    }
  });
});

describe('detectFormat', () => {
  it('recognises each README file by its header', () => {
    expect(detectFormat('BTC_USDT-1h.json', '[[1502942400000,4261.48,4313.62,4261.32,4308.83,47.181009],')).toBe('freqtrade-json');
    expect(detectFormat('BTCUSDT_1h_merged.csv', 'open_time_ms,open_time_utc,open,high,low,close,volume_btc,source_folder\r')).toBe('merged-csv');
    expect(detectFormat('BTCUSDT_1h.csv', 'symbol,interval,timestamp,open,high,low,close,volume,quote_volume,trade_count')).toBe('binance-csv-ext');
    expect(detectFormat('BTC-USD.csv', 'Date,open,high,low,close,volume,Log_Return')).toBe('yahoo-daily-csv');
    expect(detectFormat('BTCUSDT_1h.csv', '\uFEFFtimestamp,open,high,low,close,volume')).toBe('binance-csv');
    expect(detectFormat('BTCUSDT-1m.csv', 'timestamp,open,high,low,close,volume')).toBe('binance-1m-csv');
  });
  it('uses the first data line to tell datetime from ms timestamps under the shared header', () => {
    const h = 'timestamp,open,high,low,close,volume';
    expect(detectFormat('prices.csv', h, '1709251200000,61130.99,61197.66,61126.0,61196.0,121.02208')).toBe('binance-1m-csv');
    expect(detectFormat('x-1m.csv', h, '2022-01-01 00:00:00,46216.93,46731.39,46208.37,46656.13,1503.33095')).toBe('binance-csv');
    expect(() => detectFormat('prices.csv', h, '01/01/2022,1,1,1,1,1')).toThrow(/neither ms since epoch/);
  });
  it('throws ERR_REPLAY_FILE with the header for unknown files', () => {
    for (const [name, first] of [
      ['a.csv', 'time,price'],
      ['b.csv', ''],
      ['c.json', '{"a":1}'],
      ['d.csv', 'timestamp,open,high,low,close'],
    ] as const) {
      let err: unknown;
      try {
        detectFormat(name, first);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BitPredictError);
      expect((err as BitPredictError).code).toBe('ERR_REPLAY_FILE');
      expect((err as BitPredictError).message).toContain(name);
    }
  });
});

describe('KNOWN_PARTIAL_LAST_ROW', () => {
  it('is true for the downloader files (README 1a-1e) and false for the merged file (1f)', () => {
    expect(KNOWN_PARTIAL_LAST_ROW('freqtrade-json', 'btc_binance_spot_1h_2017_2022/BTC_USDT-1h.json')).toBe(true);
    expect(KNOWN_PARTIAL_LAST_ROW('binance-csv', 'BTCUSDT_1h.csv')).toBe(true);
    expect(KNOWN_PARTIAL_LAST_ROW('binance-csv-ext', 'BTCUSDT_1h.csv')).toBe(true);
    expect(KNOWN_PARTIAL_LAST_ROW('binance-1m-csv', 'BTCUSDT-1m.csv')).toBe(true);
    expect(KNOWN_PARTIAL_LAST_ROW('yahoo-daily-csv', 'BTC-USD.csv')).toBe(true);
    expect(KNOWN_PARTIAL_LAST_ROW('merged-csv', '/x/btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv')).toBe(false);
  });
});

describe('parseCsvRow', () => {
  it('parses a row of every format, timestamps as UTC', () => {
    expect(
      row(parseCsvRow('merged-csv', '1502942400000,2017-08-17 04:00:00,4261.48,4313.62,4261.32,4308.83,47.181009,btc_binance_spot_1h_2017_2022\r')),
    ).toEqual({
      openTime: 1502942400000,
      open: 4261.48,
      high: 4313.62,
      low: 4261.32,
      close: 4308.83,
      volume: 47.181009,
      quoteVolume: null,
      tradeCount: null,
    });
    expect(row(parseCsvRow('binance-csv', '2022-01-01 00:00:00,46216.93,46731.39,46208.37,46656.13,1503.33095')).openTime).toBe(Date.UTC(2022, 0, 1));
    expect(
      row(parseCsvRow('binance-csv-ext', 'BTCUSDT,1h,2023-01-01 00:00:00+00:00,16541.77,16545.7,16508.39,16529.67,4364.8357,72146293.5867229,149854')),
    ).toEqual({
      openTime: Date.UTC(2023, 0, 1),
      open: 16541.77,
      high: 16545.7,
      low: 16508.39,
      close: 16529.67,
      volume: 4364.8357,
      quoteVolume: 72146293.5867229,
      tradeCount: 149854,
    });
    expect(row(parseCsvRow('binance-1m-csv', '1709251200000,61130.99,61197.66,61126.0,61196.0,121.02208')).openTime).toBe(Date.UTC(2024, 2, 1));
    const y = row(
      parseCsvRow('yahoo-daily-csv', '2014-09-18,456.8599853515625,456.8599853515625,413.10400390625,424.44000244140625,34483200.0,-0.0746433511490503'),
    );
    expect(y.openTime).toBe(Date.UTC(2014, 8, 18));
    expect(y.quoteVolume).toBe(34483200);
    expect(y.volume).toBe(34483200 / 424.44000244140625);
  });

  const cases: Array<[ReplayFormat, string, RegExp]> = [
    ['binance-csv', '', /empty line/],
    ['binance-csv', '\r', /empty line/],
    ['binance-csv', '2022-01-01 00:00:00,46216.93,46731.39,46208.37,46656.13', /expected 6 columns, got 5/],
    ['binance-csv', '2022-01-01 00:00:00,46216.93,46731.39,46208.37,46656.13,1503.3,7', /expected 6 columns, got 7/],
    ['binance-csv', '2022-01-01 00:00:00,46216.93,46731.39,46208.37,46656.13,', /volume is empty/],
    ['binance-csv', '2022-01-01 00:00:00,abc,46731.39,46208.37,46656.13,1', /open "abc" is not a number/],
    ['binance-csv', '2022-01-01 00:00:00,0x10,46731.39,46208.37,46656.13,1', /open "0x10" is not a number/],
    ['binance-csv', '2022-01-01 00:00:00,Infinity,46731.39,46208.37,46656.13,1', /not a number/],
    ['binance-csv', '2022-01-01 00:00:00, 1,46731.39,46208.37,46656.13,1', /not a number/],
    ['binance-csv', '2022-01-01 00:00:00,NaN,46731.39,46208.37,46656.13,1', /not a number/],
    ['binance-csv', '2022-01-01T00:00:00Z,1,2,1,1,1', /is not YYYY-MM-DD HH:MM:SS/],
    ['binance-csv', '2022-1-1 00:00:00,1,2,1,1,1', /is not YYYY-MM-DD HH:MM:SS/],
    ['binance-csv', 'Jan 1 2022,1,2,1,1,1', /is not YYYY-MM-DD HH:MM:SS/],
    ['binance-csv', '2023-02-30 00:00:00,1,2,1,1,1', /not a valid UTC time/],
    ['binance-csv', '2023-01-01 24:00:00,1,2,1,1,1', /not a valid UTC time/],
    ['binance-csv', '1999-12-31 23:00:00,1,2,1,1,1', /before 2000/],
    ['binance-csv-ext', 'BTCUSDT,1h,2023-01-01 00:00:00,1,2,1,1,1,1,1', /is not YYYY-MM-DD HH:MM:SS\+00:00/],
    ['binance-csv-ext', 'BTCUSDT,1h,2023-01-01 00:00:00+01:00,1,2,1,1,1,1,1', /is not YYYY-MM-DD HH:MM:SS\+00:00/],
    ['binance-csv-ext', 'BTCUSDT,2h,2023-01-01 00:00:00+00:00,1,2,1,1,1,1,1', /interval "2h"/],
    ['binance-csv-ext', 'BTCUSDT,1h,2023-01-01 00:00:00+00:00,1,2,1,1,1,1,1.5', /trade count "1.5"/],
    ['binance-csv-ext', 'BTCUSDT,1h,2023-01-01 00:00:00+00:00,1,2,1,1,1,,1', /quote volume is empty/],
    ['binance-1m-csv', '1709251200,61130.99,61197.66,61126.0,61196.0,121.02208', /before 2000-01-01 \(seconds instead of ms\?\)/],
    ['binance-1m-csv', '1709251200000.5,61130.99,61197.66,61126.0,61196.0,121.02208', /not an integer of ms/],
    ['binance-1m-csv', '-1709251200000,61130.99,61197.66,61126.0,61196.0,121.02208', /not an integer of ms/],
    ['merged-csv', '1502942400000,2017-08-17 05:00:00,4261.48,4313.62,4261.32,4308.83,47.181009,x', /does not match open_time_ms/],
    ['merged-csv', '1502942400000,2017-08-17 04:00:00,4261.48,4313.62,4261.32,4308.83,47.181009,', /source_folder is empty/],
    // A line cut off mid-write: the column count is the first thing that breaks.
    ['merged-csv', '1502942400000,2017-08-17 04:00:00,4261.48,4313.6', /expected 8 columns, got 4/],
    ['yahoo-daily-csv', '2014-09-18 00:00:00,1,2,1,1,1,0.1', /is not YYYY-MM-DD/],
    ['yahoo-daily-csv', '2014-09-18,1,2,1,1,1,abc', /Log_Return "abc"/],
    ['yahoo-daily-csv', '2014-09-18,1,2,1,0,1,0.1', /close 0 must be > 0/],
    ['freqtrade-json', '[1,2,3,4,5,6]', /use parseJsonEntry/],
  ];
  it.each(cases)('%s rejects %j', (format, line, expected) => {
    expect(reason(parseCsvRow(format, line))).toMatch(expected);
  });

  it('rejects oversized lines without parsing them', () => {
    expect(reason(parseCsvRow('binance-csv', `2022-01-01 00:00:00,${'1'.repeat(MAX_LINE_LENGTH)},2,1,1,1`))).toMatch(/characters long/);
  });

  it('accepts negative numbers syntactically (validateCandle rejects them as prices)', () => {
    expect(row(parseCsvRow('binance-csv', '2022-01-01 00:00:00,-1,2,1,1,1')).open).toBe(-1);
  });
});

describe('parseJsonEntry', () => {
  it('parses a freqtrade entry', () => {
    expect(row(parseJsonEntry([1502942400000, 4261.48, 4313.62, 4261.32, 4308.83, 47.181009]))).toEqual({
      openTime: 1502942400000,
      open: 4261.48,
      high: 4313.62,
      low: 4261.32,
      close: 4308.83,
      volume: 47.181009,
      quoteVolume: null,
      tradeCount: null,
    });
  });
  const bad: Array<[unknown, RegExp]> = [
    [null, /null, not an array/],
    [{ 0: 1 }, /object, not an array/],
    ['1502942400000,1,2,3,4,5', /string, not an array/],
    [[1502942400000, 1, 2, 3, 4], /expected 6 values, got 5/],
    [[1502942400000, 1, 2, 3, 4, 5, 6], /expected 6 values, got 7/],
    [[1502942400000, '4261.48', 2, 3, 4, 5], /value 1 \(open\) is the string "4261.48"/],
    [[1502942400000, 1, null, 3, 4, 5], /value 2 \(high\) is null/],
    [[1502942400000.5, 1, 2, 3, 4, 5], /not an integer of ms/],
    [[1502942400, 1, 2, 3, 4, 5], /seconds instead of ms/],
    [[1502942400000, 1, 2, 3, 4, Number.NaN], /value 5 \(volume\) is NaN/],
  ];
  it.each(bad)('rejects %j', (entry, expected) => {
    expect(reason(parseJsonEntry(entry))).toMatch(expected);
  });
});

describe('isPlainDecimal / parseDecimal', () => {
  const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
  it('accepts exactly the strings of the plain-decimal grammar', () => {
    const alphabet = ['0', '7', '.', '+', '-', 'e', 'E', ' ', 'x', ''];
    const disagreements: string[] = [];
    // Every string of up to 5 symbols from the alphabet, plus realistic values.
    const visit = (prefix: string, depth: number): void => {
      if (isPlainDecimal(prefix) !== DECIMAL.test(prefix)) disagreements.push(prefix);
      if (depth === 0) return;
      for (const a of alphabet) if (a !== '') visit(prefix + a, depth - 1);
    };
    visit('', 5);
    for (const s of [
      '43210.12',
      '-0.5',
      '+.5',
      '1.',
      '.',
      '1e',
      '1e+',
      '1e-7',
      '1.5E10',
      '12345678901234567890',
      'Infinity',
      'NaN',
      '0x10',
      ' 1',
      '1 ',
      '1,5',
      '١',
    ]) {
      if (isPlainDecimal(s) !== DECIMAL.test(s)) disagreements.push(s);
    }
    expect(disagreements).toEqual([]);
  });

  it('parses to the same number as Number() and rejects overflow', () => {
    expect(parseDecimal('43210.12')).toBe(43210.12);
    expect(parseDecimal('-1.5e3')).toBe(-1500);
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('1e999')).toBeNull();
    expect(parseDecimal('')).toBeNull();
    expect(parseDecimal('0x10')).toBeNull();
  });
});

describe('parseDecimal fast path', () => {
  it('gives the very same double as Number() for prices, volumes and edge shapes', () => {
    const samples: string[] = [
      '0',
      '-0',
      '+0',
      '0.0',
      '-0.0',
      '.5',
      '5.',
      '-.5',
      '000123.4500',
      '999999999999999',
      '9999999999999999',
      '0.000000000000001',
      '123456789012345.6',
      '1.7976931348623157e308',
      '4.9e-324',
      '0.1',
      '0.2',
      '0.3',
      '43210.12',
      '1e3',
      '12.5E-2',
    ];
    // Pseudo-random prices and volumes with 0-10 decimals (deterministic generator, no Math.random).
    let seed = 42;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let k = 0; k < 20_000; k++) {
      const decimals = Math.floor(rnd() * 11);
      const intPart = Math.floor(rnd() * 10 ** Math.floor(rnd() * 9));
      const frac = decimals === 0 ? '' : `.${String(Math.floor(rnd() * 10 ** decimals)).padStart(decimals, '0')}`;
      samples.push(`${rnd() < 0.1 ? '-' : ''}${intPart}${frac}`);
    }
    const wrong = samples.filter((s) => !Object.is(parseDecimal(s), Number(s)));
    expect(wrong).toEqual([]);
  });
});
