// e2e-latency: wall-clock time from a candle being produced (its ingestedAt stamp, set at send) to
// the matching prediction arriving at a WebSocket client, with the replay paced at 100 candles/s
// through the real pipeline (features, predictor, gateway, all on the local broker), on each Kafka
// client driver (`--driver kafkajs|platformatic|both`, chosen through BITPREDICT_KAFKA_CLIENT) and
// the guarantee of BITPREDICT_PROCESSING_GUARANTEE (`--guarantee`; default at-least-once, as
// before; deployments run exactly-once). Baselines in the same run: one raw produce -> consume hop
// at the same rate on each client library (kafkajs, @platformatic/kafka); the pipeline has three
// Kafka hops plus Redis writes and a WebSocket push.
//
// Where the time goes: every prediction carries candleIngestedAt (the candle's send),
// featuresComputedAt (the feature processor's handler) and predictedAt (the predictor's handler),
// so each WebSocket frame splits into three stages: candle -> features (hop 1 and the feature
// handler), features -> prediction (the feature flush, hop 2 and the predictor's handler before
// its clock), prediction -> frame (the predictor's flush, hop 3, the gateway's decode and push).
// Goal: p99 under 25 ms on the default driver (issue 15; it was 100 ms).
import WebSocket from 'ws';
import type { Producer as PltProducer } from '@platformatic/kafka';
import { createRedis } from '../core/redis.js';
import { createProducer } from '../core/kafka/producer.js';
import {
  benchPlatform,
  driverOverride,
  driversFromArgs,
  median,
  percentile,
  progress,
  rawKafkaJs,
  rawPlatformaticConsumer,
  rawPlatformaticProducer,
  type BenchDriver,
} from './common.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import { createPredictor } from '../processors/predictor/service.js';
import { createGateway } from '../gateway/service.js';
import { runReplay } from '../producers/replay/service.js';
import type { Platform } from '../core/runtime.js';
import type { Prediction } from '../schemas/types.js';

const RATE = Number(process.env.BENCH_RATE ?? 100);
// `--interval 1m` replays the 1-minute slice instead of the hourly file. At 100 candles/s the hourly
// file packs a UTC day into 0.24 s, so the predictor refits its baselines (at every UTC midnight of
// event time) four times a second, in this same process; live, it refits once a day. One-minute
// candles put one midnight in 14.4 s: the pipeline's latency without that artefact.
const SOURCES = {
  '1h': 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv',
  '1m': 'btc_binance_spot_1m_2024_03/BTCUSDT-1m.csv',
} as const;
const COUNT = Number(process.env.BENCH_COUNT ?? 1500);
const WARMUP = 100;
const GOAL_P99_MS = 25;

function intervalFromArgs(argv: string[] = process.argv.slice(3)): keyof typeof SOURCES {
  const i = argv.findIndex((a) => a === '--interval' || a.startsWith('--interval='));
  if (i < 0) return '1h';
  const v = argv[i]!.startsWith('--interval=') ? argv[i]!.slice('--interval='.length) : argv[i + 1];
  if (v === '1h' || v === '1m') return v;
  throw new Error(`--interval ${String(v)}: use 1h or 1m`);
}

function guaranteeFromArgs(argv: string[] = process.argv.slice(3)): 'at-least-once' | 'exactly-once' {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const v = a === '--guarantee' ? argv[i + 1] : a.startsWith('--guarantee=') ? a.slice('--guarantee='.length) : undefined;
    if (v === 'at-least-once' || v === 'exactly-once') return v;
    if (v !== undefined) throw new Error(`--guarantee ${v}: use at-least-once or exactly-once`);
  }
  return 'at-least-once';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends `n` stamps at RATE/s with `send`, waits for `received` to hold them (or 10 s). */
async function paced(n: number, send: () => Promise<void>, received: () => number): Promise<void> {
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const wait = start + (i * 1000) / RATE - Date.now();
    if (wait > 0) await sleep(wait);
    await send();
  }
  const deadline = Date.now() + 10_000;
  while (received() < n && Date.now() < deadline) await sleep(50);
}

