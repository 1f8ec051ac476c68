// Row parsers for the price files of ../shared/data (see its README.md, section 1). Parsing is
// strict: a row either yields every field of a candle or a short reason, so that the caller can
// dead-letter the raw line and keep going. Header lines are the caller's business (line 1).
import { BitPredictError } from '../../errors.js';
import { isKnownInterval } from '../../domain/intervals.js';
import {
  formatUtcDateTime,
  matchesUtcDateTime,
  parseMsTimestamp,
  parseUtcDate,
  parseUtcDateTime,
  parseFlexibleTime,
  parseUtcDateTimeWithOffset,
  type ParsedTime,
} from './timestamps.js';

export const REPLAY_FORMATS = [
  'freqtrade-json',
  'merged-csv',
  'binance-csv',
  'binance-csv-ext',
  'binance-1m-csv',
  'yahoo-daily-csv',
  // Bring your own candles: Binance's 12-column kline CSV (data.binance.vision, /api/v3/klines),
  // with or without its header, and any CSV whose header names a time and the OHLCV columns.
  'binance-kline-csv',
  'generic-csv',
] as const;
export type ReplayFormat = (typeof REPLAY_FORMATS)[number];

import type { CandleRow } from '../../domain/candle.js';

export type { CandleRow };

export type RowResult = { ok: true; row: CandleRow } | { ok: false; code: 'ERR_REPLAY_MALFORMED_ROW'; reason: string };

const HEADERS: ReadonlyArray<{ header: string; format: ReplayFormat | 'binance-timestamp' }> = [
  { header: 'open_time_ms,open_time_utc,open,high,low,close,volume_btc,source_folder', format: 'merged-csv' },
  { header: 'symbol,interval,timestamp,open,high,low,close,volume,quote_volume,trade_count', format: 'binance-csv-ext' },
  { header: 'date,open,high,low,close,volume,log_return', format: 'yahoo-daily-csv' },
  // 1b (datetime strings) and 1d (ms integers) share this header; the timestamp shape decides.
  { header: 'timestamp,open,high,low,close,volume', format: 'binance-timestamp' },
];

const COLUMNS: Record<Exclude<ReplayFormat, 'freqtrade-json' | 'binance-kline-csv' | 'generic-csv'>, number> = {
  'merged-csv': 8,
  'binance-csv': 6,
  'binance-csv-ext': 10,
  'binance-1m-csv': 6,
  'yahoo-daily-csv': 7,
};

/** Longest line any format can produce, with generous room; longer lines are rejected unparsed. */
export const MAX_LINE_LENGTH = 1024;

