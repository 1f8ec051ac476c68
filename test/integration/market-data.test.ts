// Live market data against a local mock of Binance and Coinbase (real formats) and the real local
// stack. The exchange clock is virtual: the test moves it, the mock serves history up to it, and
// the service plans its gap fills from it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import {
  binanceKlineFrame,
  binanceTradeFrame,
  coinbaseCandlesFromTrades,
  coinbaseHeartbeatFrame,
  coinbaseMatchFrame,
  startMockExchange,
  type MockExchange,
  type MockKline,
} from '../helpers/mock-exchange.js';
import { createMarketDataService, type MarketDataService } from '../../producers/market-data/service.js';
import type { TradeTick } from '../../producers/market-data/domain/index.js';
import type { ConfigKey } from '../../core/config.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0);
const at = (i: number): number => T0 + i * MIN;

function klineHistory(n: number): MockKline[] {
  const out: MockKline[] = [];
  let price = 87_950.01;
  for (let i = 0; i < n; i++) {
    const open = price;
    const close = Math.round((open + Math.sin(i) * 40) * 100) / 100;
    out.push({
      openTime: at(i),
      open,
      high: Math.max(open, close) + 12.5,
      low: Math.min(open, close) - 7.25,
      close,
      volume: 10 + i * 1.125,
      quoteVolume: (10 + i * 1.125) * open,
      trades: 300 + i,
    });
    price = close;
  }
  return out;
}

function overrides(mock: MockExchange, extra: Partial<Record<ConfigKey, string>> = {}): Partial<Record<ConfigKey, string>> {
  return {
    BITPREDICT_BINANCE_WS_URL: mock.binanceWsUrl,
    BITPREDICT_BINANCE_REST_URL: mock.binanceRestUrl,
    BITPREDICT_COINBASE_WS_URL: mock.coinbaseWsUrl,
    BITPREDICT_COINBASE_REST_URL: mock.coinbaseRestUrl,
    BITPREDICT_MARKET_SYMBOLS: 'BTCUSDT',
    BITPREDICT_MARKET_INTERVALS: '1m',
    BITPREDICT_MARKET_GRACE_MS: '2000',
    BITPREDICT_RECONNECT_BASE_MS: '20',
    BITPREDICT_RECONNECT_MAX_MS: '2000',
    BITPREDICT_WS_HEARTBEAT_TIMEOUT_MS: '60000',
    ...extra,
  };
}

const metricValue = async (tp: TestPlatform, name: string, labels: Record<string, string>): Promise<number> => {
  const metric = tp.platform.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x)).reduce((a, v) => a + v.value, 0);
};

