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
  parseUtcDateTimeWithOffset,
  type ParsedTime,
} from './timestamps.js';

export const REPLAY_FORMATS = ['freqtrade-json', 'merged-csv', 'binance-csv', 'binance-csv-ext', 'binance-1m-csv', 'yahoo-daily-csv'] as const;
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

const COLUMNS: Record<Exclude<ReplayFormat, 'freqtrade-json'>, number> = {
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

/**
 * Format of a replay file from its name and first line (the header, or the start of the JSON
 * array). `firstDataLine` (line 2) settles the one ambiguity: 1b and 1d share a header and differ
 * only in the timestamp shape; without it, a "1m" in the file name picks the ms-timestamp format.
 */
export function detectFormat(fileName: string, firstLine: string, firstDataLine?: string): ReplayFormat {
  const head = stripLineEnd(firstLine.replace(/^\uFEFF/, '')).trim();
  if (head.startsWith('[')) return 'freqtrade-json';
  if (/\.json$/i.test(fileName)) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${fileName}: a .json replay file must be a freqtrade array of [ms, open, high, low, close, volume], but it starts with "${head.slice(0, 40)}"`,
    );
  }
  const known = HEADERS.find((h) => h.header === head.toLowerCase());
  if (known === undefined) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${fileName}: unknown header "${head.slice(0, 120)}"; expected a freqtrade JSON array or one of: ${HEADERS.map((h) => `"${h.header}"`).join(', ')} (case-insensitive)`,
      { details: { fileName } },
    );
  }
  if (known.format !== 'binance-timestamp') return known.format;
  if (firstDataLine !== undefined && firstDataLine.trim() !== '') {
    const first = stripLineEnd(firstDataLine).split(',')[0] ?? '';
    if (/^\d+$/.test(first)) return 'binance-1m-csv';
    if (parseUtcDateTime(first).ok) return 'binance-csv';
    throw new BitPredictError('ERR_REPLAY_FILE', `${fileName}: first timestamp "${first.slice(0, 40)}" is neither ms since epoch nor "YYYY-MM-DD HH:MM:SS"`);
  }
  return /(^|[^0-9a-z])1m([^0-9a-z]|$)/i.test(fileName) ? 'binance-1m-csv' : 'binance-csv';
}

/**
 * Whether the last row of a file is an in-progress candle that must not be published as closed.
 * Every source file of the README (1a-1e) was saved by a downloader that fetched up to "now", so
 * its final row is a candle that had not closed yet (1b and 1e are proven partial; 1a, 1c and 1d
 * cannot be checked and are treated the same). The merged file (1f) was built without 1c's final
 * row and ends on a closed candle. A file this table does not know is judged by its format: the
 * raw downloader formats get the same treatment, because dropping one closed candle costs little
 * while publishing a half-formed one breaks the market.candles contract.
 */
export const KNOWN_PARTIAL_LAST_ROW = (format: ReplayFormat, fileName: string): boolean => {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  if (format === 'merged-csv' || /_merged\.csv$/i.test(base)) return false;
  return true;
};

export function parseCsvRow(format: ReplayFormat, line: string): RowResult {
  if (format === 'freqtrade-json') return bad('freqtrade-json rows are JSON entries: use parseJsonEntry');
  if (line.length > MAX_LINE_LENGTH) return bad(`line is ${line.length} characters long (max ${MAX_LINE_LENGTH})`);
  const text = stripLineEnd(line);
  if (text.trim() === '') return bad('empty line');
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