function stripLineEnd(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Columns of a candle row in the layouts read by position (0-based), beyond the fixed formats. */
export interface ColumnMap {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number | null;
  tradeCount: number | null;
  /** Columns a row must have at least (the highest index used + 1). */
  width: number;
}

/** How to read a candle file: its format, whether line 1 is a header, and the columns when read by position. */
export interface CandleLayout {
  format: ReplayFormat;
  /** Whether line 1 is a header (not a candle); false for headerless Binance klines only. */
  header: boolean;
  /** For 'binance-kline-csv' and 'generic-csv': where each field is; null for the fixed formats. */
  columns: ColumnMap | null;
}

export const COLUMN_FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume', 'quote_volume', 'trades'] as const;
export type ColumnField = (typeof COLUMN_FIELDS)[number];
const REQUIRED_FIELDS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;

/**
 * Header names recognised for each field of a generic CSV, compared case-insensitively with
 * everything but letters and digits and a trailing "utc" removed ("Open Time", "open_time" and
 * "opentime" are one name, "timestamp_utc" is "timestamp"). For time, the first name of the list that the header has wins ("timestamp" before "date").
 */
export const COLUMN_NAMES: Readonly<Record<ColumnField, readonly string[]>> = {
  time: ['timestamp', 'opentime', 'datetime', 'time', 'date', 'ts', 'unix', 'unixtime', 'timeopen', 'starttime'],
  open: ['open', 'o', 'openprice'],
  high: ['high', 'h', 'highprice'],
  low: ['low', 'l', 'lowprice'],
  close: ['close', 'c', 'closeprice'],
  volume: ['volume', 'v', 'vol', 'volumebtc', 'basevolume', 'baseassetvolume'],
  quote_volume: ['quotevolume', 'quoteassetvolume', 'volumeusdt', 'volumeusd', 'quotevol'],
  trades: ['count', 'trades', 'tradecount', 'numberoftrades', 'numtrades'],
};

/** Binance's kline columns (data.binance.vision, /api/v3/klines), the header some tools add to them. */
export const BINANCE_KLINE_HEADER = 'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore';
const BINANCE_KLINE_COLUMNS: ColumnMap = { time: 0, open: 1, high: 2, low: 3, close: 4, volume: 5, quoteVolume: 7, tradeCount: 8, width: 12 };
const TIMESTAMP_HEADER_COLUMNS: ColumnMap = { time: 0, open: 1, high: 2, low: 3, close: 4, volume: 5, quoteVolume: null, tradeCount: null, width: 6 };

/** A header name as compared: lower case, letters and digits only, a trailing "utc" removed ("Timestamp (UTC)" is "timestamp"). */
const normalName = (name: string): string => {
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  return n.length > 3 && n.endsWith('utc') ? n.slice(0, -3) : n;
};

/** The fields of a CSV line: split on commas, one pair of surrounding double quotes removed from each. */
export function splitCsvLine(line: string): string[] {
  return stripLineEnd(line)
    .split(',')
    .map((f) => {
      const t = f.trim();
      return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
    });
}

/**
 * `--columns time=datetime,open=o,...`: the header name (case-insensitive) or 1-based column
 * number of each field it names. Fields it does not name are still found by COLUMN_NAMES.
 */
export function parseColumnsOption(spec: string): Partial<Record<ColumnField, string>> {
  const out: Partial<Record<ColumnField, string>> = {};
  for (const part of spec.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase().replace(/-/g, '_');
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(COLUMN_FIELDS as readonly string[]).includes(key) || value === '') {
      throw new BitPredictError(
        'ERR_CONFIG_INVALID',
        `--columns "${spec}": "${part.trim()}" is not FIELD=COLUMN; FIELD is one of ${COLUMN_FIELDS.join(', ')} and COLUMN a header name or a 1-based column number, e.g. time=datetime,volume=vol`,
      );
    }
    if (out[key as ColumnField] !== undefined) throw new BitPredictError('ERR_CONFIG_INVALID', `--columns "${spec}": ${key} is given twice`);
    out[key as ColumnField] = value;
  }
  return out;
}

/** What the loader accepts, for error messages. */
export function acceptedLayoutsHelp(): string {
  return (
    `a freqtrade JSON array; one of the headers ${HEADERS.map((h) => `"${h.header}"`).join(', ')}; ` +
    `Binance's 12-column kline CSV with or without the header "${BINANCE_KLINE_HEADER}"; ` +
    `or any CSV whose header names a time column (${COLUMN_NAMES.time.join(', ')}) and open, high, low, close and volume columns ` +
    `(case-insensitive, any order, extra columns ignored). Name the columns yourself with --columns time=NAME,open=NAME,... ` +
    '(BITPREDICT_REPLAY_COLUMNS for the replay; docs/replay-and-polling.md#bring-your-own-candles)'
  );
}

function isHeaderLine(fields: string[]): boolean {
  return !fields.some((f) => isPlainDecimal(f));
}