describe('market data: Binance klines with reconnect, gap fill, bad input and restart', () => {
  let mock: MockExchange;
  let tp: TestPlatform;
  const services: MarketDataService[] = [];
  let clock = 0;
  const history = klineHistory(8);
  const frame = (i: number, closed = true): unknown => binanceKlineFrame('BTCUSDT', '1m', history[i] as MockKline, closed);

  beforeAll(async () => {
    mock = await startMockExchange();
    mock.binanceKlines.set('BTCUSDT:1m', history);
    tp = await createTestPlatform('mdbin', overrides(mock, { BITPREDICT_MARKET_EXCHANGES: 'binance' }));
  });

  afterAll(async () => {
    for (const s of services) await s.stop();
    await mock?.close();
    await tp?.cleanup();
  });

  const start = async (): Promise<MarketDataService> => {
    const svc = await createMarketDataService({ platform: tp.platform, config: tp.config, now: () => clock });
    services.push(svc);
    await svc.start();
    return svc;
  };
  const lastOf = (svc: MarketDataService): number | undefined => svc.lastPublished().get('BTCUSDT:1m');

  it('publishes exactly the uninterrupted candles across a drop, 429/5xx, malformed frames and a restart', async () => {
    clock = at(0) + 30_000;
    const svc = await start();
    await mock.waitForConnections('binance', 1);
    expect(mock.requests).toHaveLength(0); // first start: nothing published yet, nothing to fill

    clock = at(1) + 1000;
    mock.sendBinance(frame(0, false));
    mock.sendBinance(binanceTradeFrame('BTCUSDT', { tradeId: 1, time: at(0) + 5, price: 87_950, size: 0.1 }));
    mock.sendBinance(frame(0));
    clock = at(2) + 1000;
    mock.sendBinance(frame(1));
    // Bad input: truncated JSON, a kline breaking a domain rule (high < low), and an oversized frame.
    const truncated = JSON.stringify(frame(2)).slice(0, 60);
    mock.sendBinance(truncated);
    const bad = frame(2) as { data: { k: { h: string } } };
    bad.data.k.h = '1.00000000';
    mock.sendBinance(bad);
    mock.sendBinance(frame(2, false));
    await waitFor(() => lastOf(svc) === at(1), 'T1 published');

    // Mid-candle drop; the first REST answers are refused.
    mock.failNext('binance', { status: 429, retryAfter: '1' }, { status: 503 });
    clock = at(5) + 1000;
    mock.drop('binance');
    await mock.waitForConnections('binance', 2);
    await waitFor(() => lastOf(svc) === at(4), 'gap T2..T4 filled from REST');
    clock = at(6) + 1000;
    mock.sendBinance(frame(4)); // already filled: skipped, not duplicated
    mock.sendBinance(frame(5));
    await waitFor(() => lastOf(svc) === at(5), 'T5 published live');
    await svc.stop();

    // Restart two minutes later: resumes after T5 from the tail of market.candles.
    clock = at(8) + 1000;
    const svc2 = await start();
    await waitFor(() => lastOf(svc2) === at(7), 'T6..T7 filled after restart');
    mock.sendBinance(frame(7));
    await svc2.idle();
    await svc2.stop();

    const candles = await tp.readAll('candles');
    expect(candles.map((c) => c.key)).toEqual(history.map(() => 'BTCUSDT:1m'));
    expect(candles.map((c) => [c.value?.openTime, c.value?.open, c.value?.high, c.value?.low, c.value?.close, c.value?.volume, c.value?.tradeCount])).toEqual(
      history.map((k) => [k.openTime, k.open, k.high, k.low, k.close, k.volume, k.trades]),
    );
    expect(candles.map((c) => c.value?.source)).toEqual([
      'binance-ws',
      'binance-ws',
      'binance-rest',
      'binance-rest',
      'binance-rest',
      'binance-ws',
      'binance-rest',
      'binance-rest',
    ]);
    expect(candles.every((c) => c.timestamp === c.value?.closeTime && c.value.exchange === 'binance')).toBe(true);

    const dlq = await tp.readAll('dlq');
    expect(dlq.map((d) => [d.value?.sourceKind, d.value?.errorCode])).toEqual([
      ['ws', 'ERR_VALIDATION'],
      ['ws', 'ERR_VALIDATION'],
    ]);
    expect(dlq[0]?.value?.value?.toString()).toBe(truncated);
    expect(dlq[1]?.value?.errorMessage).toContain('high 1 < low');
    expect(await metricValue(tp, 'bitpredict_marketdata_rest_errors_total', { exchange: 'binance', status: '429' })).toBe(1);
    expect(await metricValue(tp, 'bitpredict_marketdata_rest_errors_total', { exchange: 'binance', status: '503' })).toBe(1);
    expect(await metricValue(tp, 'bitpredict_marketdata_invalid_frames_total', { exchange: 'binance' })).toBe(2);
    expect(mock.requests.filter((r) => r.status === 200)).toHaveLength(2);
  });
});

