import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MAX_LIMIT,
  classifyResponse,
  histoPath,
  isPollInterval,
  planPublish,
  requestLimit,
  retryDelay,
  splitSymbol,
  type PlanInput,
  type RowParse,
} from './histo.js';

const M = 60_000;
const T0 = Date.UTC(2024, 2, 1);
const fixture = (name: string): string => readFileSync(new URL(`../../../test/fixtures/poll/${name}`, import.meta.url), 'utf8');
const meta = { symbol: 'BTCUSDT', interval: '1m', exchange: 'cryptocompare', source: 'poll:test' };

function rows(body: string): RowParse[] {
  const out = classifyResponse(200, null, body, T0);
  if (out.kind !== 'ok') throw new Error(`expected ok, got ${out.kind}`);
  return out.rows;
}

function plan(over: Partial<PlanInput>): ReturnType<typeof planPublish> {
  return planPublish({ rows: [], lastOpenTime: null, now: T0 + 6 * M + 30_000, intervalMs: M, futureToleranceMs: 60_000, meta, ...over });
}

describe('request building', () => {
  it('splits symbols by quote suffix and rejects unknown ones', () => {
    expect(splitSymbol('BTCUSDT')).toEqual({ fsym: 'BTC', tsym: 'USDT' });
    expect(splitSymbol('ETHBTC')).toEqual({ fsym: 'ETH', tsym: 'BTC' });
    expect(splitSymbol('BTCUSD')).toEqual({ fsym: 'BTC', tsym: 'USD' });
    expect(splitSymbol('USDT')).toBeNull();
    expect(splitSymbol('FOO')).toBeNull();
  });

  it('builds the histo path of 1m/1h/1d and knows no other interval', () => {
    expect(histoPath('1m', { fsym: 'BTC', tsym: 'USDT' }, 10)).toBe('/data/v2/histominute?fsym=BTC&tsym=USDT&limit=10');
    expect(histoPath('1h', { fsym: 'BTC', tsym: 'USDT' }, 3)).toBe('/data/v2/histohour?fsym=BTC&tsym=USDT&limit=3');
    expect(isPollInterval('1d')).toBe(true);
    expect(isPollInterval('5m')).toBe(false);
    expect(isPollInterval('constructor')).toBe(false);
  });

  it('asks for what is missing since the last candle, the backfill on a cold start, capped at the API maximum', () => {
    expect(requestLimit(null, T0, M, 60)).toBe(60);
    expect(requestLimit(null, T0, M, 0)).toBe(1);
    expect(requestLimit(null, T0, M, 99_999)).toBe(MAX_LIMIT);
    expect(requestLimit(T0 - M, T0 + 1, M, 60)).toBe(3);
    expect(requestLimit(T0, T0, M, 60)).toBe(2);
    expect(requestLimit(T0 - 10_000 * M, T0, M, 60)).toBe(MAX_LIMIT);
  });
});

describe('classifyResponse', () => {
  it('parses a real-shaped success body into rows (seconds -> ms)', () => {
    const r = rows(fixture('histominute-success.json'));
    expect(r).toHaveLength(7);
    expect(r[0]).toEqual({
      ok: true,
      index: 0,
      raw: expect.stringContaining('"time":1709251200') as string,
      row: { openTime: T0, open: 61130.99, high: 61197.66, low: 61126, close: 61196, volume: 121.02208, quoteVolume: expect.any(Number) as number },
    });
  });

  it('treats 429 and the HTTP-200 rate-limit error body as rate limits, honouring Retry-After', () => {
    expect(classifyResponse(429, '7', '', T0)).toMatchObject({ kind: 'rate-limited', retryAfterMs: 7000 });
    expect(classifyResponse(200, null, fixture('rate-limit-error.json'), T0)).toMatchObject({
      kind: 'rate-limited',
      retryAfterMs: null,
      message: expect.stringMatching(/rate limit/) as string,
    });
  });

  it('separates server errors, other API errors and malformed bodies', () => {
    expect(classifyResponse(503, null, 'busy', T0)).toMatchObject({ kind: 'server-error', status: 503 });
    expect(classifyResponse(404, null, 'nope', T0)).toMatchObject({ kind: 'client-error', status: 404 });
    expect(classifyResponse(200, null, fixture('invalid-param-error.json'), T0)).toMatchObject({
      kind: 'client-error',
      message: expect.stringMatching(/fsym/) as string,
    });
    expect(classifyResponse(200, null, '{"Response":"Success","Data":{"Da', T0)).toMatchObject({
      kind: 'malformed',
      message: expect.stringMatching(/not JSON/) as string,
    });
    expect(classifyResponse(200, null, '[1,2]', T0)).toMatchObject({ kind: 'malformed' });
    expect(classifyResponse(200, null, '{"Response":"Success","Data":{}}', T0)).toMatchObject({ kind: 'malformed', message: 'Data.Data is not an array' });
    expect(classifyResponse(200, null, '{"Response":"Maybe","Data":{"Data":[]}}', T0)).toMatchObject({ kind: 'malformed' });
    expect(classifyResponse(200, null, 'x'.repeat(5 * 1024 * 1024), T0)).toMatchObject({ kind: 'malformed', message: expect.stringMatching(/max/) as string });
  });

  it('reports each malformed row with its index and raw text', () => {
    const body = JSON.stringify({
      Response: 'Success',
      Data: {
        Data: [
          { time: T0 / 1000, open: 1, high: 2, low: 1, close: 2, volumefrom: 1, volumeto: 2 },
          { time: T0 / 1000 + 60, open: '1', high: 2, low: 1, close: 2, volumefrom: 1, volumeto: 2 },
          { time: T0 / 1000 + 120, high: 2, low: 1, close: 2, volumefrom: 1, volumeto: 2 },
          { time: 1.5, open: 1, high: 2, low: 1, close: 2, volumefrom: 1, volumeto: 2 },
          'garbage',
        ],
      },
    });
    const r = rows(body);
    expect(r.map((x) => x.ok)).toEqual([true, false, false, false, false]);
    expect(r.filter((x) => !x.ok).map((x) => (x.ok ? '' : `${x.index}:${x.reason}`))).toEqual([
      '1:open is not a finite number ("1")',
      '2:open is missing',
      '3:time 1.5 is not a positive integer of seconds',
      '4:row is not an object',
    ]);
  });
});