/** ColumnMap of a generic CSV from its header (null: headerless) and the --columns overrides. */
function genericColumns(fileName: string, header: string[] | null, fieldCount: number, given: Partial<Record<ColumnField, string>>): ColumnMap {
  const names = header?.map(normalName) ?? [];
  const index = (field: ColumnField): number | null => {
    const g = given[field];
    if (g !== undefined) {
      if (/^\d+$/.test(g)) {
        const i = Number(g) - 1;
        if (i < 0 || i >= fieldCount)
          throw new BitPredictError('ERR_REPLAY_FILE', `${fileName}: --columns ${field}=${g}: the file has ${fieldCount} columns (numbers start at 1)`);
        return i;
      }
      const i = names.indexOf(normalName(g));
      if (i < 0) {
        throw new BitPredictError(
          'ERR_REPLAY_FILE',
          header === null
            ? `${fileName}: --columns ${field}=${g}: the file has no header, so columns are named by number (1 to ${fieldCount})`
            : `${fileName}: --columns ${field}=${g}: no such column; the header has ${header.map((h) => `"${h}"`).join(', ')}`,
        );
      }
      return i;
    }
    for (const n of COLUMN_NAMES[field]) {
      const i = names.indexOf(n);
      if (i >= 0) return i;
    }
    return null;
  };
  const found = Object.fromEntries(COLUMN_FIELDS.map((f) => [f, index(f)])) as Record<ColumnField, number | null>;
  const missing = REQUIRED_FIELDS.filter((f) => found[f] === null);
  if (missing.length > 0) {
    const what = header === null ? 'has no header' : `has the header "${header.join(',').slice(0, 160)}"`;
    throw new BitPredictError('ERR_REPLAY_FILE', `${fileName} ${what}, with no column for ${missing.join(', ')}. Accepted: ${acceptedLayoutsHelp()}`, {
      details: { fileName, missing },
    });
  }
  const used = COLUMN_FIELDS.map((f) => found[f]).filter((i): i is number => i !== null);
  const req = (f: (typeof REQUIRED_FIELDS)[number]): number => found[f] as number;
  return {
    time: req('time'),
    open: req('open'),
    high: req('high'),
    low: req('low'),
    close: req('close'),
    volume: req('volume'),
    quoteVolume: found.quote_volume,
    tradeCount: found.trades,
    width: Math.max(...used) + 1,
  };
}

/**
 * How to read a candle file, from its name, first line and first data line (line 2, or line 1 of
 * a headerless file). The exact headers of ../shared/data come first and keep their formats;
 * then Binance's kline CSV; then any header naming a time and the OHLCV columns ('generic-csv').
 * `columns` (the --columns option) skips detection: the named columns are read as a generic CSV.
 */
export function detectLayout(fileName: string, firstLine: string, secondLine?: string, opts: { columns?: string | undefined } = {}): CandleLayout {
  const head = stripLineEnd(firstLine.replace(/^\uFEFF/, '')).trim();
  if (head.startsWith('[')) return { format: 'freqtrade-json', header: false, columns: null };
  if (/\.json$/i.test(fileName)) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${fileName}: a .json replay file must be a freqtrade array of [ms, open, high, low, close, volume], but it starts with "${head.slice(0, 40)}"`,
    );
  }
  if (head === '')
    throw new BitPredictError('ERR_REPLAY_FILE', `${fileName}: the first line is empty. Accepted: ${acceptedLayoutsHelp()}`, { details: { fileName } });
  if (head.length > MAX_LINE_LENGTH)
    throw new BitPredictError('ERR_REPLAY_FILE', `${fileName}: the first line is ${head.length} characters long (max ${MAX_LINE_LENGTH}); is it a candle CSV?`);
  const fields = splitCsvLine(head);
  const header = isHeaderLine(fields);
  if (opts.columns !== undefined && opts.columns.trim() !== '') {
    const given = parseColumnsOption(opts.columns);
    return { format: 'generic-csv', header, columns: genericColumns(fileName, header ? fields : null, fields.length, given) };
  }
  if (!header) {
    if (fields.length === 12 && /^\d+$/.test(fields[0] ?? '')) return { format: 'binance-kline-csv', header: false, columns: BINANCE_KLINE_COLUMNS };
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${fileName}: line 1 "${head.slice(0, 80)}" is a row without a header (${fields.length} columns; only Binance's 12-column klines are read without one). Add a header or name the columns by number with --columns time=1,open=2,high=3,low=4,close=5,volume=6. Accepted: ${acceptedLayoutsHelp()}`,
      { details: { fileName } },
    );
  }
  const lower = head.toLowerCase();
  if (lower === BINANCE_KLINE_HEADER) return { format: 'binance-kline-csv', header: true, columns: BINANCE_KLINE_COLUMNS };
  const known = HEADERS.find((h) => h.header === lower);
  if (known === undefined) return { format: 'generic-csv', header: true, columns: genericColumns(fileName, fields, fields.length, {}) };
  if (known.format !== 'binance-timestamp') return { format: known.format, header: true, columns: null };
  const fixed = (format: ReplayFormat): CandleLayout => ({ format, header: true, columns: null });
  if (secondLine !== undefined && secondLine.trim() !== '') {
    const first = stripLineEnd(secondLine).split(',')[0] ?? '';
    if (/^\d+$/.test(first) && parseMsTimestamp(first).ok && Number(first) < 1e14) return fixed('binance-1m-csv');
    if (parseUtcDateTime(first).ok) return fixed('binance-csv');
    // Seconds, microseconds, ISO with "T" or an offset: the same columns, read as a generic CSV.
    if (parseFlexibleTime(first).ok) return { format: 'generic-csv', header: true, columns: TIMESTAMP_HEADER_COLUMNS };
    throw new BitPredictError('ERR_REPLAY_FILE', `${fileName}: first timestamp "${first.slice(0, 40)}" is neither ms since epoch nor "YYYY-MM-DD HH:MM:SS"`);
  }
  return fixed(/(^|[^0-9a-z])1m([^0-9a-z]|$)/i.test(fileName) ? 'binance-1m-csv' : 'binance-csv');
}

