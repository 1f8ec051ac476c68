// Pure side of the REST polling fallback: the CryptoCompare-style histo API (request paths,
// response classification, row parsing), what to publish from a response, and the retry delays.
// No I/O and no clock reads: times come in as arguments.
import type { Candle } from '../../../schemas/types.js';
import { toCandle, validateCandle } from '../../../core/domain/candle.js';
import { retryAfterMs } from '../../../core/domain/http.js';
import { backoffMs } from '../../../core/backoff.js';

/** The histo endpoint of each interval the API serves; other intervals cannot be polled. */
export const HISTO_ENDPOINTS = { '1m': 'histominute', '1h': 'histohour', '1d': 'histoday' } as const;
export type PollInterval = keyof typeof HISTO_ENDPOINTS;

/** The API returns at most this many candles per request. */
export const MAX_LIMIT = 2000;

const QUOTES = ['USDT', 'USDC', 'BUSD', 'FDUSD', 'USD', 'EUR', 'GBP', 'BTC', 'ETH'] as const;

export function isPollInterval(interval: string): interval is PollInterval {
  return Object.prototype.hasOwnProperty.call(HISTO_ENDPOINTS, interval);
}

/** "BTCUSDT" -> { fsym: "BTC", tsym: "USDT" }, by known quote suffix; null when none matches. */
export function splitSymbol(symbol: string): { fsym: string; tsym: string } | null {
  for (const q of QUOTES) {
    if (symbol.length > q.length && symbol.endsWith(q)) return { fsym: symbol.slice(0, -q.length), tsym: q };
  }
  return null;
}

/**
 * How many candles to ask for: enough to cover everything since the last published candle (plus
 * the in-progress one the API always appends), `backfill` on a cold start, never above MAX_LIMIT.
 * A longer outage than MAX_LIMIT intervals leaves a gap, which stays a gap.
 */
export function requestLimit(lastOpenTime: number | null, now: number, intervalMs: number, backfill: number): number {
  if (lastOpenTime === null) return Math.min(Math.max(backfill, 1), MAX_LIMIT);
  const missing = Math.ceil((now - lastOpenTime) / intervalMs) + 1;
  return Math.min(Math.max(missing, 2), MAX_LIMIT);
}

export function histoPath(interval: PollInterval, symbol: { fsym: string; tsym: string }, limit: number): string {
  const q = new URLSearchParams({ fsym: symbol.fsym, tsym: symbol.tsym, limit: String(limit) });
  return `/data/v2/${HISTO_ENDPOINTS[interval]}?${q.toString()}`;
}

/** One API row, parsed; times in ms. */
export interface HistoRow {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  /** volumefrom: base asset. */
  volume: number;
  /** volumeto: quote asset. */
  quoteVolume: number;
}

export type RowParse = { ok: true; index: number; raw: string; row: HistoRow } | { ok: false; index: number; raw: string; reason: string };

export type HistoOutcome =
  | { kind: 'ok'; rows: RowParse[] }
  | { kind: 'rate-limited'; retryAfterMs: number | null; message: string }
  | { kind: 'server-error'; status: number; message: string }
  | { kind: 'client-error'; status: number; message: string }
  | { kind: 'malformed'; message: string };

