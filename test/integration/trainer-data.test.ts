// Trainer data on the real stack: features read back from the features topic over a time range
// (offsets by timestamp) equal the research features computed in memory from the same real
// candles and texts, on every field except the wall-clock/stream-timing ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { stable } from '../helpers/features.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { runReplay } from '../../producers/replay/service.js';
import { isBitPredictError } from '../../core/errors.js';
import type { Service } from '../../core/service.js';
import type { FeatureVector, ScoredText } from '../../schemas/types.js';
import { loadCandlesFromFile } from '../../core/data/load.js';
import { readFeaturesFromTopic, readFeaturesWithSource } from '../../trainer/data.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import { scoredText as scored } from '../helpers/features.js';

const HOUR = 3_600_000;
const W = 2 * HOUR;
// 300 hours from 2018-02-01 include the real outage 2018-02-08 00:00 .. 2018-02-09 09:00.
const FROM = Date.UTC(2018, 1, 1);
const COUNT = 300;

describe.skipIf(!hasSharedData(HOURLY_MERGED))('trainer data: features topic over a time range = research features', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let processor: Service | null = null;
  const fatal: unknown[] = [];
  const texts: ScoredText[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('trainer-data', { BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS: String(W) });
    producer = await createProducer(tp.platform.kafka);
    const t = (h: number): number => FROM + h * HOUR;
    texts.push(
      scored('a', t(60), 0.6),
      scored('b', t(60) + 1, -0.4),
      scored('c', t(61) - 30 * 60_000, 0.2, { positive: 0.7, negative: 0.1 }),
      scored('d', t(120) - 1, -0.8),
      scored('e', t(121), 0.5),
    );
    await producer.send(
      texts.map((x) => ({ topic: tp.topic('textScored'), key: x.id, value: tp.platform.serde.encode('textScored', x), timestamp: x.publishedAt })),
    );
    const s = await runReplay({
      platform: tp.platform,
      config: tp.config,
      producer,
      file: HOURLY_MERGED,
      symbol: 'BTCUSDT',
      interval: '1h',
      rate: 0,
      from: FROM,
      limit: COUNT,
    });
    expect(s.published).toBe(COUNT);
    expect(s.gaps).toBeGreaterThanOrEqual(1);
    processor = await createFeatureProcessor({
      platform: tp.platform,
      config: tp.config,
      redis: tp.redis,
      groupId: 'trainer-data-it',
      onFatal: (e) => fatal.push(e),
    });
    await processor.start();
    await waitFor(async () => (await tp.readAll('features')).length >= COUNT, `${COUNT} feature vectors`, 90_000);
  });

  afterAll(async () => {
    await processor?.stop();
    await producer?.close();
    await tp?.cleanup();
  });

  it('reads exactly the series range and matches featuresFromCandles on the same candles', async () => {
    const candles = await loadCandlesFromFile(DATA_DIR, HOURLY_MERGED, 'BTCUSDT', '1h', { from: FROM, limit: COUNT });
    expect(candles).toHaveLength(COUNT);
    const expected = featuresFromCandles(candles, texts, { windowMs: W });
    const lo = (expected[50] as FeatureVector).eventTime;
    const hi = (expected[250] as FeatureVector).eventTime;
    const got = await readFeaturesFromTopic(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: lo, to: hi });
    const want = expected.filter((f) => f.eventTime >= lo && f.eventTime < hi);
    expect(want).toHaveLength(200);
    expect(got.map((f) => f.eventTime)).toEqual(want.map((f) => f.eventTime));
    expect(got.map(stable)).toEqual(want.map(stable));
    // The range holds the real gap and the texts.
    expect(got.some((f) => f.gapBefore)).toBe(true);
    expect(got.find((f) => f.eventTime === FROM + 61 * HOUR)).toMatchObject({ textCount: 3, finbertCount: 1 });
    expect(got.find((f) => f.eventTime === FROM + 121 * HOUR)?.textCount).toBe(2);
    expect(fatal).toEqual([]);

    // Its lineage: per partition, the first and last offset and the event times of the records
    // returned, as a plain read of the topic finds them.
    const { series, source } = await readFeaturesWithSource(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: lo, to: hi });
    expect(series).toEqual(got);
    const records = (await tp.readAll('features')).filter((r) => r.value !== null && r.value.eventTime >= lo && r.value.eventTime < hi);
    expect(records).toHaveLength(200);
    const partitions = [...new Set(records.map((r) => r.partition))].sort((a, b) => a - b);
    expect(source).toEqual({
      kind: 'topic',
      role: 'features',
      topic: tp.topic('features'),
      partitions: partitions.map((p) => {
        const mine = records.filter((r) => r.partition === p);
        const offsets = mine.map((r) => BigInt(r.offset)).sort((a, b) => (a < b ? -1 : 1));
        const times = mine.map((r) => r.value!.eventTime);
        return {
          partition: p,
          firstOffset: offsets[0]!.toString(),
          lastOffset: offsets[offsets.length - 1]!.toString(),
          rows: mine.length,
          firstTime: Math.min(...times),
          lastTime: Math.max(...times),
        };
      }),
    });
    expect(source.partitions.reduce((n, p) => n + p.rows, 0)).toBe(200);
    expect(source.partitions[0]).toMatchObject({ firstTime: lo, lastTime: hi - HOUR });
  });

  it('keeps one series, the last vector per eventTime, and refuses a bad range', async () => {
    const all = await readFeaturesFromTopic(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: FROM, to: FROM + 1000 * HOUR });
    expect(all).toHaveLength(COUNT);
    const target = all[100] as FeatureVector;
    // A recomputed vector for the same eventTime, and a vector of another series in the range.
    const replaced: FeatureVector = { ...target, rsi14: 12.5, computedAt: target.computedAt + 1 };
    const other: FeatureVector = { ...target, symbol: 'ETHUSDT', close: 1 };
    await producer.send([
      { topic: tp.topic('features'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('features', replaced), timestamp: replaced.eventTime },
      { topic: tp.topic('features'), key: 'ETHUSDT:1h', value: tp.platform.serde.encode('features', other), timestamp: other.eventTime },
    ]);
    const again = await readFeaturesFromTopic(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: target.eventTime, to: target.eventTime + 1 });
    expect(again).toEqual([replaced]);
    // The replaced vector's lineage is the later record, the last of its partition.
    const latest = (await tp.readAll('features')).filter((r) => r.key === 'BTCUSDT:1h').at(-1)!;
    const { source } = await readFeaturesWithSource(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: target.eventTime, to: target.eventTime + 1 });
    expect(source.partitions).toEqual([
      { partition: latest.partition, firstOffset: latest.offset, lastOffset: latest.offset, rows: 1, firstTime: target.eventTime, lastTime: target.eventTime },
    ]);
    const eth = await readFeaturesFromTopic(tp.platform, { symbol: 'ETHUSDT', interval: '1h', from: FROM, to: FROM + 1000 * HOUR });
    expect(eth).toEqual([other]);
    expect(await readFeaturesFromTopic(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: Date.UTC(2030, 0, 1), to: Date.UTC(2030, 0, 2) })).toEqual([]);
    const nothing = await readFeaturesWithSource(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: Date.UTC(2030, 0, 1), to: Date.UTC(2030, 0, 2) });
    expect(nothing.source.partitions).toEqual([]);
    let err: unknown = null;
    try {
      await readFeaturesFromTopic(tp.platform, { symbol: 'BTCUSDT', interval: '1h', from: 10, to: 5 });
    } catch (e) {
      err = e;
    }
    expect(isBitPredictError(err) && err.code === 'ERR_VALIDATION').toBe(true);
  });
});
