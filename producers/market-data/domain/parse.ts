// Parsing of exchange payloads (WebSocket frames and REST rows) into BitPredict shapes. Nothing
// here throws on bad input: every function returns a tagged result so the shell can dead-letter
// the raw bytes with the reason.
import type { Candle } from '../../../schemas/types.js';
import { intervalMs, isKnownInterval } from '../../../core/domain/intervals.js';

/** A candle before the producer stamps it (ingestedAt is wall clock at publish). */
export type CandleDraft = Omit<Candle, 'ingestedAt'>;

export interface TradeTick {
  tradeId: number;
  /** Exchange time of the trade (ms). */
  time: number;
  price: number;
  size: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

class Bad extends Error {}

function fail(reason: string): never {
  throw new Bad(reason);
}

const DECIMAL = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

function num(v: unknown, name: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && DECIMAL.test(v)) return Number(v);
  return fail(`${name} ${JSON.stringify(v) ?? 'undefined'} is not a number`);
}

function int(v: unknown, name: string): number {
  const n = num(v, name);
  if (!Number.isSafeInteger(n)) fail(`${name} ${n} is not an integer`);
  return n;
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') fail(`${name} is missing or not a string`);
  return v;
}

function obj(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${name} is not an object`);
  return v as Record<string, unknown>;
}

function isoMs(v: unknown, name: string): number {
  const s = str(v, name);
  const ms = Date.parse(s);
  if (Number.isNaN(ms) || !/^\d{4}-\d\d-\d\dT/.test(s)) fail(`${name} "${s}" is not an ISO 8601 time`);
  return ms;
}

function guard<T>(f: () => T): Parsed<T> {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, reason: err.message };
    throw err;
  }
}

function json(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fail('frame is not valid JSON');
  }
}

export type BinanceFrame = { kind: 'kline'; closed: boolean; candle: CandleDraft } | { kind: 'trade'; symbol: string; trade: TradeTick } | { kind: 'control' };

/**
 * One frame of Binance's combined stream: {"stream":"btcusdt@kline_1m","data":{...}}. Binance's
 * kline `T` is the last millisecond of the candle; BitPredict's closeTime is exclusive (t + length).
 */
export function parseBinanceFrame(text: string): Parsed<BinanceFrame> {
  return guard(() => {
    const root = obj(json(text), 'frame');
    if ('result' in root && 'id' in root) return { kind: 'control' };
    const stream = str(root.stream, 'stream');
    const data = obj(root.data, 'data');
    const event = str(data.e, `data.e (stream ${stream})`);
    if (event === 'kline') {
      const k = obj(data.k, 'data.k');
      const interval = str(k.i, 'k.i');
      if (!isKnownInterval(interval)) fail(`k.i "${interval}" is not a supported interval`);
      const openTime = int(k.t, 'k.t');
      const lastMs = int(k.T, 'k.T');
      const len = intervalMs(interval);
      if (lastMs !== openTime + len - 1) fail(`k.T ${lastMs} is not k.t + ${interval} - 1`);
      if (typeof k.x !== 'boolean') fail('k.x is not a boolean');
      return {
        kind: 'kline',
        closed: k.x,
        candle: {
          symbol: str(k.s, 'k.s').toUpperCase(),
          interval,
          exchange: 'binance',
          openTime,
          closeTime: openTime + len,
          open: num(k.o, 'k.o'),
          high: num(k.h, 'k.h'),
          low: num(k.l, 'k.l'),
          close: num(k.c, 'k.c'),
          volume: num(k.v, 'k.v'),
          quoteVolume: num(k.q, 'k.q'),
          tradeCount: int(k.n, 'k.n'),
          source: 'binance-ws',
        },
      };
    }
    if (event === 'trade') {
      return {
        kind: 'trade',
        symbol: str(data.s, 's').toUpperCase(),
        trade: { tradeId: int(data.t, 't'), time: int(data.T, 'T'), price: num(data.p, 'p'), size: num(data.q, 'q') },
      };
    }
    return fail(`unexpected event type "${event}"`);
  });
}

export type CoinbaseFrame =
  | { kind: 'match'; productId: string; trade: TradeTick }
  | { kind: 'heartbeat'; productId: string; time: number }
  | { kind: 'subscriptions' }
  | { kind: 'error'; message: string };

/** One frame of the Coinbase Exchange feed (matches and heartbeat channels). */
export function parseCoinbaseFrame(text: string): Parsed<CoinbaseFrame> {
  return guard(() => {
    const root = obj(json(text), 'frame');
    const type = str(root.type, 'type');
    if (type === 'match' || type === 'last_match') {
      return {
        kind: 'match',
        productId: str(root.product_id, 'product_id'),
        trade: { tradeId: int(root.trade_id, 'trade_id'), time: isoMs(root.time, 'time'), price: num(root.price, 'price'), size: num(root.size, 'size') },
      };
    }
    if (type === 'heartbeat') return { kind: 'heartbeat', productId: str(root.product_id, 'product_id'), time: isoMs(root.time, 'time') };
    if (type === 'subscriptions') return { kind: 'subscriptions' };
    if (type === 'error')
      return {
        kind: 'error',
        message: `${typeof root.message === 'string' ? root.message : 'error'}${typeof root.reason === 'string' ? `: ${root.reason}` : ''}`,
      };
    return fail(`unexpected message type "${type}"`);
  });
}

/** GET /api/v3/klines rows: [openTime, o, h, l, c, v, closeTimeInclusive, quoteVolume, trades, ...]. */
export function parseBinanceKlines(body: unknown, symbol: string, interval: string): Parsed<CandleDraft[]> {
  return guard(() => {
    if (!Array.isArray(body)) fail('klines response is not an array');
    const len = intervalMs(interval);
    return body.map((row: unknown, i): CandleDraft => {
      if (!Array.isArray(row) || row.length < 9) fail(`kline row ${i} is not an array of at least 9 fields`);
      const openTime = int(row[0], `row ${i} openTime`);
      if (int(row[6], `row ${i} closeTime`) !== openTime + len - 1) fail(`row ${i} closeTime is not openTime + ${interval} - 1`);
      return {
        symbol,
        interval,
        exchange: 'binance',
        openTime,
        closeTime: openTime + len,
        open: num(row[1], `row ${i} open`),
        high: num(row[2], `row ${i} high`),
        low: num(row[3], `row ${i} low`),
        close: num(row[4], `row ${i} close`),
        volume: num(row[5], `row ${i} volume`),
        quoteVolume: num(row[7], `row ${i} quoteVolume`),
        tradeCount: int(row[8], `row ${i} trades`),
        source: 'binance-rest',
      };
    });
  });
}

/**
 * GET /products/<id>/candles rows: [time_s, low, high, open, close, volume], newest first.
 * Returned oldest first. Coinbase gives neither quote volume nor trade count.
 */
export function parseCoinbaseCandles(body: unknown, symbol: string, interval: string): Parsed<CandleDraft[]> {
  return guard(() => {
    if (!Array.isArray(body)) fail('candles response is not an array');
    const len = intervalMs(interval);
    const out = body.map((row: unknown, i): CandleDraft => {
      if (!Array.isArray(row) || row.length < 6) fail(`candle row ${i} is not an array of 6 fields`);
      const openTime = int(row[0], `row ${i} time`) * 1000;
      return {
        symbol,
        interval,
        exchange: 'coinbase',
        openTime,
        closeTime: openTime + len,
        open: num(row[3], `row ${i} open`),
        high: num(row[2], `row ${i} high`),
        low: num(row[1], `row ${i} low`),
        close: num(row[4], `row ${i} close`),
        volume: num(row[5], `row ${i} volume`),
        quoteVolume: null,
        tradeCount: null,
        source: 'coinbase-rest',
      };
    });
    return out.sort((a, b) => a.openTime - b.openTime);
  });
}
