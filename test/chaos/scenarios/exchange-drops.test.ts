// Chaos: exchange WebSocket drops and half-open sockets. The live market-data producer runs against
// the mock Binance and Coinbase (test/helpers/mock-exchange.ts, their real formats) while, at
// seeded random minutes and at random points inside a minute, a socket is dropped (terminated) or
// half-opened (the server stops reading and sending but never closes; only the producer's own
// heartbeat timeout can notice). Frames sent meanwhile are lost on the wire; the producer must
// reconnect and fill the gap from REST. Afterwards market.candles (read_committed) holds every
// candle the exchanges made, once each, each equal to the exchange's own candle: 0 missing, 0
// duplicated, 0 half-formed (a candle built from part of a minute's trades).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, waitFor, type TestPlatform } from '../../helpers/platform.js';
import {
  binanceKlineFrame,
  coinbaseCandlesFromTrades,
  coinbaseHeartbeatFrame,
  coinbaseMatchFrame,
  startMockExchange,
  type MockExchange,
  type MockExchangeName,
  type MockKline,
} from '../../helpers/mock-exchange.js';
import { createMarketDataService, type MarketDataService } from '../../../producers/market-data/service.js';
import type { TradeTick } from '../../../producers/market-data/domain/index.js';
import { recordChaos } from '../report.js';
import { atScale, countLoss, seededRandom } from '../chaos-a-common.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9, 0);
const at = (i: number): number => T0 + i * MIN;
const HEARTBEAT_TIMEOUT_MS = 400;

type Fault = 'drop' | 'half-open';

