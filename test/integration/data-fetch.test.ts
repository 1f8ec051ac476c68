// `bitpredict data fetch` and fetchCandlesToFile against the local mock exchanges
// (test/helpers/mock-exchange.ts), which serve Binance klines and Coinbase candles in the real
// formats and misbehave on demand: rate limits with Retry-After, 5xx, malformed, duplicated,
// out-of-order and unfinished rows. The clock and the sleeps are injected: no test waits.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { binanceRestRow, coinbaseCandlesFromTrades, startMockExchange, type MockExchange, type MockKline } from '../helpers/mock-exchange.js';
import { fetchCandlesToFile, sourceInfoPath, type FetchCandlesOptions } from '../../producers/market-data/history.js';
import type { TradeTick } from '../../producers/market-data/domain/index.js';
import { loadCandlesFromFile } from '../../core/data/load.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createOutput } from '../../cli/output.js';
import { dataFetch } from '../../cli/data-fetch.js';

const M = 60_000;
const T0 = Date.parse('2024-03-01T00:00:00Z');
/** The injected clock: long after the scripted history. */
const NOW = Date.parse('2024-03-10T12:34:56Z');
const HEADER = 'timestamp,open,high,low,close,volume\n';

/** n 1m klines from T0, deterministic, without the indexes in `skip` (an exchange outage). */
function klines(n: number, skip: ReadonlySet<number> = new Set()): MockKline[] {
  const out: MockKline[] = [];
  for (let i = 0; i < n; i++) {
    if (skip.has(i)) continue;
    const open = 40_000 + i * 0.5;
    const close = open + ((i % 7) - 3) * 1.25;
    out.push({
      openTime: T0 + i * M,
      open,
      high: Math.max(open, close) + 2.5,
      low: Math.min(open, close) - 1.75,
      close,
      volume: 1 + (i % 10) / 10,
      quoteVolume: 0,
      trades: 3,
    });
  }
  return out;
}

/** The CSV an exact fetch of these candles must produce, built from the script (numbers as the mock's 8-decimal strings read back). */
function expectedCsv(rows: readonly { openTime: number; open: number; high: number; low: number; close: number; volume: number }[]): string {
  const n = (x: number): number => Number(x.toFixed(8));
  return HEADER + rows.map((k) => `${k.openTime},${n(k.open)},${n(k.high)},${n(k.low)},${n(k.close)},${n(k.volume)}\n`).join('');
}