describe('market data: Coinbase trades built into candles', () => {
  let mock: MockExchange;
  let tp: TestPlatform;
  let svc: MarketDataService | null = null;
  let clock = 0;

  beforeAll(async () => {
    mock = await startMockExchange();
    tp = await createTestPlatform('mdcb', overrides(mock, { BITPREDICT_MARKET_EXCHANGES: 'coinbase' }));
  });

  afterEach(async () => {
    await svc?.stop();
  });

  afterAll(async () => {
    await mock?.close();
    await tp?.cleanup();
  });

  it('gives the candles of the full trade history despite shuffled/duplicated/late trades and a mid-candle drop', async () => {
    let id = 1000;
    const t = (minute: number, sec: number, price: number, size: number): TradeTick => ({ tradeId: id++, time: at(minute) + sec * 1000 + 123, price, size });
    const m0 = [t(0, 1, 87_950.01, 0.0015), t(0, 14, 87_962.5, 0.02), t(0, 33, 87_941.12, 0.5), t(0, 59, 87_980, 0.00123)];
    const m1 = [t(1, 2, 87_981.3, 0.1), t(1, 40, 88_010, 0.333), t(1, 50, 88_001.1, 0.2)];
    const m2 = [t(2, 5, 88_003, 0.4), t(2, 20, 87_990.5, 0.05), t(2, 40, 88_020, 1.2)];
    const m4 = [t(4, 10, 88_100, 0.1), t(4, 30, 88_120, 0.15)];
    const m5 = [t(5, 3, 88_130, 0.3), t(5, 20, 88_090.25, 0.7), t(5, 41, 88_111, 0.01)];
    const m6 = [t(6, 5, 88_115, 0.2)];
    const all = [...m0, ...m1, ...m2, ...m4, ...m5, ...m6];
    mock.coinbaseTrades.set('BTC-USD', all);
    const send = (list: TradeTick[]): void => list.forEach((x) => mock.sendCoinbase(coinbaseMatchFrame('BTC-USD', x)));

    clock = at(0) - 30_000;
    svc = await createMarketDataService({ platform: tp.platform, config: tp.config, now: () => clock });
    await svc.start();
    await mock.waitForConnections('coinbase', 1);
    const s = svc;
    const lastOf = (): number | undefined => s.lastPublished().get('BTCUSD:1m');

    clock = at(2) + 10_000;
    send([m1[2], m0[1], m0[0], m1[0], m0[3], m0[2], m0[1], m1[1], m1[2]] as TradeTick[]);
    mock.sendCoinbase('{"type":"match","trade_id":');
    send([m2[0] as TradeTick]);
    await waitFor(() => lastOf() === at(1), 'T0, T1 built from trades');
    send([m2[1] as TradeTick]);
    // A trade for the closed T1 is late: counted and dropped.
    send([{ ...(m1[0] as TradeTick), tradeId: 5, time: at(1) + 58_000 }]);
    await s.idle();

    clock = at(4) + 20_000;
    mock.drop('coinbase');
    await mock.waitForConnections('coinbase', 2);
    await waitFor(() => lastOf() === at(2), 'T2 filled from REST (T3 had no trades)');
    send([m4[1] as TradeTick]); // the interrupted candle: ignored live, fetched once it closes
    clock = at(6) + 10_000;
    send([m5[1], m5[0], m5[2], m5[0]] as TradeTick[]);
    mock.sendCoinbase(coinbaseHeartbeatFrame('BTC-USD', at(6) + 2_500));
    await waitFor(() => lastOf() === at(5), 'T4 from REST, then T5 built live');

    const candles = await tp.readAll('candles');
    const truth = coinbaseCandlesFromTrades(all, MIN).filter((c) => c.openTime <= at(5));
    expect(truth.map((c) => c.openTime)).toEqual([at(0), at(1), at(2), at(4), at(5)]);
    expect(candles.map((c) => c.key)).toEqual(truth.map(() => 'BTCUSD:1m'));
    expect(candles.map((c) => [c.value?.openTime, c.value?.open, c.value?.high, c.value?.low, c.value?.close, c.value?.volume])).toEqual(
      truth.map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.volume]),
    );
    expect(candles.map((c) => c.value?.source)).toEqual(['coinbase-ws', 'coinbase-ws', 'coinbase-rest', 'coinbase-rest', 'coinbase-ws']);
    expect(candles.every((c) => c.value?.symbol === 'BTCUSD' && c.value.exchange === 'coinbase')).toBe(true);
    expect(await metricValue(tp, 'bitpredict_marketdata_late_trades_total', { exchange: 'coinbase' })).toBe(1);
    expect(await metricValue(tp, 'bitpredict_marketdata_trades_total', { exchange: 'coinbase', outcome: 'duplicate' })).toBe(3);
    const dlq = await tp.readAll('dlq');
    expect(dlq.map((d) => d.value?.value?.toString())).toEqual(['{"type":"match","trade_id":']);
  });

  it('terminates a silent socket and reconnects (heartbeat watchdog)', async () => {
    const tp2 = await createTestPlatform('mdhb', overrides(mock, { BITPREDICT_MARKET_EXCHANGES: 'coinbase', BITPREDICT_WS_HEARTBEAT_TIMEOUT_MS: '300' }));
    try {
      clock = at(20);
      const before = mock.connections('coinbase');
      svc = await createMarketDataService({ platform: tp2.platform, config: tp2.config, now: () => clock });
      await svc.start();
      await mock.waitForConnections('coinbase', before + 1);
      mock.silence('coinbase', true);
      await mock.waitForConnections('coinbase', before + 2);
      expect(await metricValue(tp2, 'bitpredict_marketdata_disconnects_total', { exchange: 'coinbase' })).toBeGreaterThanOrEqual(1);
      mock.silence('coinbase', false);
      await svc.stop();
      svc = null;
    } finally {
      await tp2.cleanup();
    }
  });
});

