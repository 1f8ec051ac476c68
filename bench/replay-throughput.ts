// replay-throughput: the replay producer's candles/s into Kafka (read file, parse, validate,
// sequence, Avro-encode, produce) on each Kafka client driver (`--driver kafkajs|platformatic|both`,
// chosen through BITPREDICT_KAFKA_CLIENT as a deployment would), beside two raw producers sending
// the very same encoded records with the same settings (idempotent, acks=all, batches of 1000): one
// on kafkajs, one on @platformatic/kafka. All sides alternate within each round so that they see
// the same machine state. One unmeasured warm-up round (JIT, connections), then ROUNDS measured
// rounds; every ratio is the median of the per-round ratios, which cancels slow drift in machine
// load better than a ratio of medians.
// Goals: the kafkajs driver >= 0.8 of raw kafkajs (the original goal); the platformatic driver
// >= 2x raw kafkajs and >= 0.8 of raw @platformatic/kafka (issue 15).
import { benchPlatform, driverOverride, driversFromArgs, median, progress, rawKafkaJs, rawPlatformaticProducer, type BenchDriver } from './common.js';
import { runReplay } from '../producers/replay/service.js';
import { createProducer, type OutRecord, type Producer } from '../core/kafka/producer.js';

const FILE = process.env.BENCH_REPLAY_FILE ?? 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCH = 1000;

type Side = 'raw_kafkajs' | 'raw_platformatic' | BenchDriver;

const ratioStats = (num: number[], den: number[]): { ratio: number; min: number; max: number } => {
  const rs = num.map((r, i) => r / (den[i] as number)).sort((a, b) => a - b);
  return { ratio: Number(median(rs).toFixed(3)), min: Number((rs[0] as number).toFixed(3)), max: Number((rs.at(-1) as number).toFixed(3)) };
};