describe('planPublish', () => {
  const all = rows(fixture('histominute-success.json'));

  it('publishes only closed candles, never the in-progress last one', () => {
    const p = plan({ rows: all });
    expect(p.publish.map((c) => c.openTime)).toEqual([0, 1, 2, 3, 4, 5].map((i) => T0 + i * M));
    expect(p.open).toBe(1);
    expect(p.publish[0]).toMatchObject({ ...meta, closeTime: T0 + M, tradeCount: null, ingestedAt: T0 + 6 * M + 30_000 });
  });

  it('skips what was already published and counts the rest of a gap without filling it', () => {
    const p = plan({ rows: all.filter((_, i) => i !== 4), lastOpenTime: T0 + 2 * M });
    expect(p.publish.map((c) => c.openTime)).toEqual([T0 + 3 * M, T0 + 5 * M]);
    expect(p).toMatchObject({ old: 3, missingIntervals: 1 });
    expect(plan({ rows: all, lastOpenTime: T0 + 5 * M }).publish).toEqual([]);
  });

  it('keeps the later of duplicated rows and sorts out-of-order rows', () => {
    const first = all[1] as RowParse;
    const changed: RowParse = first.ok ? { ...first, row: { ...first.row, close: first.row.close + 1, high: first.row.high + 1 } } : first;
    const p = plan({ rows: [all[2] as RowParse, first, all[0] as RowParse, changed] });
    expect(p.publish.map((c) => c.openTime)).toEqual([T0, T0 + M, T0 + 2 * M]);
    expect(p.publish[1]?.close).toBe(first.ok ? first.row.close + 1 : NaN);
  });

  it('dead-letters invalid, misaligned and unparseable rows, and skips all-zero placeholders', () => {
    const bad: RowParse[] = [
      { ok: true, index: 0, raw: 'r0', row: { openTime: T0, open: 10, high: 5, low: 1, close: 2, volume: 1, quoteVolume: 2 } },
      { ok: true, index: 1, raw: 'r1', row: { openTime: T0 + M + 1000, open: 1, high: 2, low: 1, close: 2, volume: 1, quoteVolume: 2 } },
      { ok: true, index: 2, raw: 'r2', row: { openTime: T0 + 2 * M, open: 0, high: 0, low: 0, close: 0, volume: 0, quoteVolume: 0 } },
      { ok: false, index: 3, raw: '"x"', reason: 'row is not an object' },
    ];
    const p = plan({ rows: bad });
    expect(p.publish).toEqual([]);
    expect(p.empty).toBe(1);
    expect(p.dead.map((d) => d.index)).toEqual([0, 1, 3]);
    expect(p.dead.map((d) => d.reason)).toEqual(['high 5 < open 10', 'time 1709251261 is not aligned to the 1m interval', 'row is not an object']);
  });

  it('never publishes a future-dated row: it is not closed yet', () => {
    const future: RowParse = { ok: true, index: 0, raw: 'f', row: { openTime: T0 + 1000 * M, open: 1, high: 2, low: 1, close: 2, volume: 1, quoteVolume: 2 } };
    const p = plan({ rows: [future] });
    expect(p.publish).toEqual([]);
    expect(p.open).toBe(1);
  });
});

describe('retryDelay', () => {
  it('doubles per attempt up to the cap, jitter takes off at most half, Retry-After wins when longer', () => {
    expect([1, 2, 3, 4, 10].map((a) => retryDelay(a, 100, 1000, 0))).toEqual([100, 200, 400, 800, 1000]);
    expect(retryDelay(2, 100, 1000, 0.999)).toBeGreaterThanOrEqual(100);
    expect(retryDelay(2, 100, 1000, 0.5)).toBe(150);
    expect(retryDelay(1, 100, 1000, 0, 5000)).toBe(5000);
    expect(retryDelay(3, 100, 1000, 0, 10)).toBe(400);
    expect(retryDelay(1000, 100, 1000, 0)).toBe(1000);
  });
});
