// processor-throughput: candles/s through the feature processor (decode, validate, the fs-2
// indicator engine, the point-in-time sentiment join, Avro encode, Redis feature store, state
// snapshots), exactly once (one transaction per 500 records per partition), on each Kafka client
// driver (`--driver kafkajs|platformatic|both`; the processor gets its driver through the config
// object, as BITPREDICT_KAFKA_CLIENT would give it), beside a raw exactly-once consume-transform-
// produce passthrough written directly on each client library (kafkajs: eachBatch, one transaction
// per 500 records with sendOffsets; @platformatic/kafka: its message stream, one transaction per 500
// records with addConsumer/addOffset), read_committed, forwarding each record unchanged. Input: the
// hourly BTC/USDT series replayed under COPIES symbol names over 3 partitions (14 copies: 1,036,882
// records). Also reports the heap after the first processor run and at a quarter of it (after GC):
// state is bounded (one engine per series), so the heap must not grow with the record count.
// Rounds run every side over the whole topic with fresh groups; every ratio is the median of the
// per-round ratios. Goals (issue 15): the processor on platformatic >= 1.5x its kafkajs figure and
// >= 0.7 of the raw platformatic passthrough; on kafkajs, >= 0.7 of the raw kafkajs passthrough.
import v8 from 'node:v8';
import vm from 'node:vm';
import { inspect } from 'node:util';
import { FetchIsolationLevels, type Message } from '@platformatic/kafka';
import { benchPlatform, driversFromArgs, median, progress, rawKafkaJs, rawPlatformaticConsumer, rawPlatformaticProducer, type BenchDriver } from './common.js';
import { runReplay } from '../producers/replay/service.js';
import { createProducer } from '../core/kafka/producer.js';
import { createAdmin } from '../core/kafka/client.js';
import { createRedis } from '../core/redis.js';
import { createFeatureProcessor } from '../processors/features/service.js';
import { createPlatform, type Platform } from '../core/runtime.js';
import { createMetricsRegistry } from '../core/metrics.js';
import type { Config } from '../core/config.js';

const FILE = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const COPIES = Number(process.env.BENCH_COPIES ?? 14);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHUNK = 500;

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

/** The raw kafkajs EOS passthrough: eachBatch, a transaction per CHUNK records (send, sendOffsets, commit). */
async function rawKafkaJsPassthrough(platform: Platform, input: string, out: string, groupId: string): Promise<() => Promise<void>> {
  const kafka = rawKafkaJs(platform, 'eos');
  // The same 20 ms first retry as the platformatic passthrough (see there: CONCURRENT_TRANSACTIONS).
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    transactionalId: `${groupId}-txn`,
    allowAutoTopicCreation: false,
    retry: { initialRetryTime: 20 },
  });
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 500 });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      for (let i = 0; i < batch.messages.length && isRunning() && !isStale(); i += CHUNK) {
        const chunk = batch.messages.slice(i, i + CHUNK);
        const last = chunk.at(-1)!.offset;
        const txn = await producer.transaction();
        try {
          await txn.send({ topic: out, acks: -1, messages: chunk.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })) });
          await txn.sendOffsets({
            consumerGroupId: groupId,
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] }],
          });
          await txn.commit();
        } catch (err) {
          await txn.abort().catch(() => undefined);
          throw err;
        }
        resolveOffset(last);
        await heartbeat();
      }
    },
  });
  return async () => {
    await consumer.disconnect();
    await producer.disconnect();
  };
}

