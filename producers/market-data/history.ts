// Historical candles from the exchanges' public REST APIs into a local CSV file, for
// `bitpredict data fetch` and the demo on a bare clone. The file is the layout the candle loader
// reads as 'binance-1m-csv' (header `timestamp,open,high,low,close,volume`, ms open times), one
// page appended and fsynced at a time, so a killed run loses at most the page in flight and the
// next run continues after the last complete row. Every row the exchange sends is checked (arity,
// numbers, OHLC order, the interval grid, strictly increasing open times); what fails is reported
// and never written, and candles that have not closed yet are left for a later run.
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BitPredictError, errorMessage } from '../../core/errors.js';
import { backoffMs } from '../../core/backoff.js';
import { retryAfterMs } from '../../core/domain/http.js';
import { INTERVAL_MS, isKnownInterval } from '../../core/domain/intervals.js';
import type { CandleRow } from '../../core/domain/candle.js';
import { addGap, emptyGapSummary, type GapSummary } from '../../core/data/gap-summary.js';
import { parseCsvRow, parseDecimal } from '../../core/data/candles/formats.js';
import { coinbaseProduct, coinbasePublishedSymbol, isExchange, type Exchange } from './domain/symbols.js';
import { COINBASE_GRANULARITY } from './series.js';

/** The CSV header written and expected (the loader's 'binance-1m-csv' layout). */
export const FETCH_CSV_HEADER = 'timestamp,open,high,low,close,volume';
/** Candles per request: the most each exchange serves. */
export const FETCH_PAGE = { binance: 1000, coinbase: 300 } as const;
/** Gaps listed one by one in the summary (the rest are counted). */
const GAPS_LISTED = 5;
/** Rejected rows quoted in the summary (the rest are counted). */
const REJECTS_LISTED = 5;
/** Bytes read from the end of an existing file to find its last complete rows. */
const TAIL_BYTES = 64 * 1024;
/** Largest answer read: a full page is about 150 kB (Binance) or 20 kB (Coinbase). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

class OversizedBody extends Error {}

/** The body as text, or OversizedBody once it passes `max` bytes (the rest is not read). */
async function readBody(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new OversizedBody(`answer larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface FetchCandlesOptions {
  exchange: Exchange;
  /** BitPredict symbol (BTCUSDT); Coinbase maps it to its product (BTC-USD). */
  symbol: string;
  interval: string;
  /** First open time wanted (ms); may be null when `out` already has rows (the run continues after them). */
  from: number | null;
  /** End of the range, exclusive (ms of open time); default now. */
  to?: number | null;
  /** The CSV file; created with its parent folder, or continued. */
  out: string;
  /** The exchange's REST base URL (BITPREDICT_BINANCE_REST_URL / BITPREDICT_COINBASE_REST_URL). */
  restUrl: string;
  /** Deadline of one request (default 15 s). */
  timeoutMs?: number;
  /** Failed attempts of one request before giving up (default 10). */
  maxRetries?: number;
  /** Backoff of 5xx, network errors and timeouts: base and cap in ms (default 500 and 30 000). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** The longest Retry-After waited out (default 10 min); a longer one ends the run with a clear error. */
  maxRetryAfterMs?: number;
  /**
   * Binance: when X-MBX-USED-WEIGHT-1M reaches this, wait for the next minute before the next
   * request (default 5000; Binance allows 6000 a minute and bans IPs that keep hitting 429).
   */
  binanceWeightPause?: number;
  /** Clock (ms): candles that close after it are not written. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** After every page: open times covered so far out of the range. */
  onProgress?: (p: FetchProgress) => void;
  /** One line per retry, truncated line cut off, and other things worth telling. */
  onNote?: (line: string) => void;
}

export interface FetchProgress {
  /** Candle slots of the range walked so far, and in total. */
  done: number;
  total: number;
  rowsWritten: number;
  requests: number;
}

export interface FetchGap {
  /** First and last missing open time (ISO). */
  from: string;
  to: string;
  missing: number;
}

export interface FetchSummary {
  exchange: Exchange;
  /** The exchange's identifier of the series (Binance symbol, Coinbase product). */
  remote: string;
  interval: string;
  out: string;
  /** Open time after which this run continued an existing file (ISO), or null for a new file. */
  resumedAfter: string | null;
  /** Bytes of a partial last line (from a killed run) that were cut off before continuing. */
  truncatedBytes: number;
  rowsWritten: number;
  /** First and last open time written by this run (ISO), null when none. */
  first: string | null;
  last: string | null;
  /** The range walked: first open time, and end (exclusive, ISO). */
  range: { from: string; to: string };
  requests: number;
  retries: number;
  duplicatesDropped: number;
  /** Rows the exchange sent that failed validation (never written), and the first few reasons. */
  rejected: number;
  rejectedExamples: string[];
  /** Candles that had not closed yet (close time after now): left for a later run. */
  unfinished: number;
  /** Binance: pauses until the next minute because the used request weight neared the limit. */
  weightPauses: number;
  gaps: GapSummary<FetchGap>;
}

/** What the fetched CSV holds of a candle. */
type Row = Omit<CandleRow, 'quoteVolume' | 'tradeCount'>;

type RowCheck = { ok: true; row: Row } | { ok: false; openTime: number | null; reason: string };

/** What the CSV file records about its series, kept beside it as `<out>.source.json`. */
interface SourceInfo {
  exchange: Exchange;
  remote: string;
  interval: string;
}

export function sourceInfoPath(out: string): string {
  return `${out}.source.json`;
}

/** The exchange's identifier of a BitPredict symbol, or a clear error. */
export function remoteSymbol(exchange: Exchange, symbol: string): string {
  const s = symbol.toUpperCase();
  if (!/^[A-Z0-9]{2,30}$/.test(s)) throw new BitPredictError('ERR_CONFIG_INVALID', `--symbol "${symbol}" is not an exchange symbol like BTCUSDT`);
  if (exchange === 'binance') return s;
  const product = coinbaseProduct(s);
  if (product === null) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `--symbol ${s}: no Coinbase product for it (the quote must be one of USDT, USDC, USD, EUR, BTC)`);
  }
  return product;
}

/** The symbol a fetched file is named after: the Binance symbol, or the Coinbase product without its dash (BTCUSD). */
export function fileSymbol(exchange: Exchange, symbol: string): string {
  const remote = remoteSymbol(exchange, symbol);
  return exchange === 'binance' ? remote : coinbasePublishedSymbol(remote);
}

/** Checks exchange and interval: Coinbase serves only the granularities 60, 300, 900, 3600, 21600 and 86400 s. */
export function checkSeries(exchange: string, interval: string): asserts exchange is Exchange {
  if (!isExchange(exchange)) throw new BitPredictError('ERR_CONFIG_INVALID', `--exchange "${exchange}": expected binance or coinbase`);
  if (!isKnownInterval(interval)) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `--interval "${interval}": expected one of ${Object.keys(INTERVAL_MS).join(', ')}`);
  }
  if (exchange === 'coinbase' && COINBASE_GRANULARITY[interval] === undefined) {
    const served = Object.entries(COINBASE_GRANULARITY)
      .map(([i, s]) => `${i} (${s} s)`)
      .join(', ');
    throw new BitPredictError(
      'ERR_CONFIG_INVALID',
      `--interval ${interval}: Coinbase Exchange has no candle granularity of ${INTERVAL_MS[interval]! / 1000} s (it serves 60, 300, 900, 3600, 21600 and 86400 s); use one of ${served}, or --exchange binance`,
    );
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

function finite(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') return parseDecimal(v);
  return null;
}

/** One REST row as a candle, or why not. Binance: 12 fields, prices as strings; Coinbase: [time_s, low, high, open, close, volume]. */
export function checkRow(exchange: Exchange, raw: unknown, len: number): RowCheck {
  if (!Array.isArray(raw)) return { ok: false, openTime: null, reason: `row is ${raw === null ? 'null' : typeof raw}, not an array` };
  const fields = raw as unknown[];
  const arity = exchange === 'binance' ? 12 : 6;
  if (exchange === 'binance' ? fields.length < arity : fields.length !== arity) {
    return { ok: false, openTime: null, reason: `row has ${fields.length} fields, expected ${arity}` };
  }
  const t = exchange === 'binance' ? fields[0] : typeof fields[0] === 'number' ? fields[0] * 1000 : fields[0];
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0)
    return { ok: false, openTime: null, reason: `open time ${JSON.stringify(fields[0])} is not a whole number` };
  const names = exchange === 'binance' ? ['open', 'high', 'low', 'close', 'volume'] : ['low', 'high', 'open', 'close', 'volume'];
  const values: Record<string, number> = {};
  for (let i = 0; i < 5; i++) {
    const v = finite(fields[i + 1]);
    if (v === null) return { ok: false, openTime: t, reason: `${names[i]} ${JSON.stringify(fields[i + 1])?.slice(0, 40)} is not a finite number` };
    values[names[i]!] = v;
  }
  const row: Row = { openTime: t, open: values.open!, high: values.high!, low: values.low!, close: values.close!, volume: values.volume! };
  const at = `candle ${iso(t)}`;
  if (t % len !== 0) return { ok: false, openTime: t, reason: `${at}: open time is not on the ${len / 60_000}-minute grid` };
  if (exchange === 'binance' && fields[6] !== t + len - 1)
    return { ok: false, openTime: t, reason: `${at}: close time ${String(fields[6])} is not open time + interval - 1` };
  if (!(row.open > 0 && row.close > 0 && row.low > 0)) return { ok: false, openTime: t, reason: `${at}: prices must be > 0` };
  if (row.high < Math.max(row.open, row.close)) return { ok: false, openTime: t, reason: `${at}: high ${row.high} is below open or close` };
  if (row.low > Math.min(row.open, row.close)) return { ok: false, openTime: t, reason: `${at}: low ${row.low} is above open or close` };
  if (row.volume < 0) return { ok: false, openTime: t, reason: `${at}: volume ${row.volume} is negative` };
  return { ok: true, row };
}

export function csvLine(r: Row): string {
  return `${r.openTime},${r.open},${r.high},${r.low},${r.close},${r.volume}\n`;
}

interface ExistingFile {
  /** Whether the file starts with the header (false: it was empty or held part of the header, now cut off). */
  hasHeader: boolean;
  /** Open time of the last complete row, or null when the file has only its header. */
  last: number | null;
  truncatedBytes: number;
}

/** Reads the start and end of an existing output file: its header, its last complete row; cuts off a partial last line. */
function openExisting(out: string, info: SourceInfo, len: number, note: (line: string) => void): ExistingFile {
  const fd = openSync(out, 'r+');
  try {
    const size = fstatSync(fd).size;
    const headBuf = Buffer.alloc(Math.min(size, 256));
    readSync(fd, headBuf, 0, headBuf.length, 0);
    const head = headBuf.toString('utf8');
    const nl = head.indexOf('\n');
    const header = (nl < 0 ? head : head.slice(0, nl)).replace(/\r$/, '');
    if (nl < 0 && FETCH_CSV_HEADER.startsWith(header)) {
      // Killed while writing the header: nothing of value in the file.
      if (size > 0) ftruncateSync(fd, 0);
      return { hasHeader: false, last: null, truncatedBytes: size };
    }
    if (header !== FETCH_CSV_HEADER) {
      throw new BitPredictError(
        'ERR_REPLAY_FILE',
        `${out}: its first line is "${header.slice(0, 80)}", not "${FETCH_CSV_HEADER}": it is not a file this command wrote; choose another --out (it is never overwritten)`,
        { details: { file: out } },
      );
    }
    const start = Math.max(0, size - TAIL_BYTES);
    const tailBuf = Buffer.alloc(size - start);
    readSync(fd, tailBuf, 0, tailBuf.length, start);
    const lastNl = tailBuf.lastIndexOf(0x0a);
    let truncatedBytes = 0;
    if (lastNl < tailBuf.length - 1) {
      truncatedBytes = tailBuf.length - 1 - lastNl;
      ftruncateSync(fd, size - truncatedBytes);
      note(`${out}: cut off a partial last line of ${truncatedBytes} bytes (a run was stopped while writing); it is fetched again`);
    }
    const lines = tailBuf
      .subarray(0, lastNl + 1)
      .toString('utf8')
      .split('\n')
      // The first piece is the header, or (in a long file) maybe part of a line: never needed.
      .slice(1, -1);
    const times: number[] = [];
    for (const [i, line] of lines.entries()) {
      const parsed = parseCsvRow('binance-1m-csv', line);
      if (!parsed.ok) {
        // Only the last line must parse: a partial first piece of the tail window is expected.
        if (i === lines.length - 1) {
          throw new BitPredictError(
            'ERR_REPLAY_FILE',
            `${out}: the last complete row "${line.slice(0, 80)}" is malformed (${parsed.reason}); fix or move the file`,
            {
              details: { file: out },
            },
          );
        }
        continue;
      }
      times.push(parsed.row.openTime);
    }
    // A file of just the header holds nothing to protect: it is taken for this series.
    if (times.length === 0) return { hasHeader: true, last: null, truncatedBytes };
    checkSourceInfo(out, info);
    for (const t of times) {
      if (t % len !== 0) {
        throw new BitPredictError(
          'ERR_REPLAY_FILE',
          `${out}: row ${iso(t)} is not on the ${info.interval} grid: the file holds another interval; choose another --out`,
          {
            details: { file: out },
          },
        );
      }
    }
    return { hasHeader: true, last: times[times.length - 1]!, truncatedBytes };
  } finally {
    closeSync(fd);
  }
}

function checkSourceInfo(out: string, info: SourceInfo): void {
  const path = sourceInfoPath(out);
  if (!existsSync(path)) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${out} exists but ${path} (which exchange, symbol and interval it holds) does not: it cannot be continued safely; choose another --out (the file is never overwritten)`,
      { details: { file: out } },
    );
  }
  let saved: Partial<SourceInfo>;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as Partial<SourceInfo>;
  } catch (err) {
    throw new BitPredictError('ERR_REPLAY_FILE', `${path} is not valid JSON (${errorMessage(err)}); fix or remove it with ${out}`, { details: { file: path } });
  }
  if (saved.exchange !== info.exchange || saved.remote !== info.remote || saved.interval !== info.interval) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${out} holds ${String(saved.exchange)} ${String(saved.remote)} ${String(saved.interval)} candles (${path}), not ${info.exchange} ${info.remote} ${info.interval}; choose another --out (the file is never overwritten)`,
      { details: { file: out } },
    );
  }
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Fetches the range's closed candles into `out` (new or continued) and says what happened. */
export async function fetchCandlesToFile(opts: FetchCandlesOptions): Promise<FetchSummary> {
  const { exchange, interval, out } = opts;
  checkSeries(exchange, interval);
  const len = INTERVAL_MS[interval]!;
  const remote = remoteSymbol(exchange, opts.symbol);
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const doFetch = opts.fetch ?? fetch;
  const signal = opts.signal ?? new AbortController().signal;
  const note = opts.onNote ?? ((): void => {});
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const maxRetries = opts.maxRetries ?? 10;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 600_000;
  const weightPause = opts.binanceWeightPause ?? 5000;
  const policy = { baseMs: opts.backoffBaseMs ?? 500, maxMs: opts.backoffMaxMs ?? 30_000, jitter: 'half' as const, random, minMs: 1 };
  const base = opts.restUrl.replace(/\/+$/, '');
  const info: SourceInfo = { exchange, remote, interval };
  const urlSetting = exchange === 'binance' ? 'BITPREDICT_BINANCE_REST_URL' : 'BITPREDICT_COINBASE_REST_URL';

  const nowAtStart = now();
  if (opts.to !== null && opts.to !== undefined && opts.from !== null && opts.to <= opts.from) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `--to ${iso(opts.to)} must be after --from ${iso(opts.from)}`);
  }
  if (opts.from !== null && opts.from > nowAtStart) throw new BitPredictError('ERR_CONFIG_INVALID', `--from ${iso(opts.from)} is in the future`);

  // Where to start: after the file's last complete row, else at --from (on the grid).
  let existing: ExistingFile | null = null;
  if (existsSync(out)) existing = openExisting(out, info, len, note);
  const resumeAfter = existing?.last ?? null;
  let start: number;
  if (resumeAfter !== null) {
    start = resumeAfter + len;
    if (opts.from !== null && opts.from > start) {
      note(`${out} ends at ${iso(resumeAfter)}: continuing from there, not from --from ${iso(opts.from)} (a file has no holes by design)`);
    }
  } else {
    if (opts.from === null) throw new BitPredictError('ERR_CONFIG_INVALID', `--from is required: ${out} does not exist yet or has no rows`);
    start = Math.ceil(opts.from / len) * len;
  }
  // Exclusive end of open times: the requested end, and never a candle that has not closed.
  const lastClosedEnd = Math.floor(nowAtStart / len) * len;
  const to = opts.to ?? nowAtStart;
  const end = Math.min(Math.ceil(to / len) * len, lastClosedEnd);

  if (existing?.last === undefined || existing.last === null) {
    // A new file, or one that holds no row yet: its series is recorded first.
    mkdirSync(dirname(out) || '.', { recursive: true });
    writeFileSync(sourceInfoPath(out), `${JSON.stringify(info)}\n`);
  }
  const file = await open(out, 'a');
  if (existing?.hasHeader !== true) {
    await file.appendFile(`${FETCH_CSV_HEADER}\n`);
    await file.sync();
  }

  const s: FetchSummary = {
    exchange,
    remote,
    interval,
    out,
    resumedAfter: resumeAfter === null ? null : iso(resumeAfter),
    truncatedBytes: existing?.truncatedBytes ?? 0,
    rowsWritten: 0,
    first: null,
    last: null,
    range: { from: iso(start), to: iso(Math.max(start, end)) },
    requests: 0,
    retries: 0,
    duplicatesDropped: 0,
    rejected: 0,
    rejectedExamples: [],
    unfinished: 0,
    weightPauses: 0,
    gaps: emptyGapSummary<FetchGap>(),
  };
  const reject = (reason: string): void => {
    s.rejected++;
    if (s.rejectedExamples.length < REJECTS_LISTED) s.rejectedExamples.push(reason);
    note(`rejected: ${reason}`);
  };
  const gap = (from: number, toExclusive: number): void => {
    const missing = (toExclusive - from) / len;
    if (missing <= 0) return;
    addGap(s.gaps, { from: iso(from), to: iso(toExclusive - len), missing }, GAPS_LISTED);
  };

  async function getPage(url: string): Promise<unknown[]> {
    for (let failures = 0; ;) {
      if (signal.aborted) throw signal.reason as Error;
      s.requests++;
      let why: string;
      let serverWait: number | null = null;
      // A timer of our own rather than AbortSignal.timeout inside AbortSignal.any: on Node 20 the
      // combined signal can be collected with its timeout before it fires, and the request then
      // never ends (seen here against a server that accepts and never answers).
      const ctrl = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        ctrl.abort();
      }, timeoutMs);
      const onAbort = (): void => ctrl.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        let res: Response;
        let text: string;
        try {
          res = await doFetch(url, { signal: ctrl.signal, headers: { accept: 'application/json' } });
          text = await readBody(res, MAX_BODY_BYTES);
        } finally {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
        }
        if (res.ok) {
          let body: unknown;
          try {
            body = JSON.parse(text) as unknown;
          } catch {
            body = undefined;
          }
          if (Array.isArray(body)) {
            const used = Number(res.headers.get('x-mbx-used-weight-1m') ?? Number.NaN);
            if (exchange === 'binance' && used >= weightPause) {
              const wait = 60_000 - (now() % 60_000) + 1_000;
              s.weightPauses++;
              note(`binance: request weight ${used} used this minute (X-MBX-USED-WEIGHT-1M); pausing ${(wait / 1000).toFixed(1)} s`);
              await sleep(wait, signal);
            }
            return body as unknown[];
          }
          why = `HTTP 200 with a body that is not a JSON array: ${text.slice(0, 120)}`;
        } else if (res.status === 429 || res.status === 418) {
          serverWait = retryAfterMs(res.headers.get('retry-after'), now());
          why = `HTTP ${res.status} (${res.status === 418 ? 'IP banned for ignoring rate limits' : 'rate limited'})${serverWait === null ? '' : `, Retry-After ${serverWait / 1000} s`}`;
          if (serverWait !== null && serverWait > maxRetryAfterMs) {
            throw new BitPredictError(
              'ERR_EXCHANGE_UNAVAILABLE',
              `${exchange} answered ${why}, longer than the ${maxRetryAfterMs / 1000} s this run waits; run the same command again after ${iso(now() + serverWait)} (it continues ${out})`,
            );
          }
        } else if (res.status >= 500) {
          why = `HTTP ${res.status}`;
        } else {
          throw new BitPredictError(
            'ERR_CONFIG_INVALID',
            `${exchange} refused GET ${url}: HTTP ${res.status} ${text.slice(0, 200)} (check --symbol, --interval, --from/--to and ${urlSetting})`,
          );
        }
      } catch (err) {
        if (err instanceof BitPredictError) throw err;
        if (signal.aborted) throw signal.reason as Error;
        why = timedOut ? `no answer within ${timeoutMs} ms` : err instanceof OversizedBody ? err.message : `network error: ${errorMessage(err)}`;
      }
      failures++;
      if (failures > maxRetries) {
        throw new BitPredictError(
          'ERR_EXCHANGE_UNAVAILABLE',
          `${exchange}: GET ${url} failed ${failures} times, last: ${why}; check ${urlSetting} and the network, then run the same command again (it continues ${out})`,
        );
      }
      const wait = backoffMs(policy, failures, serverWait);
      s.retries++;
      note(`${exchange}: ${why}; retry ${failures} of ${maxRetries} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, signal);
    }
  }

  const pageUrl = (from: number): { url: string; windowEnd: number } => {
    if (exchange === 'binance') {
      return {
        url: `${base}/api/v3/klines?symbol=${remote}&interval=${interval}&startTime=${from}&endTime=${end - 1}&limit=${FETCH_PAGE.binance}`,
        windowEnd: end,
      };
    }
    const windowEnd = Math.min(end, from + FETCH_PAGE.coinbase * len);
    return {
      url: `${base}/products/${remote}/candles?granularity=${COINBASE_GRANULARITY[interval]}&start=${iso(from)}&end=${iso(windowEnd - len)}`,
      windowEnd,
    };
  };

  // The last open time written (or in the file), and the open times of the last two pages, to
  // tell a duplicate (an overlap between pages) from a row out of order.
  let prev = resumeAfter ?? start - len;
  let seen = new Set<number>(resumeAfter === null ? [] : [resumeAfter]);
  let cursor = start;
  const total = Math.max(0, (end - start) / len);
  try {
    while (cursor < end) {
      const { url, windowEnd } = pageUrl(cursor);
      const body = await getPage(url);
      // Coinbase sends newest first: walked oldest first, so the same rule finds rows out of order.
      const rows = exchange === 'coinbase' ? [...body].reverse() : body;
      const lines: string[] = [];
      const pageSeen = new Set<number>();
      let furthest = -Infinity;
      for (const raw of rows) {
        const c = checkRow(exchange, raw, len);
        if (!c.ok) {
          if (c.openTime !== null) furthest = Math.max(furthest, c.openTime);
          reject(c.reason);
          continue;
        }
        const r = c.row;
        furthest = Math.max(furthest, r.openTime);
        if (r.openTime < start) continue; // before the range (or before a continued file's end): not asked for
        if (r.openTime + len > nowAtStart) {
          s.unfinished++;
          continue;
        }
        if (r.openTime >= end) continue; // after the range
        if (r.openTime <= prev) {
          if (seen.has(r.openTime) || pageSeen.has(r.openTime)) s.duplicatesDropped++;
          else reject(`candle ${iso(r.openTime)}: out of order (after ${iso(prev)})`);
          continue;
        }
        gap(prev + len, r.openTime);
        prev = r.openTime;
        pageSeen.add(r.openTime);
        lines.push(csvLine(r));
        s.first ??= iso(r.openTime);
        s.last = iso(r.openTime);
      }
      if (lines.length > 0) {
        await file.appendFile(lines.join(''));
        await file.sync();
        s.rowsWritten += lines.length;
      }
      seen = pageSeen.size > 0 ? new Set([...seen, ...pageSeen].slice(-2 * FETCH_PAGE.binance)) : seen;
      // Binance answers from startTime on: an empty page means nothing more up to the end. Coinbase
      // answers a window, empty during an outage: the next window follows it.
      if (exchange === 'binance') {
        if (body.length === 0) break;
        // (a row off the grid is rounded down, so the candle after it is still asked for)
        cursor = furthest >= cursor ? Math.floor(furthest / len) * len + len : cursor + FETCH_PAGE.binance * len;
      } else {
        cursor = Math.max(windowEnd, Math.floor(furthest / len) * len + len);
      }
      opts.onProgress?.({ done: Math.min(total, (Math.min(cursor, end) - start) / len), total, rowsWritten: s.rowsWritten, requests: s.requests });
    }
    gap(prev + len, end);
  } finally {
    await file.close();
  }
  return s;
}
