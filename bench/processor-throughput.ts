// processor-throughput: candles/s through the feature processor (decode, validate, the fs-2
// indicator engine, the point-in-time sentiment join, Avro encode, Redis feature store, state
// snapshots) beside a passthrough consumer -> producer that forwards the same records with the same
// consumer runner and the same transactional settings (exactly-once, one transactional producer
// per input partition, same flush size), over the same ~1M real candles (the hourly BTC/USDT
// series replayed under 14 symbol names, spread over 3 partitions). Also reports the heap after
// the 1M-record run and at a quarter of it (after GC): state is bounded (one engine per series),
// so the heap must not grow with the record count. Rounds alternate passthrough and processor over
// the whole topic with fresh groups; `ratio` is the median of the per-round ratios. Goal: >= 0.7.
import v8 from 'node:v8';
import vm from 'node:vm';
import { benchPlatform, median, progress } from './common.js';
import { runReplay } from '../producers/replay/service.js';
import { createProducer } from '../core/kafka/producer.js';
import { createAdmin } from '../core/kafka/client.js';
import { createConsumerRunner } from '../core/kafka/consumer.js';
import { createDelivery } from '../core/kafka/delivery.js';
import { createDeadLetterFactory } from '../core/kafka/dlq.js';
import { createRedis } from '../core/redis.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import type { Platform } from '../core/runtime.js';

const FILE = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const COPIES = Number(process.env.BENCH_COPIES ?? 14);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMb = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1048576;
};

async function waitConsumed(platform: Platform, groupId: string, topic: string, total: bigint, onQuarter?: () => void): Promise<number> {
  const admin = await createAdmin(platform.kafka);
  const t0 = process.hrtime.bigint();
  let quarterDone = false;
  let lastLog = Date.now();
  try {
    for (;;) {
      const lag = await admin.groupLag(groupId, topic);
      const done = lag.reduce((n, p) => n + (p.committed === '-1' ? 0n : BigInt(p.committed)), 0n);
      if (!quarterDone && done * 4n >= total) {
        quarterDone = true;
        onQuarter?.();
      }
      if (done >= total) return Number(process.hrtime.bigint() - t0) / 1e9;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        progress(`  ${groupId}: ${done}/${total}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const { platform, config, cleanup } = await benchPlatform('proc', { BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once', BITPREDICT_TOPIC_PARTITIONS: '3' });
  const candles = platform.kafka.topic('candles');
  const redis = await createRedis({ url: config.redis.url, logger: platform.logger });
  try {
    const producer = await createProducer(platform.kafka);
    let total = 0n;
    for (let i = 0; i < COPIES; i++) {
      const s = await runReplay({
        platform,
        config,
        producer,
        file: FILE,
        symbol: i === 0 ? 'BTCUSDT' : `BTC${i}USDT`,
        interval: '1h',
        rate: 0,
        resume: false,
      });
      total += BigInt(s.published);
    }
    await producer.close();
    progress(`${total} candles in ${candles} (${COPIES} series of ${FILE})`);

    // Baseline: the same runner, delivery and flush size, forwarding each record unchanged.
    const out = `${config.kafka.topicPrefix}bench.passthrough`;
    const admin = await createAdmin(platform.kafka);
    await admin.ensureTopics([{ name: out, partitions: 3, replicationFactor: 1, configs: {} }]);
    await admin.close();
    const passthrough = async (round: number): Promise<number> => {
      const baseGroup = `bench-passthrough-${round}-${Date.now()}`;
      const delivery = await createDelivery(platform.kafka, 'exactly-once', baseGroup);
      const runner = createConsumerRunner({
        client: platform.kafka,
        groupId: baseGroup,
        topics: [candles],
        handler: async (rec) => [{ topic: out, key: rec.key?.toString() ?? null, value: rec.value, timestamp: rec.timestamp }],
        deadLetter: createDeadLetterFactory({ serde: platform.serde, topicPrefix: platform.kafka.topicPrefix }),
        delivery: delivery.mode,
        logger: platform.logger,
        registry: platform.registry,
        maxAttempts: 3,
        retryBackoffMs: 100,
        onFatal: (e) => progress(`passthrough fatal: ${e.message}`),
      });
      await runner.start();
      const s = await waitConsumed(platform, baseGroup, candles, total);
      await runner.stop();
      await delivery.close();
      return Number(total) / s;
    };
    const heapBefore = heapMb();
    let heapQuarter = Number.NaN;
    let heapAfter = Number.NaN;
    const features = async (round: number): Promise<number> => {
      const group = `bench-features-${round}-${Date.now()}`;
      const proc = await createFeatureProcessor({ platform, config, redis, groupId: group, onFatal: (e) => progress(`features fatal: ${e.message}`) });
      await proc.start();
      const s = await waitConsumed(platform, group, candles, total, () => {
        if (round === 0) heapQuarter = heapMb();
      });
      if (round === 0) heapAfter = heapMb();
      await proc.stop();
      return Number(total) / s;
    };
    // Alternating rounds over the whole topic (each with fresh groups), so that slow drift in
    // machine load hits both sides; the ratio is the median of the per-round ratios.
    const rates: number[] = [];
    const baselines: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const b = await passthrough(round);
      const f = await features(round);
      baselines.push(b);
      rates.push(f);
      progress(`round ${round + 1}: features ${f.toFixed(0)} records/s, passthrough ${b.toFixed(0)} records/s, ratio ${(f / b).toFixed(3)}`);
    }
    const ratios = rates.map((r, i) => r / (baselines[i] as number)).sort((a, b) => a - b);
    progress(
      `heap ${heapBefore.toFixed(0)} MB before, ${heapQuarter.toFixed(0)} MB at 25 %, ${heapAfter.toFixed(0)} MB after the first 1M-record run (after GC)`,
    );
    return {
      records: Number(total),
      rounds: ROUNDS,
      records_per_s: Math.round(median(rates)),
      baseline_records_per_s: Math.round(median(baselines)),
      ratio: Number(median(ratios).toFixed(3)),
      ratio_min: Number((ratios[0] as number).toFixed(3)),
      ratio_max: Number((ratios.at(-1) as number).toFixed(3)),
      heap_mb_after_1m: Number(heapAfter.toFixed(1)),
      heap_mb_at_quarter: Number(heapQuarter.toFixed(1)),
      heap_mb_before: Number(heapBefore.toFixed(1)),
      guarantee: 'exactly-once',
      partitions: 3,
      goal_ratio: 0.7,
    };
  } finally {
    const keys = await redis.keys(`${config.redis.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await cleanup();
  }
}
