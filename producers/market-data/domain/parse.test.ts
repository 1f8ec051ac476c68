import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBinanceFrame, parseBinanceKlines, parseCoinbaseCandles, parseCoinbaseFrame } from './parse.js';
import { coinbaseProduct, coinbasePublishedSymbol } from './symbols.js';

const FIX = resolve(fileURLToPath(new URL('../../../test/fixtures/exchanges/', import.meta.url)));
const load = (name: string): unknown => JSON.parse(readFileSync(resolve(FIX, name), 'utf8')) as unknown;
const binance = load('binance-frames.json') as Record<string, unknown>;
const coinbase = load('coinbase-frames.json') as Record<string, unknown>;
const T0 = Date.UTC(2026, 0, 1);

describe('Binance frames', () => {
  it('parses a closed kline with an exclusive closeTime', () => {
    const r = parseBinanceFrame(JSON.stringify(binance.kline_closed));
    expect(r).toMatchObject({
      ok: true,
      value: {
        kind: 'kline',
        closed: true,
        candle: {
          symbol: 'BTCUSDT',
          interval: '1m',
          openTime: T0,
          closeTime: T0 + 60_000,
          open: 87950.01,
          high: 87991.99,
          low: 87941.12,
          close: 87980,
          tradeCount: 911,
        },
      },
    });
    expect(parseBinanceFrame(JSON.stringify(binance.kline_open))).toMatchObject({ ok: true, value: { closed: false } });
  });

  it('parses trades and control frames', () => {
    expect(parseBinanceFrame(JSON.stringify(binance.trade))).toMatchObject({
      ok: true,
      value: { kind: 'trade', trade: { tradeId: 5301000421, price: 87962.5, size: 0.0012 } },
    });
    expect(parseBinanceFrame(JSON.stringify(binance.subscribe_ack))).toEqual({ ok: true, value: { kind: 'control' } });
  });

  it('rejects malformed, truncated and inconsistent frames with a reason', () => {
    const text = JSON.stringify(binance.kline_closed);
    expect(parseBinanceFrame(text.slice(0, 80))).toEqual({ ok: false, reason: 'frame is not valid JSON' });
    expect(parseBinanceFrame('[]')).toMatchObject({ ok: false });
    expect(parseBinanceFrame(text.replace('"o":"87950.01000000"', '"o":"abc"'))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('k.o') as unknown,
    });
    expect(parseBinanceFrame(text.replace('"T":1767225659999', '"T":1767225659000'))).toMatchObject({ ok: false });
    expect(parseBinanceFrame(text.replace('"i":"1m"', '"i":"7m"'))).toMatchObject({ ok: false });
    expect(parseBinanceFrame(text.replace('"x":true', '"x":"yes"'))).toMatchObject({ ok: false });
    expect(parseBinanceFrame(JSON.stringify({ stream: 'x', data: { e: 'depthUpdate' } }))).toMatchObject({ ok: false });
    expect(parseBinanceFrame('x'.repeat(1_000_000))).toMatchObject({ ok: false });
  });

  it('parses REST klines and rejects bad rows', () => {
    const r = parseBinanceKlines(load('binance-klines.json'), 'BTCUSDT', '1m');
    expect(r.ok && r.value.map((c) => c.openTime)).toEqual([T0, T0 + 60_000]);
    expect(r.ok && r.value[0]).toMatchObject({ source: 'binance-rest', closeTime: T0 + 60_000, volume: 25.00012, tradeCount: 911 });
    expect(parseBinanceKlines({ code: -1121 }, 'BTCUSDT', '1m')).toMatchObject({ ok: false });
    expect(parseBinanceKlines([[T0, '1']], 'BTCUSDT', '1m')).toMatchObject({ ok: false });
  });
});

describe('Coinbase frames', () => {
  it('parses matches (and last_match) with microsecond times', () => {
    expect(parseCoinbaseFrame(JSON.stringify(coinbase.match))).toEqual({
      ok: true,
      value: { kind: 'match', productId: 'BTC-USD', trade: { tradeId: 912345671, time: T0 + 1028, price: 87950.01, size: 0.02 } },
    });
    expect(parseCoinbaseFrame(JSON.stringify(coinbase.last_match))).toMatchObject({ ok: true, value: { kind: 'match' } });
  });

  it('parses heartbeat, subscriptions and error', () => {
    expect(parseCoinbaseFrame(JSON.stringify(coinbase.heartbeat))).toEqual({ ok: true, value: { kind: 'heartbeat', productId: 'BTC-USD', time: T0 + 2000 } });
    expect(parseCoinbaseFrame(JSON.stringify(coinbase.subscriptions))).toEqual({ ok: true, value: { kind: 'subscriptions' } });
    expect(parseCoinbaseFrame(JSON.stringify(coinbase.error))).toMatchObject({
      ok: true,
      value: { kind: 'error', message: expect.stringContaining('not a valid product') as unknown },
    });
  });

  it('rejects malformed matches', () => {
    const m = coinbase.match as Record<string, unknown>;
    expect(parseCoinbaseFrame(JSON.stringify({ ...m, time: 'yesterday' }))).toMatchObject({ ok: false });
    expect(parseCoinbaseFrame(JSON.stringify({ ...m, trade_id: 1.5 }))).toMatchObject({ ok: false });
    expect(parseCoinbaseFrame(JSON.stringify({ ...m, price: '' }))).toMatchObject({ ok: false });
    expect(parseCoinbaseFrame(JSON.stringify({ ...m, type: 'l2update' }))).toMatchObject({ ok: false });
    expect(parseCoinbaseFrame('{"type":')).toMatchObject({ ok: false });
    expect(parseCoinbaseFrame('null')).toMatchObject({ ok: false });
  });

  it('parses REST candles newest-first into oldest-first, with low/high in Coinbase order', () => {
    const r = parseCoinbaseCandles(load('coinbase-candles.json'), 'BTCUSD', '1m');
    expect(r.ok && r.value.map((c) => [c.openTime, c.open, c.high, c.low, c.close])).toEqual([
      [T0, 87950.01, 87991.99, 87941.12, 87980],
      [T0 + 60_000, 87980, 88010, 87970.5, 88001.1],
    ]);
    expect(parseCoinbaseCandles({ message: 'NotFound' }, 'BTCUSD', '1m')).toMatchObject({ ok: false });
    expect(parseCoinbaseCandles([[T0 / 1000, 1, 2]], 'BTCUSD', '1m')).toMatchObject({ ok: false });
  });
});

describe('symbol mapping', () => {
  it('maps BTCUSDT to BTC-USD and publishes it as BTCUSD', () => {
    expect(coinbaseProduct('BTCUSDT')).toBe('BTC-USD');
    expect(coinbaseProduct('ETHBTC')).toBe('ETH-BTC');
    expect(coinbaseProduct('XYZ')).toBeNull();
    expect(coinbasePublishedSymbol('BTC-USD')).toBe('BTCUSD');
  });
});