export async function run(): Promise<Record<string, unknown>> {
  const drivers = driversFromArgs();
  // The raw baselines write into the first driver's topics; each driver replays into its own.
  const benches = new Map<BenchDriver, Awaited<ReturnType<typeof benchPlatform>>>();
  for (const d of drivers) benches.set(d, await benchPlatform(`replay-${d}`, driverOverride(d)));
  const first = benches.get(drivers[0] as BenchDriver)!;
  const producers = new Map<BenchDriver, Producer>();
  try {
    // Capture exactly the records the replay would send, to give the baselines identical input.
    const captured: OutRecord[] = [];
    const capture: Producer = { send: async (r) => void captured.push(...r), close: async () => {} };
    await runReplay({ platform: first.platform, config: first.config, producer: capture, file: FILE, symbol: 'BTCUSDT', interval: '1h', rate: 0 });
    const candles = first.platform.kafka.topic('candles');
    const records = captured.filter((r) => r.topic === candles);
    const n = records.length;
    progress(`${n} candles in ${FILE}; drivers: ${drivers.join(', ')}`);
    const kjs = rawKafkaJs(first.platform, 'replay').producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await kjs.connect();
    const plt = rawPlatformaticProducer(first.platform, 'replay');
    const kjsBatches: { key: Buffer | null; value: Buffer | null; timestamp: string }[][] = [];
    const pltBatches: { topic: string; key?: Buffer; value?: Buffer; timestamp: bigint }[][] = [];
    for (let i = 0; i < n; i += BATCH) {
      const slice = records.slice(i, i + BATCH);
      kjsBatches.push(slice.map((r) => ({ key: r.key === null ? null : Buffer.from(r.key), value: r.value, timestamp: String(r.timestamp) })));
      pltBatches.push(
        slice.map((r) => ({
          topic: candles,
          ...(r.key === null ? {} : { key: Buffer.from(r.key) }),
          ...(r.value === null ? {} : { value: r.value }),
          timestamp: BigInt(r.timestamp ?? Date.now()),
        })),
      );
    }
    for (const d of drivers) {
      const b = benches.get(d)!;
      producers.set(d, await createProducer(b.platform.kafka));
    }
    const rates: Record<Side, number[]> = { raw_kafkajs: [], raw_platformatic: [], kafkajs: [], platformatic: [] };
    const timed = async (fn: () => Promise<void>): Promise<number> => {
      const t0 = process.hrtime.bigint();
      await fn();
      return n / (Number(process.hrtime.bigint() - t0) / 1e9);
    };
    try {
      for (let round = 0; round <= ROUNDS; round++) {
        const got: Partial<Record<Side, number>> = {};
        got.raw_kafkajs = await timed(async () => {
          for (const messages of kjsBatches) await kjs.sendBatch({ acks: -1, topicMessages: [{ topic: candles, messages }] });
        });
        got.raw_platformatic = await timed(async () => {
          for (const messages of pltBatches) await plt.send({ messages });
        });
        for (const d of drivers) {
          const b = benches.get(d)!;
          const summary = await runReplay({
            platform: b.platform,
            config: b.config,
            producer: producers.get(d)!,
            file: FILE,
            symbol: 'BTCUSDT',
            interval: '1h',
            rate: 0,
          });
          got[d] = summary.published / summary.seconds;
        }
        progress(
          `${round === 0 ? 'warm-up' : `round ${round}`}: ${Object.entries(got)
            .map(([k, v]) => `${k} ${v.toFixed(0)}/s`)
            .join(', ')}`,
        );
        if (round === 0) continue;
        for (const [k, v] of Object.entries(got)) rates[k as Side].push(v);
      }
    } finally {
      await kjs.disconnect();
      await plt.close();
    }
    const perDriver: Record<string, unknown> = {};
    for (const d of drivers) {
      const vsKjs = ratioStats(rates[d], rates.raw_kafkajs);
      const vsPlt = ratioStats(rates[d], rates.raw_platformatic);
      perDriver[d] = {
        records_per_s: Math.round(median(rates[d])),
        ratio_vs_raw_kafkajs: vsKjs.ratio,
        ratio_vs_raw_kafkajs_min: vsKjs.min,
        ratio_vs_raw_kafkajs_max: vsKjs.max,
        ratio_vs_raw_platformatic: vsPlt.ratio,
        ratio_vs_raw_platformatic_min: vsPlt.min,
        ratio_vs_raw_platformatic_max: vsPlt.max,
      };
    }
    const goals: Record<string, boolean> = {};
    if (drivers.includes('kafkajs')) goals.kafkajs_ge_0_8x_raw_kafkajs = ratioStats(rates.kafkajs, rates.raw_kafkajs).ratio >= 0.8;
    if (drivers.includes('platformatic')) {
      goals.platformatic_ge_2x_raw_kafkajs = ratioStats(rates.platformatic, rates.raw_kafkajs).ratio >= 2;
      goals.platformatic_ge_0_8x_raw_platformatic = ratioStats(rates.platformatic, rates.raw_platformatic).ratio >= 0.8;
    }
    const headline = drivers[0] as BenchDriver;
    return {
      records: n,
      rounds: ROUNDS,
      drivers,
      raw_kafkajs_records_per_s: Math.round(median(rates.raw_kafkajs)),
      raw_platformatic_records_per_s: Math.round(median(rates.raw_platformatic)),
      raw_platformatic_vs_raw_kafkajs: ratioStats(rates.raw_platformatic, rates.raw_kafkajs).ratio,
      ...perDriver,
      // The original figures (the first driver named against raw kafkajs), for the history table.
      records_per_s: Math.round(median(rates[headline])),
      baseline_records_per_s: Math.round(median(rates.raw_kafkajs)),
      ratio: ratioStats(rates[headline], rates.raw_kafkajs).ratio,
      goals,
    };
  } finally {
    for (const p of producers.values()) await p.close();
    for (const b of benches.values()) await b.cleanup();
  }
}