/**
 * Format of a replay file from its name and first line (the header, or the start of the JSON
 * array). `firstDataLine` (line 2) settles the one ambiguity: 1b and 1d share a header and differ
 * only in the timestamp shape; without it, a "1m" in the file name picks the ms-timestamp format.
 */
export function detectFormat(fileName: string, firstLine: string, firstDataLine?: string): ReplayFormat {
  return detectLayout(fileName, firstLine, firstDataLine).format;
}

/** Names of the source files of ../shared/data (README 1a-1e), whose final row the README says is (or may be) in progress. */
export const KNOWN_PARTIAL_FILES: ReadonlySet<string> = new Set(['BTC_USDT-1h.json', 'BTCUSDT_1h.csv', 'BTCUSDT-1m.csv', 'BTC-USD.csv']);

/**
 * Whether the last row of a file is an in-progress candle by the data README (the
 * KNOWN_PARTIAL_LAST_ROW table): the source files 1a-1e of ../shared/data were saved by a
 * downloader that fetched up to "now", so their final row is a candle that had not closed yet
 * (1b and 1e are proven partial; 1a, 1c and 1d cannot be checked and are treated the same). The
 * merged file (1f) ends on a closed candle. Any other file (a name or layout the README does not
 * list) is judged by the clock instead: its last row is dropped only when its close time is after
 * now, or when asked (--drop-last); see replayBatches. Either way the drop is reported.
 */
export const KNOWN_PARTIAL_LAST_ROW = (format: ReplayFormat, fileName: string): boolean => {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  if (format === 'merged-csv' || format === 'generic-csv' || format === 'binance-kline-csv') return false;
  return KNOWN_PARTIAL_FILES.has(base);
};

/** Why a known file's last row is dropped, as reported. */
export const KNOWN_PARTIAL_REASON = 'the data README marks it in progress';

