// e2e-latency: wall-clock time from a candle being produced (its ingestedAt stamp, set at send) to
// the matching prediction arriving at a WebSocket client, with the replay paced at 100 candles/s
// through the real pipeline (features, predictor, gateway, all on the local broker). Baseline
// in the same run: one raw kafkajs hop (produce -> consume) at the same rate; the pipeline has
// three Kafka hops plus Redis writes and a WebSocket push. Goal: p99 under 100 ms.
import WebSocket from 'ws';
import { createRedis } from '../core/redis.js';
import { createProducer } from '../core/kafka/producer.js';
import { benchPlatform, percentile, progress, rawKafkaJs } from './common.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import { createPredictor } from '../processors/predictor/service.js';
import { createGateway } from '../gateway/service.js';
import { runReplay } from '../producers/replay/service.js';
import type { Prediction } from '../schemas/types.js';

const RATE = Number(process.env.BENCH_RATE ?? 100);
const COUNT = Number(process.env.BENCH_COUNT ?? 1500);
const WARMUP = 100;

async function rawHopLatency(platform: Awaited<ReturnType<typeof benchPlatform>>['platform']): Promise<number[]> {
  const topic = platform.kafka.topic('trades');
  const raw = rawKafkaJs(platform, 'e2e');
  const consumer = raw.consumer({ groupId: `bench-raw-${Date.now()}` });
  const producer = raw.producer({ idempotent: true, maxInFlightRequests: 1 });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic, fromBeginning: false });
  const latencies: number[] = [];
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      latencies.push(Date.now() - Number(message.value?.toString()));
    },
  });
  while (!joined) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  const n = Math.min(COUNT, 1000);
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await producer.send({ topic, acks: -1, messages: [{ key: 'BTCUSDT:1h', value: String(Date.now()) }] });
  }
  const deadline = Date.now() + 10_000;
  while (latencies.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  return latencies.slice(WARMUP);
}

export async function run(): Promise<Record<string, unknown>> {
  // Open mode: the latency path is the same with a key (checked once, at the upgrade).
  const { platform, config, cleanup } = await benchPlatform('latency', { BITPREDICT_GATEWAY_AUTH: 'open', BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' });
  const redis = await createRedis({ url: config.redis.url, logger: platform.logger });
  const fatal = (e: unknown): void => {
    throw e;
  };
  const gateway = await createGateway({ platform, config, redis, host: '127.0.0.1', port: 0, onFatal: fatal });
  const features = await createFeatureProcessor({ platform, config, redis, onFatal: fatal });
  const predictor = await createPredictor({ platform, config, redis, onFatal: fatal });
  const services = [gateway, features, predictor];
  try {
    for (const s of services) await s.start();
    while (!services.every((s) => s.readiness().ready)) await new Promise((r) => setTimeout(r, 50));
    progress('baseline: raw kafkajs produce -> consume at the same rate');
    const base = (await rawHopLatency(platform)).sort((a, b) => a - b);

    const ws = new WebSocket(`${gateway.url().replace(/^http/, 'ws')}/ws`);
    const latencies: number[] = [];
    let subscribed = false;
    ws.on('message', (data) => {
      const msg = JSON.parse((data as Buffer).toString()) as { type: string; data?: Prediction };
      if (msg.type === 'subscribed') subscribed = true;
      if (msg.type === 'prediction' && msg.data) latencies.push(Date.now() - msg.data.candleIngestedAt);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'predictions:BTCUSDT' }));
    while (!subscribed) await new Promise((r) => setTimeout(r, 20));
    progress(`pipeline: ${COUNT} real candles at ${RATE}/s`);
    const producer = await createProducer(platform.kafka);
    await runReplay({
      platform,
      config,
      producer,
      file: 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv',
      symbol: 'BTCUSDT',
      interval: '1h',
      rate: RATE,
      limit: COUNT,
    });
    const deadline = Date.now() + 15_000;
    while (latencies.length < COUNT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await producer.close();
    ws.close();
    const measured = latencies.slice(WARMUP).sort((a, b) => a - b);
    const p99 = percentile(measured, 99);
    const baseP99 = percentile(base, 99);
    return {
      rate_per_s: RATE,
      candles: COUNT,
      received: latencies.length,
      p50_ms: percentile(measured, 50),
      p99_ms: p99,
      max_ms: measured.at(-1),
      baseline_p50_ms: percentile(base, 50),
      baseline_p99_ms: baseP99,
      ratio: Number((p99 / Math.max(baseP99, 1)).toFixed(2)),
      goal_p99_ms: 100,
    };
  } finally {
    for (const s of services.reverse()) await s.stop();
    await redis.quit();
    await cleanup();
  }
}