/** Bodies larger than this are not parsed (the largest valid answer, 2000 rows, is ~400 KB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const RATE_LIMIT_TEXT = /rate limit/i;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function parseRow(entry: unknown, index: number): RowParse {
  const raw = JSON.stringify(entry) ?? String(entry);
  if (!isRecord(entry)) return { ok: false, index, raw, reason: 'row is not an object' };
  const fields = ['time', 'open', 'high', 'low', 'close', 'volumefrom', 'volumeto'] as const;
  const values: number[] = [];
  for (const f of fields) {
    const v = num(entry[f]);
    if (v === null)
      return { ok: false, index, raw, reason: `${f} is ${entry[f] === undefined ? 'missing' : `not a finite number (${JSON.stringify(entry[f])})`}` };
    values.push(v);
  }
  const [time, open, high, low, close, volume, quoteVolume] = values as [number, number, number, number, number, number, number];
  if (!Number.isSafeInteger(time) || time <= 0) return { ok: false, index, raw, reason: `time ${time} is not a positive integer of seconds` };
  return { ok: true, index, raw, row: { openTime: time * 1000, open, high, low, close, volume, quoteVolume } };
}

/** Classifies one HTTP answer. `retryAfter` is the Retry-After header, `now` the clock. */
export function classifyResponse(status: number, retryAfter: string | null, body: string, now: number): HistoOutcome {
  if (status === 429) return { kind: 'rate-limited', retryAfterMs: retryAfterMs(retryAfter, now), message: `HTTP 429: ${body.slice(0, 200)}` };
  if (status >= 500) return { kind: 'server-error', status, message: `HTTP ${status}: ${body.slice(0, 200)}` };
  if (status < 200 || status >= 300) return { kind: 'client-error', status, message: `HTTP ${status}: ${body.slice(0, 200)}` };
  if (body.length > MAX_BODY_BYTES) return { kind: 'malformed', message: `body is ${body.length} characters (max ${MAX_BODY_BYTES})` };
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    return { kind: 'malformed', message: `body is not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isRecord(doc)) return { kind: 'malformed', message: 'body is not a JSON object' };
  if (doc.Response === 'Error') {
    const message = typeof doc.Message === 'string' ? doc.Message : 'Response: Error without a message';
    // The API answers 200 with an Error body when over the limit; it is a rate limit all the same.
    if (RATE_LIMIT_TEXT.test(message)) return { kind: 'rate-limited', retryAfterMs: retryAfterMs(retryAfter, now), message };
    return { kind: 'client-error', status, message };
  }
  if (doc.Response !== 'Success') return { kind: 'malformed', message: `Response is ${JSON.stringify(doc.Response)}, expected "Success" or "Error"` };
  const data = doc.Data;
  if (!isRecord(data) || !Array.isArray(data.Data)) return { kind: 'malformed', message: 'Data.Data is not an array' };
  return { kind: 'ok', rows: (data.Data as unknown[]).map((e, i) => parseRow(e, i)) };
}

export interface PlanInput {
  rows: RowParse[];
  /** Open time of the last candle of this key already published, or null. */
  lastOpenTime: number | null;
  now: number;
  intervalMs: number;
  futureToleranceMs: number;
  meta: { symbol: string; interval: string; exchange: string; source: string };
}

export interface Plan {
  /** Closed, valid candles newer than lastOpenTime, ascending, one per open time. */
  publish: Candle[];
  /** Rows to dead-letter, in response order. */
  dead: { index: number; raw: string; code: 'ERR_VALIDATION'; reason: string }[];
  /** Rows not closed yet (closeTime > now): polled again next time. */
  open: number;
  /** Rows already published (openTime <= lastOpenTime). */
  old: number;
  /** All-zero rows: the API's placeholder for periods before its history starts; no candle. */
  empty: number;
  /** Missing intervals between consecutive published candles (and after lastOpenTime): never filled. */
  missingIntervals: number;
}

/**
 * What to publish from one response. Only closed candles (closeTime <= now) newer than the last
 * published one go out, so a restart or an overlapping poll never republishes, and an in-progress
 * candle is never published early. A repeated time keeps the later row.
 */
export function planPublish(input: PlanInput): Plan {
  const plan: Plan = { publish: [], dead: [], open: 0, old: 0, empty: 0, missingIntervals: 0 };
  const byTime = new Map<number, Candle>();
  for (const r of input.rows) {
    if (!r.ok) {
      plan.dead.push({ index: r.index, raw: r.raw, code: 'ERR_VALIDATION', reason: r.reason });
      continue;
    }
    const row = r.row;
    if (row.open === 0 && row.high === 0 && row.low === 0 && row.close === 0 && row.volume === 0) {
      plan.empty++;
      continue;
    }
    if (input.lastOpenTime !== null && row.openTime <= input.lastOpenTime) {
      plan.old++;
      continue;
    }
    const candle = toCandle({ ...row, tradeCount: null }, { ...input.meta, ingestedAt: input.now });
    if (row.openTime % input.intervalMs !== 0) {
      plan.dead.push({
        index: r.index,
        raw: r.raw,
        code: 'ERR_VALIDATION',
        reason: `time ${row.openTime / 1000} is not aligned to the ${input.meta.interval} interval`,
      });
      continue;
    }
    if (candle.closeTime > input.now) {
      plan.open++;
      continue;
    }
    const invalid = validateCandle(candle, input.now, input.futureToleranceMs);
    if (invalid) {
      plan.dead.push({ index: r.index, raw: r.raw, code: invalid.code, reason: invalid.reason });
      continue;
    }
    byTime.set(row.openTime, candle);
  }
  plan.publish = [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
  let prev = input.lastOpenTime;
  for (const c of plan.publish) {
    if (prev !== null) plan.missingIntervals += Math.max(0, Math.round((c.openTime - prev) / input.intervalMs) - 1);
    prev = c.openTime;
  }
  return plan;
}

/**
 * Delay before retry number `attempt` (1 = first retry): base x 2^(attempt-1), capped at max, with
 * `jitter` in [0, 1) taking off up to half so that several pollers do not retry in step. A
 * Retry-After from the server wins when it is longer.
 */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, jitter: number, retryAfterMs: number | null = null): number {
  return backoffMs({ baseMs, maxMs, jitter: 'half', random: () => jitter }, attempt, retryAfterMs);
}