export function parseCsvRow(format: ReplayFormat, line: string, columns: ColumnMap | null = null): RowResult {
  if (format === 'freqtrade-json') return bad('freqtrade-json rows are JSON entries: use parseJsonEntry');
  if (line.length > MAX_LINE_LENGTH) return bad(`line is ${line.length} characters long (max ${MAX_LINE_LENGTH})`);
  const text = stripLineEnd(line);
  if (text.trim() === '') return bad('empty line');
  if (format === 'generic-csv' || format === 'binance-kline-csv') {
    if (columns === null) return bad(`${format} rows need the file's columns (detectLayout)`);
    return parseColumns(columns, format, text);
  }
  const cols = text.split(',');
  const expected = COLUMNS[format];
  if (cols.length !== expected) return bad(`expected ${expected} columns, got ${cols.length}`);
  switch (format) {
    case 'merged-csv': {
      const [ms, utc, o, h, l, c, v, sourceFolder] = cols as Tuple<8>;
      const t = parseMsTimestamp(ms);
      if (!t.ok) return bad(t.reason);
      if (!matchesUtcDateTime(utc, t.ms)) return bad(`open_time_utc "${utc}" does not match open_time_ms ${ms} (${formatUtcDateTime(t.ms)})`);
      if (sourceFolder.trim() === '') return bad('source_folder is empty');
      return ohlcv(t, o, h, l, c, v, null, null);
    }
    case 'binance-csv': {
      const [ts, o, h, l, c, v] = cols as Tuple<6>;
      return ohlcv(parseUtcDateTime(ts), o, h, l, c, v, null, null);
    }
    case 'binance-1m-csv': {
      const [ts, o, h, l, c, v] = cols as Tuple<6>;
      return ohlcv(parseMsTimestamp(ts), o, h, l, c, v, null, null);
    }
    case 'binance-csv-ext': {
      const [symbol, interval, ts, o, h, l, c, v, qv, n] = cols as Tuple<10>;
      if (!/^[A-Z0-9]+$/.test(symbol)) return bad(`symbol "${symbol}" is not an upper-case exchange symbol`);
      if (!isKnownInterval(interval)) return bad(`interval "${interval}" is not a known interval`);
      return ohlcv(parseUtcDateTimeWithOffset(ts), o, h, l, c, v, qv, n);
    }
    case 'yahoo-daily-csv': {
      const [date, o, h, l, c, usdVolume, logReturn] = cols as Tuple<7>;
      // Log_Return is the repository author's derived column (README 1e); it is checked for
      // shape only and never used.
      if (logReturn !== '' && parseDecimal(logReturn) === null) return bad(`Log_Return "${logReturn}" is not a number`);
      const parsed = ohlcv(parseUtcDate(date), o, h, l, c, usdVolume, null, null);
      if (!parsed.ok) return parsed;
      const { row } = parsed;
      // Yahoo's volume is in USD, the quote asset; the schema's volume is the base asset (BTC),
      // which Yahoo does not publish. It is estimated as USD volume / close (an approximation:
      // the true divisor is the volume-weighted price) and the exact USD figure goes to quoteVolume.
      if (!(row.close > 0)) return bad(`close ${row.close} must be > 0`);
      return { ok: true, row: { ...row, volume: row.volume / row.close, quoteVolume: row.volume } };
    }
  }
}

/** A row of a layout read by position: the time in any accepted shape (parseFlexibleTime), the prices plain decimals. */
function parseColumns(m: ColumnMap, format: ReplayFormat, text: string): RowResult {
  const cols = splitCsvLine(text);
  if (format === 'binance-kline-csv' ? cols.length !== m.width : cols.length < m.width) {
    return bad(`expected ${format === 'binance-kline-csv' ? '' : 'at least '}${m.width} columns, got ${cols.length}`);
  }
  const at = (i: number | null): string | null => (i === null ? null : (cols[i] as string));
  return ohlcv(
    parseFlexibleTime(cols[m.time] as string),
    cols[m.open] as string,
    cols[m.high] as string,
    cols[m.low] as string,
    cols[m.close] as string,
    cols[m.volume] as string,
    at(m.quoteVolume),
    at(m.tradeCount),
  );
}

/** One freqtrade entry: [open_time_ms, open, high, low, close, volume], all JSON numbers. */
export function parseJsonEntry(entry: unknown): RowResult {
  if (!Array.isArray(entry)) return bad(`entry is ${entry === null ? 'null' : typeof entry}, not an array`);
  if (entry.length !== 6) return bad(`expected 6 values, got ${entry.length}`);
  const values = entry as unknown[];
  for (let i = 0; i < 6; i += 1) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return bad(`value ${i} (${JSON_FIELDS[i]}) is ${describe(v)}, not a finite number`);
  }
  const [openTime, open, high, low, close, volume] = values as Tuple<6, number>;
  if (!Number.isSafeInteger(openTime) || openTime < 0) return bad(`open time ${openTime} is not an integer of ms`);
  const t = parseMsTimestamp(String(openTime));
  if (!t.ok) return bad(t.reason);
  return { ok: true, row: { openTime, open, high, low, close, volume, quoteVolume: null, tradeCount: null } };
}

const JSON_FIELDS = ['open time', 'open', 'high', 'low', 'close', 'volume'] as const;

type Tuple<N extends number, T = string, Acc extends T[] = []> = Acc['length'] extends N ? Acc : Tuple<N, T, [...Acc, T]>;

function describe(v: unknown): string {
  if (typeof v === 'string') return `the string "${v.slice(0, 20)}"`;
  if (typeof v === 'number') return String(v);
  return v === null ? 'null' : typeof v;
}

