// exchange-latency: delay from a closed kline's exchange event time (the mock exchange stamps it
// with the current time as it sends) to the candle arriving at a Kafka consumer of market.candles,
// through the market-data service (WebSocket, parse, validate, dedupe, Avro, idempotent produce).
// Baseline in the same run: one raw kafkajs hop (produce -> consume) of the same encoded candle at
// the same pace. Rounds alternate service and baseline so both see the same machine state.
import { benchPlatform, percentile, progress, rawKafkaJs } from './common.js';
import { startMockExchange, binanceKlineFrame } from '../test/helpers/mock-exchange.js';
import { createMarketDataService } from '../producers/market-data/service.js';
import { createProducer } from '../core/kafka/producer.js';
import type { Candle } from '../schemas/types.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? 10);
const MIN = 60_000;

export async function run(): Promise<Record<string, unknown>> {
  const bench = await benchPlatform('exlat');
  const mock = await startMockExchange();
  const config = {
    ...bench.config,
    market: {
      ...bench.config.market,
      exchanges: ['binance'],
      symbols: ['BTCUSDT'],
      intervals: ['1m'],
      binance: { wsUrl: mock.binanceWsUrl, restUrl: mock.binanceRestUrl },
    },
  };
  const { platform } = bench;
  const topic = platform.kafka.topic('candles');
  const sentAt = new Map<string, number>();
  const service: number[] = [];
  const baseline: number[] = [];
  const consumer = rawKafkaJs(platform, 'exlat').consumer({ groupId: `bench-exlat-${Date.now()}` });
  const producer = await createProducer(platform.kafka);
  const svc = await createMarketDataService({ platform, config, producer });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
    });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const arrived = Date.now();
        if (!message.value) return;
        const c = await platform.serde.decode('candles', message.value);
        const id = `${message.key?.toString() ?? ''}@${c.openTime}`;
        const t = sentAt.get(id);
        if (t === undefined) return;
        (id.startsWith('BASE') ? baseline : service).push(arrived - t);
      },
    });
    while (!joined) await new Promise((r) => setTimeout(r, 50));
    await svc.start();
    await mock.waitForConnections('binance', 1);
    // Candles of past minutes (closed, so they validate), sent at the current time.
    let openTime = Math.floor(Date.now() / MIN) * MIN - (ROUNDS + 1) * 2 * COUNT * MIN;
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < COUNT; i++) {
        openTime += MIN;
        const k = { openTime, open: 87_950, high: 87_990, low: 87_940, close: 87_960, volume: 12.5, quoteVolume: 1_099_000, trades: 400 };
        const now = Date.now();
        sentAt.set(`BTCUSDT:1m@${openTime}`, now);
        mock.sendBinance(binanceKlineFrame('BTCUSDT', '1m', k, true, now));
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
      for (let i = 0; i < COUNT; i++) {
        openTime += MIN;
        const c: Candle = {
          symbol: 'BASE',
          interval: '1m',
          exchange: 'binance',
          openTime,
          closeTime: openTime + MIN,
          open: 87_950,
          high: 87_990,
          low: 87_940,
          close: 87_960,
          volume: 12.5,
          quoteVolume: 1_099_000,
          tradeCount: 400,
          source: 'bench',
          ingestedAt: Date.now(),
        };
        sentAt.set(`BASE:1m@${openTime}`, Date.now());
        void producer.send([{ topic, key: 'BASE:1m', value: platform.serde.encode('candles', c), timestamp: c.closeTime }]);
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
      progress(`round ${round + 1}: ${service.length} service, ${baseline.length} baseline samples`);
    }
    const deadline = Date.now() + 30_000;
    while ((service.length < ROUNDS * COUNT || baseline.length < ROUNDS * COUNT) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await svc.stop();
    await consumer.disconnect();
    await producer.close();
    await mock.close();
    await bench.cleanup();
  }
  const s = [...service].sort((a, b) => a - b);
  const b = [...baseline].sort((a, b) => a - b);
  const p50 = percentile(s, 50);
  const p99 = percentile(s, 99);
  return {
    samples: s.length,
    baseline_samples: b.length,
    p50_ms: p50,
    p99_ms: p99,
    baseline_p50_ms: percentile(b, 50),
    baseline_p99_ms: percentile(b, 99),
    ratio: Number((p99 / Math.max(1, percentile(b, 99))).toFixed(3)),
  };
}