async function rawKafkaJsHop(platform: Platform): Promise<number[]> {
  const topic = platform.kafka.topic('trades');
  const raw = rawKafkaJs(platform, 'e2e');
  const consumer = raw.consumer({ groupId: `bench-raw-${Date.now()}`, maxWaitTimeInMs: 500 });
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
  while (!joined) await sleep(50);
  await sleep(500);
  const n = Math.min(COUNT, 1000);
  await paced(
    n,
    async () => void (await producer.send({ topic, acks: -1, messages: [{ key: 'BTCUSDT:1h', value: String(Date.now()) }] })),
    () => latencies.length,
  );
  await Promise.all([consumer.disconnect(), producer.disconnect()]);
  return latencies.slice(WARMUP);
}

async function rawPlatformaticHop(platform: Platform): Promise<number[]> {
  const topic = platform.kafka.topic('trades');
  const producer: PltProducer = rawPlatformaticProducer(platform, 'e2e');
  const consumer = rawPlatformaticConsumer(platform, 'e2e', `bench-raw-plt-${Date.now()}`, { maxWaitTime: 500 });
  const latencies: number[] = [];
  let joined = false;
  consumer.on('consumer:group:join', () => {
    joined = true;
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'latest', autocommit: false, maxWaitTime: 500 });
  stream.on('data', (m: { value: Buffer }) => latencies.push(Date.now() - Number(m.value.toString())));
  while (!joined) await sleep(50);
  await sleep(1000);
  const n = Math.min(COUNT, 1000);
  await paced(
    n,
    async () => void (await producer.send({ messages: [{ topic, key: Buffer.from('BTCUSDT:1h'), value: Buffer.from(String(Date.now())) }] })),
    () => latencies.length,
  );
  // Closing the consumer with force closes its stream too.
  await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  await producer.close();
  return latencies.slice(WARMUP);
}

interface Frame {
  at: number;
  p: Prediction;
}

/**
 * A probe on the predictions topic (a raw kafkajs consumer of that one topic, like the baseline
 * hop): when each prediction became readable, to split prediction -> frame into the predictor's
 * flush + hop 3 and the gateway's own part. Keyed by eventTime:model.
 */
async function probePredictions(platform: Platform): Promise<{ seen: Map<string, number>; stop(): Promise<void> }> {
  const topic = platform.kafka.topic('predictions');
  const consumer = rawKafkaJs(platform, 'e2e-probe').consumer({ groupId: `bench-probe-${Date.now()}`, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  const seen = new Map<string, number>();
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
  });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const at = Date.now();
      for (const m of batch.messages) {
        const p = await platform.serde.decode('predictions', m.value);
        seen.set(`${p.eventTime}:${p.modelName}`, at);
      }
    },
  });
  while (!joined) await sleep(50);
  return { seen, stop: () => consumer.disconnect() };
}

async function pipeline(
  driver: BenchDriver,
  guarantee: string,
  interval: keyof typeof SOURCES,
): Promise<{ frames: Frame[]; raw: Record<string, number[]>; probe: Map<string, number> }> {
  // Open mode: the latency path is the same with a key (checked once, at the upgrade).
  const { platform, config, cleanup } = await benchPlatform(`latency-${driver}`, {
    ...driverOverride(driver),
    BITPREDICT_PROCESSING_GUARANTEE: guarantee,
    BITPREDICT_GATEWAY_AUTH: 'open',
    BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true',
  });
  const redis = await createRedis({ config: config.redis, logger: platform.logger });
  const fatal = (e: unknown): void => {
    throw e;
  };
  const gateway = await createGateway({ platform, config, redis, host: '127.0.0.1', port: 0, onFatal: fatal });
  const features = await createFeatureProcessor({ platform, config, redis, onFatal: fatal });
  const predictor = await createPredictor({ platform, config, redis, onFatal: fatal });
  const services = [gateway, features, predictor];
  try {
    for (const s of services) await s.start();
    while (!services.every((s) => s.readiness().ready)) await sleep(50);
    progress(`${driver}: baselines, a raw produce -> consume hop on each client library at the same rate`);
    const raw = { kafkajs: await rawKafkaJsHop(platform), platformatic: await rawPlatformaticHop(platform) };

    const ws = new WebSocket(`${gateway.url().replace(/^http/, 'ws')}/ws`);
    const frames: Frame[] = [];
    let subscribed = false;
    ws.on('message', (data) => {
      const at = Date.now();
      const msg = JSON.parse((data as Buffer).toString()) as { type: string; data?: Prediction };
      if (msg.type === 'subscribed') subscribed = true;
      if (msg.type === 'prediction' && msg.data) frames.push({ at, p: msg.data });
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'predictions:BTCUSDT' }));
    while (!subscribed) await sleep(20);
    const probe = await probePredictions(platform);
    progress(`${driver}: pipeline (${guarantee}), ${COUNT} real ${interval} candles at ${RATE}/s`);
    const producer = await createProducer(platform.kafka);
    await runReplay({
      platform,
      config,
      producer,
      file: SOURCES[interval],
      symbol: 'BTCUSDT',
      interval,
      rate: RATE,
      limit: COUNT,
    });
    const deadline = Date.now() + 15_000;
    while (frames.length < COUNT && Date.now() < deadline) await sleep(50);
    await producer.close();
    ws.close();
    await probe.stop();
    return { frames, raw, probe: probe.seen };
  } finally {
    for (const s of services.reverse()) await s.stop();
    await redis.quit();
    await cleanup();
  }
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