describe('market data: several symbols and intervals on one Binance socket', () => {
  let mock: MockExchange;
  let tp: TestPlatform;
  let svc: MarketDataService | null = null;

  beforeAll(async () => {
    mock = await startMockExchange();
    tp = await createTestPlatform(
      'mdmulti',
      overrides(mock, { BITPREDICT_MARKET_EXCHANGES: 'binance', BITPREDICT_MARKET_SYMBOLS: 'BTCUSDT,ETHUSDT', BITPREDICT_MARKET_INTERVALS: '1m,5m' }),
    );
  });

  afterAll(async () => {
    await svc?.stop();
    await mock?.close();
    await tp?.cleanup();
  });

  it('keeps each symbol:interval series complete and apart', async () => {
    const eth = (p: number): number => Math.round((p - 85_000) * 100) / 100;
    const five = (n: number): MockKline[] =>
      klineHistory(n * 5)
        .filter((_, i) => i % 5 === 0)
        .map((k, i) => ({ ...k, openTime: at(i * 5) }));
    const series = {
      'BTCUSDT:1m': klineHistory(12),
      'ETHUSDT:1m': klineHistory(12).map((k) => ({ ...k, open: eth(k.open), high: eth(k.high), low: eth(k.low), close: eth(k.close) })),
      'BTCUSDT:5m': five(2),
      'ETHUSDT:5m': five(2),
    };
    for (const [key, h] of Object.entries(series)) mock.binanceKlines.set(key, h);
    const send = (key: keyof typeof series, i: number): void => {
      const [symbol, interval] = key.split(':') as [string, string];
      mock.sendBinance(binanceKlineFrame(symbol, interval, series[key][i] as MockKline, true));
    };
    let clock = at(0) + 30_000;
    svc = await createMarketDataService({ platform: tp.platform, config: tp.config, now: () => clock });
    await svc.start();
    await mock.waitForConnections('binance', 1);
    clock = at(5) + 1000;
    for (let i = 0; i < 5; i++) send('BTCUSDT:1m', i);
    send('ETHUSDT:1m', 0);
    send('BTCUSDT:5m', 0);
    send('ETHUSDT:5m', 0);
    const s = svc;
    await waitFor(() => s.lastPublished().get('ETHUSDT:5m') === at(0) && s.lastPublished().get('BTCUSDT:1m') === at(4), 'first live candles');
    clock = at(10) + 1000;
    mock.drop('binance');
    await mock.waitForConnections('binance', 2);
    await waitFor(
      () => ['BTCUSDT:1m', 'ETHUSDT:1m'].every((k) => s.lastPublished().get(k) === at(9)) && s.lastPublished().get('BTCUSDT:5m') === at(5),
      'gap fill of all series',
    );
    await s.idle();

    const candles = await tp.readAll('candles');
    for (const [key, h] of Object.entries(series)) {
      const want = h.filter((k) => k.openTime + (key.endsWith('5m') ? 5 : 1) * MIN <= at(10));
      const got = candles.filter((c) => c.key === key);
      expect(got.map((c) => [c.value?.symbol, c.value?.openTime, c.value?.close])).toEqual(want.map((k) => [key.split(':')[0], k.openTime, k.close]));
    }
  });
});