function bad(reason: string): { ok: false; code: 'ERR_REPLAY_MALFORMED_ROW'; reason: string } {
  return { ok: false, code: 'ERR_REPLAY_MALFORMED_ROW', reason };
}

function badNumber(name: string, text: string): RowResult {
  return bad(text === '' ? `${name} is empty` : `${name} "${text.slice(0, 40)}" is not a number`);
}

const isDigit = (code: number): boolean => code >= 48 && code <= 57;

/**
 * Whether text is a plain decimal, /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/: Number() alone
 * accepts "", " 1 ", "0x10", "Infinity". Scanned by hand because it runs for every number of
 * every replayed row.
 */
export function isPlainDecimal(text: string): boolean {
  const n = text.length;
  let i = 0;
  let c = text.charCodeAt(0);
  if (c === 43 || c === 45) c = text.charCodeAt(++i);
  const intStart = i;
  while (i < n && isDigit(c)) c = text.charCodeAt(++i);
  const intDigits = i - intStart;
  let fracDigits = 0;
  if (i < n && c === 46) {
    c = text.charCodeAt(++i);
    const fracStart = i;
    while (i < n && isDigit(c)) c = text.charCodeAt(++i);
    fracDigits = i - fracStart;
  }
  if (intDigits === 0 && fracDigits === 0) return false;
  if (i < n && (c === 101 || c === 69)) {
    c = text.charCodeAt(++i);
    if (c === 43 || c === 45) c = text.charCodeAt(++i);
    const expStart = i;
    while (i < n && isDigit(c)) c = text.charCodeAt(++i);
    if (i === expStart) return false;
  }
  return i === n;
}

/** Exact powers of ten as doubles (10^22 is the largest one that is). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * A plain decimal (isPlainDecimal) as a finite number, else null; always the same double as
 * Number(text). Prices without an exponent and with at most 15 digits take the exact fast path
 * (Clinger): the digits form an integer below 2^53 and the power of ten is exact, so one
 * correctly rounded division gives the correctly rounded value.
 */
export function parseDecimal(text: string): number | null {
  if (!isPlainDecimal(text)) return null;
  const n = text.length;
  let i = 0;
  let negative = false;
  let c = text.charCodeAt(0);
  if (c === 43 || c === 45) {
    negative = c === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let scale = -1;
  for (; i < n; i++) {
    c = text.charCodeAt(i);
    if (c === 46) {
      scale = 0;
      continue;
    }
    if (!isDigit(c) || digits === 15) {
      const x = Number(text);
      return Number.isFinite(x) ? x : null;
    }
    mantissa = mantissa * 10 + (c - 48);
    digits++;
    if (scale >= 0) scale++;
  }
  const value = scale > 0 ? mantissa / (POW10[scale] as number) : mantissa;
  return negative ? -value : value;
}

function ohlcv(t: ParsedTime, o: string, h: string, l: string, c: string, v: string, qv: string | null, n: string | null): RowResult {
  if (!t.ok) return bad(t.reason);
  // Plain calls, no per-row objects: this runs once per replayed row.
  const open = parseDecimal(o);
  if (open === null) return badNumber('open', o);
  const high = parseDecimal(h);
  if (high === null) return badNumber('high', h);
  const low = parseDecimal(l);
  if (low === null) return badNumber('low', l);
  const close = parseDecimal(c);
  if (close === null) return badNumber('close', c);
  const volume = parseDecimal(v);
  if (volume === null) return badNumber('volume', v);
  let quoteVolume: number | null = null;
  if (qv !== null) {
    quoteVolume = parseDecimal(qv);
    if (quoteVolume === null) return bad(qv === '' ? 'quote volume is empty' : `quote volume "${qv.slice(0, 40)}" is not a number`);
  }
  let tradeCount: number | null = null;
  if (n !== null) {
    if (!/^\d{1,15}$/.test(n)) return bad(n === '' ? 'trade count is empty' : `trade count "${n.slice(0, 40)}" is not a non-negative integer`);
    tradeCount = Number(n);
  }
  return {
    ok: true,
    row: {
      openTime: t.ms,
      open,
      high,
      low,
      close,
      volume,
      quoteVolume,
      tradeCount,
    },
  };
}