function figures(frames: Frame[], raw: Record<string, number[]>, probe: Map<string, number>): Record<string, unknown> {
  const measured = frames.slice(WARMUP);
  const probed = measured.flatMap((f) => {
    const at = probe.get(`${f.p.eventTime}:${f.p.modelName}`);
    return at === undefined ? [] : [{ topic: at - f.p.predictedAt, gateway: f.at - at }];
  });
  const total = sorted(measured.map((f) => f.at - f.p.candleIngestedAt));
  const rawKjs = sorted(raw.kafkajs ?? []);
  const rawPlt = sorted(raw.platformatic ?? []);
  const p99 = percentile(total, 99);
  return {
    received: frames.length,
    p50_ms: percentile(total, 50),
    p99_ms: p99,
    max_ms: total.at(-1),
    // Medians of each stage over the same frames (they need not add up to the total's median).
    stage_median_ms: {
      candle_to_features: median(measured.map((f) => f.p.featuresComputedAt - f.p.candleIngestedAt)),
      features_to_prediction: median(measured.map((f) => f.p.predictedAt - f.p.featuresComputedAt)),
      prediction_to_ws: median(measured.map((f) => f.at - f.p.predictedAt)),
      // prediction_to_ws split by the probe: readable on the predictions topic, then the gateway.
      prediction_to_topic: median(probed.map((x) => x.topic)),
      topic_to_ws: median(probed.map((x) => x.gateway)),
    },
    stage_p99_ms: {
      candle_to_features: percentile(sorted(measured.map((f) => f.p.featuresComputedAt - f.p.candleIngestedAt)), 99),
      features_to_prediction: percentile(sorted(measured.map((f) => f.p.predictedAt - f.p.featuresComputedAt)), 99),
      prediction_to_ws: percentile(sorted(measured.map((f) => f.at - f.p.predictedAt)), 99),
    },
    raw_kafkajs_hop_p50_ms: percentile(rawKjs, 50),
    raw_kafkajs_hop_p99_ms: percentile(rawKjs, 99),
    raw_platformatic_hop_p50_ms: percentile(rawPlt, 50),
    raw_platformatic_hop_p99_ms: percentile(rawPlt, 99),
    ratio_vs_raw_kafkajs_hop: Number((p99 / Math.max(percentile(rawKjs, 99), 1)).toFixed(2)),
    ratio_vs_raw_platformatic_hop: Number((p99 / Math.max(percentile(rawPlt, 99), 1)).toFixed(2)),
    goal_p99_met: p99 < GOAL_P99_MS,
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const drivers = driversFromArgs();
  const guarantee = guaranteeFromArgs();
  const interval = intervalFromArgs();
  const perDriver: Record<string, Record<string, unknown>> = {};
  for (const d of drivers) {
    const { frames, raw, probe } = await pipeline(d, guarantee, interval);
    perDriver[d] = figures(frames, raw, probe);
    progress(`${d}: ${JSON.stringify(perDriver[d])}`);
  }
  const headline = perDriver[drivers[0] as BenchDriver] as Record<string, number>;
  return {
    rate_per_s: RATE,
    candles: COUNT,
    guarantee,
    interval,
    drivers,
    ...perDriver,
    // The original figures (the first driver named against the raw kafkajs hop), for the history table.
    p50_ms: headline.p50_ms,
    p99_ms: headline.p99_ms,
    baseline_p50_ms: headline.raw_kafkajs_hop_p50_ms,
    baseline_p99_ms: headline.raw_kafkajs_hop_p99_ms,
    ratio: headline.ratio_vs_raw_kafkajs_hop,
    goal_p99_ms: GOAL_P99_MS,
  };
}