/** The raw @platformatic/kafka EOS passthrough: its message stream, a transaction per CHUNK records (send, addConsumer, addOffset per partition, commit). */
async function rawPlatformaticPassthrough(platform: Platform, input: string, out: string, groupId: string): Promise<() => Promise<void>> {
  // retryDelay 20 ms, the Java client's backoff for CONCURRENT_TRANSACTIONS: a transaction begun
  // right after the previous one's EndTxn is refused until the broker has written its markers, and
  // @platformatic/kafka's default delay of 1 s made every transaction wait ~200 ms; 100 retries
  // (its default 3 gave up on a loaded broker).
  const producer = rawPlatformaticProducer(platform, 'eos', {
    transactionalId: `${groupId}-txn`,
    producerId: -1n,
    producerEpoch: -1,
    retries: 100,
    retryDelay: 20,
  });
  const consumer = rawPlatformaticConsumer(platform, 'eos', groupId, { autocommit: false });
  const stream = await consumer.consume({
    topics: [input],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: false,
    maxWaitTime: 500,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
  });
  // Records arrive as 'data' events; a full chunk, or whatever is pending when no record came for
  // IDLE_MS (the tail of the topic), goes out in one transaction while the stream is paused.
  const pending: Message[] = [];
  let flushing: Promise<void> | null = null;
  let failed: unknown = null;
  const flush = async (): Promise<void> => {
    // At most CHUNK per transaction: records already fetched keep coming for a moment after pause().
    const chunk = pending.splice(0, CHUNK);
    const lastOf = new Map<number, Message>();
    for (const m of chunk) lastOf.set(m.partition, m);
    const txn = await producer.beginTransaction();
    try {
      // No timestamp forwarded: @platformatic/kafka 1.35 encodes timestamp deltas wrongly beyond
      // 2^31 ms (see core/kafka/drivers/platformatic/timestamps.ts), and a chunk mixing series spans
      // years of event time, which the broker then refuses as INVALID_TIMESTAMP.
      await txn.send({ messages: chunk.map((m) => ({ topic: out, key: m.key, value: m.value })) });
      await txn.addConsumer(consumer);
      for (const m of lastOf.values()) await txn.addOffset(m);
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
  };
  const startFlush = (): void => {
    if (flushing || pending.length === 0) return;
    stream.pause();
    flushing = flush()
      .catch((err: unknown) => {
        failed = err;
        progress(`raw platformatic passthrough failed: ${String(err)} ${inspect(err, { depth: 6 }).slice(0, 3000)}`);
      })
      .finally(() => {
        flushing = null;
        if (pending.length >= CHUNK && !failed) startFlush();
        else stream.resume();
      });
  };
  let lastData = Date.now();
  stream.on('data', (m: Message) => {
    lastData = Date.now();
    pending.push(m);
    if (pending.length >= CHUNK) startFlush();
  });
  const IDLE_MS = 20;
  const idle = setInterval(() => {
    if (Date.now() - lastData >= IDLE_MS) startFlush();
  }, IDLE_MS);
  return async () => {
    clearInterval(idle);
    await flushing;
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
    await producer.close();
    if (failed) throw failed instanceof Error ? failed : new Error('raw platformatic passthrough failed');
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const drivers = driversFromArgs();
  const { platform, config, cleanup } = await benchPlatform('proc', { BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once', BITPREDICT_TOPIC_PARTITIONS: '3' });
  // One platform per driver on the same topics: the driver reaches the processor through the config object only.
  const platforms = new Map<BenchDriver, { platform: Platform; config: Config }>();
  for (const d of drivers) {
    const c: Config = { ...config, kafka: { ...config.kafka, driver: d } };
    platforms.set(d, {
      config: c,
      platform: createPlatform({
        config: c,
        logger: platform.logger,
        registry: createMetricsRegistry({ service: `bench-proc-${d}`, defaultMetrics: false }),
        clientId: `bench-proc-${d}`,
      }),
    });
  }
  // Each platform's serde learns the schema ids (registering is idempotent).
  for (const p of platforms.values()) await p.platform.serde.registerAll();
  const candles = platform.kafka.topic('candles');
  const redis = await createRedis({ config: config.redis, logger: platform.logger });
  try {
    // Setup, untimed: on the faster client when it is in the run.
    const setup = platforms.get('platformatic') ?? { platform, config };
    const producer = await createProducer(setup.platform.kafka);
    let total = 0n;
    for (let i = 0; i < COPIES; i++) {
      const s = await runReplay({
        platform: setup.platform,
        config: setup.config,
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
    progress(`${total} candles in ${candles} (${COPIES} series of ${FILE}); drivers: ${drivers.join(', ')}`);

    const out = `${config.kafka.topicPrefix}bench.passthrough`;
    const admin = await createAdmin(platform.kafka);
    await admin.ensureTopics([{ name: out, partitions: 3, replicationFactor: 1, configs: {} }]);
    await admin.close();
    const raw = async (lib: BenchDriver, round: number): Promise<number> => {
      const group = `bench-raw-eos-${lib}-${round}-${Date.now()}`;
      const stop = await (lib === 'kafkajs' ? rawKafkaJsPassthrough : rawPlatformaticPassthrough)(platform, candles, out, group);
      const s = await waitConsumed(platform, group, candles, total);
      await stop();
      return Number(total) / s;
    };
    const heapBefore = heapMb();
    let heapQuarter = Number.NaN;
    let heapAfter = Number.NaN;
    const features = async (d: BenchDriver, round: number, measureHeap: boolean): Promise<number> => {
      const p = platforms.get(d)!;
      const group = `bench-features-${d}-${round}-${Date.now()}`;
      const proc = await createFeatureProcessor({
        platform: p.platform,
        config: p.config,
        redis,
        groupId: group,
        onFatal: (e) => progress(`features fatal: ${e.message}`),
      });
      await proc.start();
      const s = await waitConsumed(platform, group, candles, total, () => {
        if (measureHeap) heapQuarter = heapMb();
      });
      if (measureHeap) heapAfter = heapMb();
      await proc.stop();
      return Number(total) / s;
    };
    type Side = 'raw_kafkajs' | 'raw_platformatic' | `features_${BenchDriver}`;
    const rates: Record<Side, number[]> = { raw_kafkajs: [], raw_platformatic: [], features_kafkajs: [], features_platformatic: [] };
    for (let round = 0; round < ROUNDS; round++) {
      rates.raw_kafkajs.push(await raw('kafkajs', round));
      rates.raw_platformatic.push(await raw('platformatic', round));
      for (const d of drivers) rates[`features_${d}`].push(await features(d, round, round === 0 && d === drivers[0]));
      progress(
        `round ${round + 1}: ${Object.entries(rates)
          .filter(([, v]) => v.length > round)
          .map(([k, v]) => `${k} ${(v[round] as number).toFixed(0)}/s`)
          .join(', ')}`,
      );
    }
    progress(
      `heap ${heapBefore.toFixed(0)} MB before, ${heapQuarter.toFixed(0)} MB at 25 %, ${heapAfter.toFixed(0)} MB after the first processor run (after GC)`,
    );
    const ratio = (a: number[], b: number[]): number => Number(median(a.map((x, i) => x / (b[i] as number))).toFixed(3));
    const perDriver: Record<string, unknown> = {};
    for (const d of drivers) {
      perDriver[d] = {
        records_per_s: Math.round(median(rates[`features_${d}`])),
        ratio_vs_raw_kafkajs_eos: ratio(rates[`features_${d}`], rates.raw_kafkajs),
        ratio_vs_raw_platformatic_eos: ratio(rates[`features_${d}`], rates.raw_platformatic),
      };
    }
    const goals: Record<string, boolean> = {};
    if (drivers.includes('kafkajs')) goals.kafkajs_ge_0_7x_raw_kafkajs_eos = ratio(rates.features_kafkajs, rates.raw_kafkajs) >= 0.7;
    if (drivers.includes('platformatic')) goals.platformatic_ge_0_7x_raw_platformatic_eos = ratio(rates.features_platformatic, rates.raw_platformatic) >= 0.7;
    if (drivers.length === 2) goals.platformatic_ge_1_5x_kafkajs = ratio(rates.features_platformatic, rates.features_kafkajs) >= 1.5;
    const headline = drivers[0] as BenchDriver;
    return {
      records: Number(total),
      rounds: ROUNDS,
      drivers,
      raw_kafkajs_eos_records_per_s: Math.round(median(rates.raw_kafkajs)),
      raw_platformatic_eos_records_per_s: Math.round(median(rates.raw_platformatic)),
      ...perDriver,
      ...(drivers.length === 2 ? { platformatic_vs_kafkajs: ratio(rates.features_platformatic, rates.features_kafkajs) } : {}),
      // The first driver named against the raw passthrough on its own library, for the history table.
      records_per_s: Math.round(median(rates[`features_${headline}`])),
      baseline_records_per_s: Math.round(median(headline === 'kafkajs' ? rates.raw_kafkajs : rates.raw_platformatic)),
      ratio: ratio(rates[`features_${headline}`], headline === 'kafkajs' ? rates.raw_kafkajs : rates.raw_platformatic),
      heap_mb_after_run: Number(heapAfter.toFixed(1)),
      heap_mb_at_quarter: Number(heapQuarter.toFixed(1)),
      heap_mb_before: Number(heapBefore.toFixed(1)),
      guarantee: 'exactly-once',
      partitions: 3,
      goals,
    };
  } finally {
    const keys = await redis.keys(`${config.redis.keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    const admin = await createAdmin(platform.kafka);
    await admin.deleteTopics([`${config.kafka.topicPrefix}bench.passthrough`]).catch(() => undefined);
    await admin.close();
    await cleanup();
  }
}