describe('chaos: exchange WebSocket drops and half-open sockets', () => {
  const minutes = atScale({ ci: 30, full: 240 });
  const faultCount = atScale({ ci: 6, full: 48 });
  const rng = seededRandom('exchange-drops');
  let mock: MockExchange;
  let tp: TestPlatform;
  let svc: MarketDataService | null = null;
  let clock = 0;
  const fatal: unknown[] = [];

  // The exchanges' truth: Binance klines, and Coinbase trades (two to five a minute).
  const klines: MockKline[] = [];
  const trades: TradeTick[][] = [];
  let price = 91_234.5;
  let tradeId = 7_000;
  for (let i = 0; i < minutes; i++) {
    const open = price;
    const close = Math.round((open + (rng.next() - 0.5) * 80) * 100) / 100;
    klines.push({
      openTime: at(i),
      open,
      high: Math.max(open, close) + 5.5,
      low: Math.min(open, close) - 3.25,
      close,
      volume: 3 + i * 0.5,
      quoteVolume: (3 + i * 0.5) * open,
      trades: 100 + i,
    });
    const n = rng.int(2, 5);
    const ts: TradeTick[] = [];
    for (let k = 0; k < n; k++) {
      ts.push({
        tradeId: tradeId++,
        time: at(i) + Math.floor(((k + 0.5) / n) * 55_000) + 111,
        price: Math.round((open + (rng.next() - 0.5) * 60) * 100) / 100,
        size: 0.01 + k / 100,
      });
    }
    trades.push(ts);
    price = close;
  }

  beforeAll(async () => {
    mock = await startMockExchange();
    mock.binanceKlines.set('BTCUSDT:1m', klines);
    mock.coinbaseTrades.set('BTC-USD', trades.flat());
    tp = await createTestPlatform('chaos-xdrop', {
      BITPREDICT_BINANCE_WS_URL: mock.binanceWsUrl,
      BITPREDICT_BINANCE_REST_URL: mock.binanceRestUrl,
      BITPREDICT_COINBASE_WS_URL: mock.coinbaseWsUrl,
      BITPREDICT_COINBASE_REST_URL: mock.coinbaseRestUrl,
      BITPREDICT_MARKET_EXCHANGES: 'binance,coinbase',
      BITPREDICT_MARKET_SYMBOLS: 'BTCUSDT',
      BITPREDICT_MARKET_INTERVALS: '1m',
      BITPREDICT_MARKET_GRACE_MS: '2000',
      BITPREDICT_RECONNECT_BASE_MS: '20',
      BITPREDICT_RECONNECT_MAX_MS: '500',
      BITPREDICT_WS_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
    });
  });

  afterAll(async () => {
    await svc?.stop();
    await mock?.close();
    await tp?.cleanup();
  });

  it('publishes every candle once and whole across random drops and half-open sockets', async () => {
    clock = at(0) - 20_000;
    const s = await createMarketDataService({ platform: tp.platform, config: tp.config, now: () => clock, onFatal: (e) => fatal.push(e) });
    svc = s;
    await s.start();
    await mock.waitForConnections('binance', 1);
    await mock.waitForConnections('coinbase', 1);

    const faults: { minute: number; exchange: MockExchangeName; fault: Fault; recoveryMs: number }[] = [];
    const inject = (exchange: MockExchangeName, fault: Fault): void => {
      if (fault === 'drop') mock.drop(exchange);
      else mock.halfOpen(exchange);
    };
    // faultCount distinct minutes (not the first) get a fault, half drops and half half-open
    // sockets, each on a random exchange at a random point among the minute's frames.
    const plan = new Map<number, Fault>();
    while (plan.size < faultCount) plan.set(rng.int(1, minutes - 1), plan.size % 2 === 0 ? 'drop' : 'half-open');
    for (let i = 0; i < minutes; i++) {
      clock = at(i + 1) + 3_000;
      const fault = plan.get(i) ?? null;
      const target: MockExchangeName = rng.pick(['binance', 'coinbase'] as const);
      const cut = rng.int(0, trades[i]!.length + 3);
      const frames: { exchange: MockExchangeName; frame: unknown }[] = [
        { exchange: 'binance', frame: binanceKlineFrame('BTCUSDT', '1m', klines[i]!, false) },
        ...trades[i]!.map((t) => ({ exchange: 'coinbase' as const, frame: coinbaseMatchFrame('BTC-USD', t) })),
        { exchange: 'binance', frame: binanceKlineFrame('BTCUSDT', '1m', klines[i]!, true) },
        { exchange: 'coinbase', frame: coinbaseHeartbeatFrame('BTC-USD', at(i + 1) + 2_500, trades[i]!.at(-1)!.tradeId) },
      ];
      const before = mock.connections(target);
      const t0 = Date.now();
      frames.forEach((f, k) => {
        if (fault && k === cut) inject(target, fault);
        if (f.exchange === 'binance') mock.sendBinance(f.frame);
        else mock.sendCoinbase(f.frame);
      });
      if (fault && cut >= frames.length) inject(target, fault);
      if (fault) {
        // The producer must notice by itself (a half-open socket never closes) and reconnect.
        await mock.waitForConnections(target, before + 1, 15_000);
      }
      await waitFor(
        () => s.lastPublished().get('BTCUSDT:1m') === at(i) && s.lastPublished().get('BTCUSD:1m') === at(i),
        `minute ${i} published on both exchanges (seed ${rng.seed})`,
        15_000,
      );
      if (fault) faults.push({ minute: i, exchange: target, fault, recoveryMs: Date.now() - t0 });
    }
    await s.idle();
    await s.stop();
    svc = null;

    const candles = await tp.readAll('candles');
    const cbTruth = coinbaseCandlesFromTrades(trades.flat(), MIN);
    const truth = new Map<string, string>();
    for (const k of klines) truth.set(`BTCUSDT:1m@${k.openTime}`, JSON.stringify([k.open, k.high, k.low, k.close, k.volume]));
    for (const c of cbTruth) truth.set(`BTCUSD:1m@${c.openTime}`, JSON.stringify([c.open, c.high, c.low, c.close, c.volume]));
    const ids = candles.map((c) => `${c.key}@${c.value?.openTime}`);
    const loss = countLoss(truth.keys(), ids);
    const halfFormed = candles.filter((c) => {
      const v = c.value;
      return !v || truth.get(`${c.key}@${v.openTime}`) !== JSON.stringify([v.open, v.high, v.low, v.close, v.volume]);
    });
    const recoveries = faults.map((f) => f.recoveryMs);
    const halfOpens = faults.filter((f) => f.fault === 'half-open').length;
    recordChaos({
      scenario: 'exchange-drops',
      fault: `${faults.length - halfOpens} WebSocket drops and ${halfOpens} half-open sockets over ${minutes} minutes on Binance and Coinbase (mock), random points`,
      lost: loss.lost,
      duplicated: loss.duplicated,
      crashes: fatal.length,
      recoveryMs: recoveries.length > 0 ? Math.max(...recoveries) : null,
      maxLag: null,
      peakMemoryMb: null,
      records: truth.size,
      notes: `seed ${rng.seed}; ${halfFormed.length} half-formed; heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms; recovery = fault to the minute published on both exchanges`,
    });
    expect(faults.length, 'faults injected').toBeGreaterThan(0);
    expect(loss.examples, `seed ${rng.seed}`).toEqual([]);
    expect(halfFormed.map((c) => `${c.key}@${c.value?.openTime} ${c.value?.source}`)).toEqual([]);
    expect(loss.lost + loss.duplicated + loss.unexpected).toBe(0);
    expect(fatal).toEqual([]);
    expect(await tp.readAll('dlq')).toHaveLength(0);
  });
});