describe('data fetch against the mock exchanges', () => {
  let mock: MockExchange;
  let dir: string;
  let waits: number[];

  beforeAll(async () => {
    mock = await startMockExchange();
  });
  afterAll(async () => {
    await mock.close();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bitpredict-fetch-'));
    waits = [];
    mock.binanceKlines.clear();
    mock.coinbaseTrades.clear();
    mock.requests.length = 0;
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const binance = (over: Partial<FetchCandlesOptions> = {}): FetchCandlesOptions => ({
    exchange: 'binance',
    symbol: 'BTCUSDT',
    interval: '1m',
    from: T0,
    to: T0 + 2500 * M,
    out: join(dir, 'btc.csv'),
    restUrl: mock.binanceRestUrl,
    now: () => NOW,
    random: () => 0.5,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    ...over,
  });

  it('pages Binance 1000 at a time into exactly the scripted history, reports the outage as a gap, and the loader reads the file', async () => {
    const script = klines(2500, new Set([1200, 1201, 1202, 1203, 1204]));
    mock.binanceKlines.set('BTCUSDT:1m', script);
    const s = await fetchCandlesToFile(binance());
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(expectedCsv(script));
    expect(s).toMatchObject({ rowsWritten: 2495, requests: 3, retries: 0, duplicatesDropped: 0, rejected: 0, unfinished: 0, resumedAfter: null });
    expect(s.first).toBe(new Date(T0).toISOString());
    expect(s.last).toBe(new Date(T0 + 2499 * M).toISOString());
    expect(s.gaps).toEqual({
      count: 1,
      missingCandles: 5,
      largest: { from: new Date(T0 + 1200 * M).toISOString(), to: new Date(T0 + 1204 * M).toISOString(), missing: 5 },
      first: [{ from: new Date(T0 + 1200 * M).toISOString(), to: new Date(T0 + 1204 * M).toISOString(), missing: 5 }],
    });
    const urls = mock.requests.map((r) => new URL(r.url).searchParams);
    expect(urls.map((p) => Number(p.get('startTime')))).toEqual([T0, T0 + 1000 * M, T0 + 2005 * M]);
    expect(urls.every((p) => p.get('limit') === '1000' && Number(p.get('endTime')) === T0 + 2500 * M - 1)).toBe(true);
    expect(JSON.parse(readFileSync(sourceInfoPath(join(dir, 'btc.csv')), 'utf8'))).toEqual({ exchange: 'binance', remote: 'BTCUSDT', interval: '1m' });

    // The loader reads the layout as 'binance-1m-csv' and keeps the last row: it closed before now
    // (a fetched file never holds an unfinished candle), so every fetched candle is read.
    const loaded = await loadCandlesFromFile(dir, join(dir, 'btc.csv'), 'BTCUSDT', '1m', { now: () => NOW });
    expect(loaded).toHaveLength(2495);
    expect(loaded.map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.volume])).toEqual(
      script.map((k) => [k.openTime, k.open, k.high, k.low, k.close, k.volume]),
    );
  });

  it('waits out 429 and 418 for their Retry-After and retries 5xx with backoff, ending with the same file', async () => {
    const script = klines(1500);
    mock.binanceKlines.set('BTCUSDT:1m', script);
    mock.failNext('binance', { status: 429, retryAfter: '7' }, { status: 503 }, { status: 418, retryAfter: '120' }, { status: 502, body: 'bad gateway' });
    const notes: string[] = [];
    const s = await fetchCandlesToFile(binance({ to: T0 + 1500 * M, onNote: (l) => notes.push(l) }));
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(expectedCsv(script));
    expect(s).toMatchObject({ rowsWritten: 1500, requests: 6, retries: 4 });
    expect(waits[0]).toBe(7000);
    expect(waits[2]).toBe(120_000);
    // Backoff after the 5xx: base 500 ms doubled per failure, half jitter (random 0.5: x0.75).
    expect(waits[1]).toBe(750);
    expect(waits[3]).toBe(3000);
    expect(notes.some((l) => l.includes('HTTP 418') && l.includes('Retry-After 120 s'))).toBe(true);
  });

  it('pauses until the next minute when Binance reports its request weight near the limit', async () => {
    const script = klines(2500);
    mock.binanceKlines.set('BTCUSDT:1m', script);
    let calls = 0;
    const weighed: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const weight = ++calls === 1 ? '5200' : '40';
      return new Response(await res.text(), { status: res.status, headers: { 'x-mbx-used-weight-1m': weight } });
    };
    const s = await fetchCandlesToFile(binance({ fetch: weighed }));
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(expectedCsv(script));
    // NOW is 56 s into its minute: 4 s to the next one, and one more for the exchange's clock.
    expect(waits).toEqual([5000]);
    expect(s).toMatchObject({ weightPauses: 1, requests: 3, retries: 0 });
  });

  it('gives up with ERR_EXCHANGE_UNAVAILABLE after the retries', async () => {
    mock.binanceKlines.set('BTCUSDT:1m', klines(1500));
    mock.failNext('binance', { status: 500 }, { status: 500 }, { status: 500 });
    await expect(fetchCandlesToFile(binance({ maxRetries: 2 }))).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_UNAVAILABLE',
      message: expect.stringContaining('BITPREDICT_BINANCE_REST_URL') as unknown,
    });
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(HEADER);
    expect(mock.requests).toHaveLength(3);
  });

  it('refuses a Retry-After longer than it waits, naming when to run again; the pages before it stay in the file', async () => {
    const script = klines(1500);
    mock.binanceKlines.set('BTCUSDT:1m', script);
    let calls = 0;
    const flaky: typeof fetch = (input, init) =>
      ++calls === 2 ? Promise.resolve(new Response('{"code":-1003}', { status: 418, headers: { 'retry-after': '3600' } })) : fetch(input, init);
    await expect(fetchCandlesToFile(binance({ fetch: flaky, to: T0 + 1500 * M }))).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_UNAVAILABLE',
      message: expect.stringContaining('run the same command again after 2024-03-10T13:34:56.000Z') as unknown,
    });
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(expectedCsv(script.slice(0, 1000)));
    // Running again continues the file to the same end as an uninterrupted run.
    const s = await fetchCandlesToFile(binance({ to: T0 + 1500 * M }));
    expect(s).toMatchObject({ resumedAfter: new Date(T0 + 999 * M).toISOString(), rowsWritten: 500, truncatedBytes: 0 });
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(expectedCsv(script));
  });

  it('retries a server that never answers (per-request timeout) and a refused connection, then gives up naming the setting', async () => {
    const silent = createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const notes: string[] = [];
      await expect(fetchCandlesToFile(binance({ restUrl: url, timeoutMs: 100, maxRetries: 1, onNote: (l) => notes.push(l) }))).rejects.toMatchObject({
        code: 'ERR_EXCHANGE_UNAVAILABLE',
        message: expect.stringContaining('no answer within 100 ms') as unknown,
      });
      expect(notes).toEqual([expect.stringContaining('no answer within 100 ms; retry 1 of 1') as unknown]);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
    await expect(fetchCandlesToFile(binance({ out: join(dir, 'b.csv'), restUrl: 'http://127.0.0.1:1', maxRetries: 2 }))).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_UNAVAILABLE',
      message: expect.stringMatching(/failed 3 times, last: network error.*BITPREDICT_BINANCE_REST_URL/) as unknown,
    });
    expect(waits).toHaveLength(3);
  });

  it("reports another 4xx at once with the exchange's message", async () => {
    mock.failNext('binance', { status: 400, body: '{"code":-1121,"msg":"Invalid symbol."}' });
    await expect(fetchCandlesToFile(binance({ symbol: 'NOPEUSDT' }))).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringMatching(/HTTP 400.*Invalid symbol.*--symbol/) as unknown,
    });
    expect(mock.requests).toHaveLength(1);
  });

  it('continues a file cut mid-line by a killed run into the same bytes as an uninterrupted run', async () => {
    const script = klines(2500, new Set([10, 11, 1700]));
    mock.binanceKlines.set('BTCUSDT:1m', script);
    const whole = join(dir, 'whole.csv');
    await fetchCandlesToFile(binance({ out: whole }));
    const bytes = readFileSync(whole);
    const info = readFileSync(sourceInfoPath(whole));

    // Mid-row late in the file, at a row boundary, inside the first row, right after the header, inside the header.
    for (const cut of [Math.floor(bytes.length * 0.6) + 3, bytes.indexOf('\n', 5000) + 1, HEADER.length + 10, HEADER.length, 5]) {
      const part = join(dir, `part-${cut}.csv`);
      writeFileSync(part, bytes.subarray(0, cut));
      writeFileSync(sourceInfoPath(part), info);
      // A file with rows needs no --from; one cut inside its header or first row does.
      const s = await fetchCandlesToFile(binance({ out: part, from: cut > HEADER.length + 20 ? null : T0 }));
      expect(readFileSync(part).equals(bytes), `cut at ${cut}`).toBe(true);
      expect(s.truncatedBytes > 0).toBe(bytes[cut - 1] !== 0x0a);
    }
    // Run again on the complete file: nothing new, nothing changed.
    const again = await fetchCandlesToFile(binance({ out: whole, from: null }));
    expect(again).toMatchObject({ rowsWritten: 0, resumedAfter: new Date(T0 + 2499 * M).toISOString() });
    expect(readFileSync(whole).equals(bytes)).toBe(true);
  });

  it('refuses, and leaves untouched, a file of another layout, another series or no record of its series', async () => {
    mock.binanceKlines.set('BTCUSDT:1m', klines(10));
    const other = join(dir, 'other.csv');
    writeFileSync(other, 'date,open,high,low,close,volume,log_return\n2024-01-01,1,2,0.5,1.5,10,\n');
    await expect(fetchCandlesToFile(binance({ out: other }))).rejects.toMatchObject({
      code: 'ERR_REPLAY_FILE',
      message: expect.stringContaining('choose another --out') as unknown,
    });
    expect(readFileSync(other, 'utf8')).toBe('date,open,high,low,close,volume,log_return\n2024-01-01,1,2,0.5,1.5,10,\n');

    const hourly = join(dir, 'hourly.csv');
    const content = `${HEADER}${T0},1,2,0.5,1.5,10\n`;
    writeFileSync(hourly, content);
    await expect(fetchCandlesToFile(binance({ out: hourly }))).rejects.toMatchObject({
      code: 'ERR_REPLAY_FILE',
      message: expect.stringContaining('.source.json') as unknown,
    });
    writeFileSync(sourceInfoPath(hourly), JSON.stringify({ exchange: 'binance', remote: 'BTCUSDT', interval: '1h' }));
    await expect(fetchCandlesToFile(binance({ out: hourly }))).rejects.toMatchObject({
      code: 'ERR_REPLAY_FILE',
      message: expect.stringContaining('holds binance BTCUSDT 1h candles') as unknown,
    });
    writeFileSync(sourceInfoPath(hourly), JSON.stringify({ exchange: 'coinbase', remote: 'BTC-USD', interval: '1m' }));
    await expect(fetchCandlesToFile(binance({ out: hourly }))).rejects.toMatchObject({ code: 'ERR_REPLAY_FILE' });
    // The right record, but a last row off the 1m grid (a hand-edited file).
    writeFileSync(sourceInfoPath(hourly), JSON.stringify({ exchange: 'binance', remote: 'BTCUSDT', interval: '1m' }));
    writeFileSync(hourly, `${HEADER}${T0 + 30_000},1,2,0.5,1.5,10\n`);
    await expect(fetchCandlesToFile(binance({ out: hourly }))).rejects.toMatchObject({
      code: 'ERR_REPLAY_FILE',
      message: expect.stringContaining('grid') as unknown,
    });
    writeFileSync(hourly, `${HEADER}${T0},1,2,0.5,1.5\n`);
    await expect(fetchCandlesToFile(binance({ out: hourly }))).rejects.toMatchObject({
      code: 'ERR_REPLAY_FILE',
      message: expect.stringContaining('malformed') as unknown,
    });
    expect(readFileSync(hourly, 'utf8')).toBe(`${HEADER}${T0},1,2,0.5,1.5\n`);
    expect(mock.requests).toHaveLength(0);

    // A file of just the header (say a first run refused for a mistyped symbol) is taken for the series asked now.
    writeFileSync(hourly, HEADER);
    writeFileSync(sourceInfoPath(hourly), JSON.stringify({ exchange: 'binance', remote: 'NOPEUSDT', interval: '1m' }));
    const s = await fetchCandlesToFile(binance({ out: hourly, to: T0 + 10 * M }));
    expect(s.rowsWritten).toBe(10);
    expect(readFileSync(hourly, 'utf8')).toBe(expectedCsv(klines(10)));
    expect(JSON.parse(readFileSync(sourceInfoPath(hourly), 'utf8'))).toEqual({ exchange: 'binance', remote: 'BTCUSDT', interval: '1m' });
  });

  it('reports malformed, off-grid, out-of-order, duplicated and unfinished rows, never writing them', async () => {
    const script = klines(2500);
    mock.binanceKlines.set('BTCUSDT:1m', script);
    let page1: unknown[] = [];
    mock.rewriteNext(
      'binance',
      (rows) => {
        const r = [...rows] as unknown[][];
        r[10] = [T0 + 10 * M, '1', '2'];
        r[20] = [...r[20]!.slice(0, 1), 'abc', ...r[20]!.slice(2)];
        r[30] = [...r[30]!.slice(0, 2), '1.00000000', ...r[30]!.slice(3)]; // high below open and close
        const offGrid = [...r[40]!];
        offGrid[0] = T0 + 40 * M + 30_000;
        offGrid[6] = T0 + 41 * M + 30_000 - 1;
        [r[50], r[51]] = [r[51]!, r[50]!];
        const out = [...r.slice(0, 41), offGrid, ...r.slice(41, 46), r[45]!, ...r.slice(46)];
        page1 = out;
        return out;
      },
      // The second page overlaps the first by three candles.
      (rows) => [...page1.slice(-3), ...rows],
      // The last page carries the candle in progress at NOW (future-dated: it closes after now).
      (rows) => [...rows, binanceRestRow({ ...script[0]!, openTime: Math.floor(NOW / M) * M }, M)],
    );
    const notes: string[] = [];
    const s = await fetchCandlesToFile(binance({ onNote: (l) => notes.push(l) }));
    const kept = script.filter((_, i) => ![10, 20, 30, 50].includes(i));
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(expectedCsv(kept));
    expect(s).toMatchObject({ rowsWritten: 2496, rejected: 5, duplicatesDropped: 4, unfinished: 1 });
    expect(s.rejectedExamples).toEqual([
      'row has 3 fields, expected 12',
      'open "abc" is not a finite number',
      `candle ${new Date(T0 + 30 * M).toISOString()}: high 1 is below open or close`,
      `candle ${new Date(T0 + 40 * M + 30_000).toISOString()}: open time is not on the 1-minute grid`,
      `candle ${new Date(T0 + 50 * M).toISOString()}: out of order (after ${new Date(T0 + 51 * M).toISOString()})`,
    ]);
    expect(s.gaps).toMatchObject({ count: 4, missingCandles: 4 });
    expect(s.gaps.first.map((g) => g.from)).toEqual([10, 20, 30, 50].map((i) => new Date(T0 + i * M).toISOString()));
    expect(notes.filter((l) => l.startsWith('rejected: '))).toHaveLength(5);
  });

  it('retries a body that is not an array, rejects non-array rows one by one, and refuses an oversized answer', async () => {
    mock.binanceKlines.set('BTCUSDT:1m', klines(5));
    mock.failNext('binance', { status: 200, body: '{"oops":' });
    mock.rewriteNext('binance', (rows) => [null, 'x', ...rows]);
    const s = await fetchCandlesToFile(binance({ to: T0 + 5 * M }));
    expect(s).toMatchObject({ rowsWritten: 5, rejected: 2, retries: 1 });
    expect(s.rejectedExamples).toEqual(['row is null, not an array', 'row is string, not an array']);

    // An answer past the size cap is not read to its end: retried, then a clear error.
    const huge: typeof fetch = () => Promise.resolve(new Response(`[${'1,'.repeat(5_000_000)}1]`, { status: 200 }));
    await expect(fetchCandlesToFile(binance({ out: join(dir, 'huge.csv'), fetch: huge, maxRetries: 1 }))).rejects.toMatchObject({
      code: 'ERR_EXCHANGE_UNAVAILABLE',
      message: expect.stringContaining('answer larger than 8388608 bytes') as unknown,
    });
  });

  it('pages Coinbase in windows of 300, newest first, into the exact candles, with empty minutes as gaps', async () => {
    const trades: TradeTick[] = [];
    let id = 1;
    for (let i = 0; i < 700; i++) {
      if (i % 97 === 5 || (i >= 400 && i < 420)) continue; // minutes without a trade: no candle
      for (let k = 0; k < 2; k++) trades.push({ tradeId: id++, time: T0 + i * M + k * 20_000, price: 60_000 + ((i * 7 + k * 3) % 50), size: 0.01 * (1 + k) });
    }
    mock.coinbaseTrades.set('BTC-USD', trades);
    const expected = coinbaseCandlesFromTrades(trades, M);
    const s = await fetchCandlesToFile(binance({ exchange: 'coinbase', restUrl: mock.coinbaseRestUrl, to: T0 + 700 * M }));
    expect(readFileSync(join(dir, 'btc.csv'), 'utf8')).toBe(expectedCsv(expected));
    expect(s).toMatchObject({ remote: 'BTC-USD', rowsWritten: expected.length, requests: 3, rejected: 0, duplicatesDropped: 0 });
    const missing = 700 - expected.length;
    expect(s.gaps.missingCandles).toBe(missing);
    expect(s.gaps.largest).toEqual({ from: new Date(T0 + 400 * M).toISOString(), to: new Date(T0 + 419 * M).toISOString(), missing: 20 });
    const urls = mock.requests.map((r) => new URL(r.url));
    expect(urls.every((u) => u.pathname === '/coinbase/products/BTC-USD/candles' && u.searchParams.get('granularity') === '60')).toBe(true);
    expect(urls.map((u) => u.searchParams.get('start'))).toEqual([T0, T0 + 300 * M, T0 + 600 * M].map((t) => new Date(t).toISOString()));

    // A Coinbase page whose rows are not newest first: the row out of order is rejected.
    rmSync(join(dir, 'btc.csv'));
    rmSync(sourceInfoPath(join(dir, 'btc.csv')));
    mock.rewriteNext('coinbase', (rows) => {
      const r = [...rows];
      [r[0], r[1]] = [r[1], r[0]];
      return r;
    });
    const swapped = await fetchCandlesToFile(binance({ exchange: 'coinbase', restUrl: mock.coinbaseRestUrl, to: T0 + 300 * M }));
    expect(swapped).toMatchObject({ rejected: 1, rowsWritten: expected.filter((c) => c.openTime < T0 + 300 * M).length - 1 });
    expect(swapped.rejectedExamples[0]).toMatch(/out of order/);
  });

  it('refuses an interval Coinbase has no granularity for, a future --from, --to before --from and no --from for a new file, before any request', async () => {
    await expect(fetchCandlesToFile(binance({ exchange: 'coinbase', interval: '4h', restUrl: mock.coinbaseRestUrl }))).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringContaining('no candle granularity of 14400 s') as unknown,
    });
    await expect(fetchCandlesToFile(binance({ from: NOW + 3_600_000, to: null }))).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringContaining('in the future') as unknown,
    });
    await expect(fetchCandlesToFile(binance({ to: T0 }))).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringContaining('must be after --from') as unknown,
    });
    await expect(fetchCandlesToFile(binance({ from: null }))).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: expect.stringContaining('--from is required') as unknown,
    });
    expect(mock.requests).toHaveLength(0);
    expect(existsSync(join(dir, 'btc.csv'))).toBe(false);
  });

  it('bitpredict data fetch: progress on stderr, one JSON summary on stdout, the REST URL from the config', async () => {
    const script = klines(1200);
    mock.binanceKlines.set('BTCUSDT:1m', script);
    const stdout: string[] = [];
    const stderr: string[] = [];
    const out = join(dir, 'cli.csv');
    const code = await dataFetch({
      config: loadConfig({}, { BITPREDICT_BINANCE_REST_URL: mock.binanceRestUrl, BITPREDICT_LOG_LEVEL: 'silent' }),
      logger: createLogger({ level: 'silent', name: 'test' }),
      output: createOutput({ stdout: { write: (s: string) => stdout.push(s) }, stderr: { write: (s: string) => stderr.push(s) } }),
      args: ['--interval', '1m', '--from', new Date(T0).toISOString(), '--to', new Date(T0 + 1200 * M).toISOString(), '--out', out],
      env: {},
    });
    expect(code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(expectedCsv(script));
    expect(stdout).toHaveLength(1);
    expect(JSON.parse(stdout[0]!)).toMatchObject({ exchange: 'binance', rowsWritten: 1200, requests: 2, gaps: { count: 0 } });
    expect(stderr.join('')).toContain('[##############################] 1200/1200');
    expect(stderr.join('')).toContain(`1200 rows written to ${out}`);

    await expect(
      dataFetch({
        config: loadConfig({}, { BITPREDICT_LOG_LEVEL: 'silent' }),
        logger: createLogger({ level: 'silent', name: 'test' }),
        output: createOutput({ stdout: { write: () => true }, stderr: { write: () => true } }),
        args: ['--exchange', 'kraken', '--from', '2024-01-01'],
        env: {},
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringContaining('binance or coinbase') as unknown });
  });
});
