// replay-throughput: the replay producer's candles/s into Kafka (read file, parse, validate,
// sequence, Avro-encode, produce) beside a raw kafkajs producer sending the very same encoded
// records with the same producer settings (idempotent, acks=all, batches of 1000), alternating
// runs so that both see the same machine state. One unmeasured warm-up round (JIT, connections),
// then ROUNDS measured pairs; the ratio is the median of the per-pair ratios, which cancels slow
// drift in machine load better than a ratio of medians. Goal: ratio >= 0.8.
import { benchPlatform, median, progress, rawKafkaJs } from './common.js';
import { runReplay } from '../producers/replay/service.js';
import { createProducer, type OutRecord, type Producer } from '../core/kafka/producer.js';

const FILE = process.env.BENCH_REPLAY_FILE ?? 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

export async function run(): Promise<Record<string, unknown>> {
  const { platform, config, cleanup } = await benchPlatform('replay');
  try {
    // Capture exactly the records the replay would send, to give the baseline identical input.
    const captured: OutRecord[] = [];
    const capture: Producer = { send: async (r) => void captured.push(...r), close: async () => {} };
    await runReplay({ platform, config, producer: capture, file: FILE, symbol: 'BTCUSDT', interval: '1h', rate: 0 });
    const n = captured.filter((r) => r.topic === platform.kafka.topic('candles')).length;
    progress(`${n} candles in ${FILE}`);
    const raw = rawKafkaJs(platform, 'replay').producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await raw.connect();
    const producer = await createProducer(platform.kafka);
    const replayRates: number[] = [];
    const baselineRates: number[] = [];
    try {
      for (let round = 0; round <= ROUNDS; round++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < captured.length; i += 1000) {
          const slice = captured.slice(i, i + 1000);
          await raw.sendBatch({
            acks: -1,
            topicMessages: [{ topic: slice[0]!.topic, messages: slice.map((r) => ({ key: r.key, value: r.value, timestamp: String(r.timestamp) })) }],
          });
        }
        const baseline = n / (Number(process.hrtime.bigint() - t0) / 1e9);
        const summary = await runReplay({ platform, config, producer, file: FILE, symbol: 'BTCUSDT', interval: '1h', rate: 0 });
        const replay = summary.published / summary.seconds;
        progress(`${round === 0 ? 'warm-up' : `round ${round}`}: replay ${replay.toFixed(0)}/s, raw kafkajs ${baseline.toFixed(0)}/s`);
        if (round === 0) continue;
        baselineRates.push(baseline);
        replayRates.push(replay);
      }
    } finally {
      await raw.disconnect();
      await producer.close();
    }
    const recordsPerS = median(replayRates);
    const baselinePerS = median(baselineRates);
    const ratios = replayRates.map((r, i) => r / (baselineRates[i] as number)).sort((a, b) => a - b);
    return {
      records: n,
      rounds: ROUNDS,
      records_per_s: Math.round(recordsPerS),
      baseline_records_per_s: Math.round(baselinePerS),
      ratio: Number(median(ratios).toFixed(3)),
      ratio_min: Number((ratios[0] as number).toFixed(3)),
      ratio_max: Number((ratios.at(-1) as number).toFixed(3)),
      goal_ratio: 0.8,
    };
  } finally {
    await cleanup();
  }
}
