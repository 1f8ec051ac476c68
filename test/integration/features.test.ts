// The feature processor on the real stack: indicators joined with point-in-time sentiment, no
// look-ahead, the Redis feature store, and state that survives restarts (from a Redis snapshot,
// and with the snapshot gone, by re-reading the topic) so that every vector equals the vector of
// an uninterrupted run and none is produced twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { compareWithReference, featureKey, referenceIndicators, scoredText as scored } from '../helpers/features.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { runReplay } from '../../producers/replay/service.js';
import { readFeaturesAsOf, readLatestFeature } from '../../core/feature-store.js';
import { snapshotKey } from '../../core/kafka/partition-state.js';
import type { Service } from '../../core/service.js';
import type { Candle, ScoredText } from '../../schemas/types.js';

const HOUR = 3_600_000;
const W = 2 * HOUR;
const FROM = Date.UTC(2022, 2, 1);

describe.skipIf(!hasSharedData(HOURLY_MERGED))('feature processor: indicators + point-in-time sentiment, restartable', () => {
  let tp: TestPlatform;
  let producer: Producer;
  const running: Service[] = [];
  const fatal: unknown[] = [];
  const texts: ScoredText[] = [];
  const groupId = 'features-it';

  async function startProcessor(): Promise<Service> {
    const p = await createFeatureProcessor({ platform: tp.platform, config: tp.config, redis: tp.redis, groupId, onFatal: (e) => fatal.push(e) });
    await p.start();
    running.push(p);
    await waitFor(() => p.readiness().ready, 'the feature processor to be ready');
    return p;
  }

  async function stopAll(): Promise<void> {
    while (running.length > 0) await running.pop()?.stop();
  }

  async function replay(limit: number): Promise<void> {
    const s = await runReplay({
      platform: tp.platform,
      config: tp.config,
      producer,
      file: HOURLY_MERGED,
      symbol: 'BTCUSDT',
      interval: '1h',
      rate: 0,
      from: FROM,
      limit,
      resume: true,
    });
    expect(s.deadLettered).toBe(0);
  }

  async function check(expectedCount: number): Promise<void> {
    await waitFor(async () => (await tp.readAll('features')).length >= expectedCount, `${expectedCount} feature vectors`, 60_000);
    const candles = (await tp.readAll('candles')).map((r) => r.value as Candle);
    const features = await tp.readAll('features');
    expect(features).toHaveLength(expectedCount);
    const ref = referenceIndicators(candles);
    expect(ref.size).toBe(expectedCount);
    const seen = new Set<string>();
    const firstWins = new Map<string, ScoredText>();
    for (const t of texts) if (!firstWins.has(t.id)) firstWins.set(t.id, t);
    const uniqueTexts = [...firstWins.values()];
    for (const f of features) {
      const v = f.value;
      expect(v).not.toBeNull();
      if (!v) continue;
      const k = featureKey(v);
      expect(seen.has(k), `duplicate feature ${k}`).toBe(false);
      seen.add(k);
      expect(f.key).toBe('BTCUSDT:1h');
      expect(f.timestamp).toBe(v.eventTime);
      const r = ref.get(k);
      expect(r, `unexpected feature ${k}`).toBeDefined();
      if (r) expect(compareWithReference(v, r, uniqueTexts, W), k).toEqual([]);
    }
  }

  beforeAll(async () => {
    tp = await createTestPlatform('features', {
      BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once',
      BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS: String(W),
      BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS: '0',
      BITPREDICT_FEATURES_HISTORY_MAX: '40',
    });
    producer = await createProducer(tp.platform.kafka);
    // Texts around the first candles' close times (t_k = FROM + (k + 1) h): at exactly t_k (counts
    // for t_k), at t_k + 1 ms (must not count for t_k), at t_k - W (must not count for t_k), with
    // FinBERT scores, a duplicate id with other scores (first wins), a text dated 2030 (never in
    // any window here), and bytes that are not a scored text at all.
    const t = (k: number): number => FROM + (k + 1) * HOUR;
    texts.push(
      scored('at-t3', t(3), 0.6),
      scored('after-t3', t(3) + 1, -0.9),
      scored('at-t5-minus-W', t(5) - W, 0.3),
      scored('in-t5', t(5) - 30 * 60_000, -0.2, { positive: 0.1, negative: 0.7 }),
      scored('in-t5b', t(5) - 10 * 60_000, 0.8, { positive: 0.9, negative: 0.05 }),
      scored('in-t5', t(5) - 5 * 60_000, 0.99),
      scored('far-future', Date.UTC(2030, 0, 1), 1),
      scored('t30', t(30) - 1, -0.5),
    );
    await producer.send([
      // Kafka 4 refuses record timestamps more than an hour ahead, so the 2030 text carries "now".
      ...texts.map((x) => ({
        topic: tp.topic('textScored'),
        key: x.id,
        value: tp.platform.serde.encode('textScored', x),
        timestamp: Math.min(x.publishedAt, Date.now()),
      })),
      { topic: tp.topic('textScored'), key: 'garbage', value: Buffer.from('not avro'), timestamp: FROM },
    ]);
  });

  afterAll(async () => {
    await stopAll();
    await producer?.close();
    await tp?.cleanup();
  });

  it('joins sentiment over (t - W, t] only and writes Redis latest + history', async () => {
    await replay(24);
    await startProcessor();
    await check(24);
    const features = (await tp.readAll('features')).map((r) => r.value);
    const at = (k: number) => features.find((f) => f?.eventTime === FROM + (k + 1) * HOUR);
    // t3: the two texts at exactly t3 (= t5 - W) count, the one 1 ms later does not.
    expect(at(3)).toMatchObject({ textCount: 2, vaderPosShare: 1, vaderNegShare: 0, finbertCount: 0, finbertMean: null });
    expect(at(3)?.vaderMean).toBeCloseTo(0.45, 12);
    // t4 = t3 + 1 h: the t3 + 1 ms text is inside (t4 - 2h, t4] now.
    expect(at(4)?.textCount).toBe(3);
    // t5: both texts at exactly t5 - W = t3 are outside; t3 + 1 ms is in; the duplicate id keeps
    // its first scores.
    expect(at(5)?.textCount).toBe(3);
    expect(at(5)?.vaderNegShare).toBeCloseTo(2 / 3, 12);
    expect(at(5)?.finbertCount).toBe(2);
    expect(at(5)?.finbertMean).toBeCloseTo((0.1 - 0.7 + (0.9 - 0.05)) / 2, 12);
    expect(at(5)?.sentimentWindowMs).toBe(W);
    // No look-ahead: (t18, t20] holds no test text, so the 2030 text (and the later candles, all
    // in the topic before the processor started) left the feature at t20 untouched.
    expect(at(20)).toMatchObject({ textCount: 0, vaderMean: null, vaderStd: null, finbertCount: 0, finbertMean: null });
    expect(features.every((f) => f?.featureSetVersion === 'fs-2')).toBe(true);
    expect(fatal).toEqual([]);

    const latest = await readLatestFeature(tp.redis, tp.config.redis.keyPrefix, 'BTCUSDT', '1h');
    expect(latest?.eventTime).toBe(FROM + 24 * HOUR);
    const asOf = await readFeaturesAsOf(tp.redis, tp.platform.serde, tp.config.redis.keyPrefix, 'BTCUSDT', '1h', FROM + 10 * HOUR + 1, 5);
    expect(asOf.map((f) => f.eventTime)).toEqual([6, 7, 8, 9, 10].map((h) => FROM + h * HOUR));
  });

  it('continues after a clean restart from the Redis snapshot with no duplicate and no difference', async () => {
    await stopAll();
    const partitions = await tp.admin.endOffsets(tp.topic('candles'));
    const used = partitions.find((p) => p.offset !== '0');
    expect(used).toBeDefined();
    const snapKey = snapshotKey(tp.config.redis.keyPrefix, groupId, tp.topic('candles'), used?.partition ?? 0);
    const snap = JSON.parse((await tp.redis.get(snapKey)) ?? 'null') as { nextOffset: string } | null;
    expect(snap?.nextOffset).toBe(used?.offset);
    await replay(48);
    await startProcessor();
    await check(48);
    // The history is bounded by BITPREDICT_FEATURES_HISTORY_MAX.
    expect(await tp.redis.zcard(`${tp.config.redis.keyPrefix}features:history:BTCUSDT:1h`)).toBe(40);
  });

  it('rebuilds the state by re-reading the topic when the snapshot is gone', async () => {
    await stopAll();
    const partitions = await tp.admin.endOffsets(tp.topic('candles'));
    const used = partitions.find((p) => p.offset !== '0');
    await tp.redis.del(snapshotKey(tp.config.redis.keyPrefix, groupId, tp.topic('candles'), used?.partition ?? 0));
    await replay(72);
    await startProcessor();
    await check(72);
    const m = await tp.platform.registry.getSingleMetric('bitpredict_state_restores_total')?.get();
    const how = new Map(m?.values.map((v) => [String(v.labels.how), v.value]));
    expect(how.get('replay')).toBeGreaterThanOrEqual(1);
    expect(how.get('snapshot')).toBeGreaterThanOrEqual(1);
    const features = (await tp.readAll('features')).map((r) => r.value);
    // t30's text (1 ms before t30) is inside the window: sentiment after the rebuild is right too.
    expect(features.find((f) => f?.eventTime === FROM + 31 * HOUR)?.textCount).toBe(1);
  });
});
