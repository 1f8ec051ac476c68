// The feature processor's text index is bounded whatever text.scored holds: a start reads the topic
// from the time its candles need (offsets by time), not from the beginning; texts behind every
// window still to come are evicted; and every vector stays exactly what the unbounded join gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { compareWithReference, featureKey, referenceIndicators, scoredText as scored } from '../helpers/features.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { runReplay } from '../../producers/replay/service.js';
import type { Service } from '../../core/service.js';
import type { Candle, ScoredText } from '../../schemas/types.js';

const HOUR = 3_600_000;
const W = 2 * HOUR;
const MARGIN = HOUR;
const FROM = Date.UTC(2022, 2, 1);
const CAP = 500;

describe.skipIf(!hasSharedData(HOURLY_MERGED))('feature processor: the text index is bounded and restored by time', () => {
  let tp: TestPlatform;
  let producer: Producer;
  const running: Service[] = [];
  const fatal: unknown[] = [];
  const texts: ScoredText[] = [];
  const groupId = 'features-bound-it';

  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = await tp.platform.registry.getSingleMetric(name)?.get();
    return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x)).reduce((s, v) => s + v.value, 0);
  }

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

  /** Every vector equals the reference: the indicators, and the sentiment of ALL texts in (t - W, t]. */
  async function check(expectedCount: number): Promise<void> {
    await waitFor(async () => (await tp.readAll('features')).length >= expectedCount, `${expectedCount} feature vectors`, 60_000);
    const candles = (await tp.readAll('candles')).map((r) => r.value as Candle);
    const features = await tp.readAll('features');
    expect(features).toHaveLength(expectedCount);
    const ref = referenceIndicators(candles);
    for (const f of features) {
      const v = f.value;
      if (!v) throw new Error('undecodable feature');
      const r = ref.get(featureKey(v));
      expect(r).toBeDefined();
      if (r) expect(compareWithReference(v, r, texts, W), featureKey(v)).toEqual([]);
    }
    // The windows are not empty: the check compares real sentiment.
    expect(features.filter((f) => (f.value?.textCount ?? 0) > 0).length).toBeGreaterThan(expectedCount / 2);
  }

  beforeAll(async () => {
    tp = await createTestPlatform('features-bound', {
      BITPREDICT_PROCESSING_GUARANTEE: 'exactly-once',
      BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS: String(W),
      BITPREDICT_FEATURES_TEXT_RETAIN_MARGIN_MS: String(MARGIN),
      BITPREDICT_FEATURES_TEXT_INDEX_MAX: String(CAP),
      BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS: '0',
    });
    producer = await createProducer(tp.platform.kafka);
    // Sixty days of texts before the candles and a day and a half over them, one every 7 minutes: about
    // 13,000, far more than the cap, of which a window of 2 h holds about 17.
    for (let at = FROM - 60 * 24 * HOUR, i = 0; at < FROM + 36 * HOUR; at += 7 * 60_000, i++) {
      texts.push(scored(`x${i}`, at + (i % 5) * 1000, Math.round(Math.sin(i) * 1e4) / 1e4, i % 3 === 0 ? { positive: 0.6, negative: 0.2 } : null));
    }
    const topic = tp.topic('textScored');
    for (let i = 0; i < texts.length; i += 2000) {
      await producer.send(
        texts.slice(i, i + 2000).map((x) => ({ topic, key: x.id, value: tp.platform.serde.encode('textScored', x), timestamp: x.publishedAt })),
      );
    }
    expect(texts.length).toBeGreaterThan(20 * CAP);
  });

  afterAll(async () => {
    await stopAll();
    await producer?.close();
    await tp?.cleanup();
  });

  it('a first start reads text.scored from its first candle minus W minus the margin, never all of it, and every vector is exact', async () => {
    await replay(24);
    await startProcessor();
    await check(24);
    const firstClose = FROM + HOUR;
    const needed = texts.filter((x) => x.publishedAt > firstClose - W - MARGIN).length;
    // Read: exactly the texts from the restore time on (the topic is in publication order here).
    expect(await metric('bitpredict_features_texts_total', { outcome: 'added' })).toBe(needed);
    expect(needed).toBeLessThan(texts.length / 10);
    // Held: at most the cap, and after the candles no more than their windows plus the margin need.
    const size = await metric('bitpredict_features_text_index_size');
    expect(size).toBeLessThanOrEqual(CAP);
    expect(size).toBe(texts.filter((x) => x.publishedAt > FROM + 24 * HOUR - W - MARGIN).length);
    expect(await metric('bitpredict_features_text_index_evicted_total', { reason: 'time' })).toBeGreaterThan(0);
    expect(await metric('bitpredict_features_text_index_evicted_total', { reason: 'cap' })).toBe(0);
    expect(fatal).toEqual([]);
  });

  it('a restart reads from its committed candle position minus W minus the margin, and continues exactly', async () => {
    await stopAll();
    const before = await metric('bitpredict_features_texts_total', { outcome: 'added' });
    await replay(48);
    await startProcessor();
    await check(48);
    // The next candle to process closes at FROM + 25 h.
    const needed = texts.filter((x) => x.publishedAt > FROM + 25 * HOUR - W - MARGIN).length;
    expect((await metric('bitpredict_features_texts_total', { outcome: 'added' })) - before).toBe(needed);
    expect(fatal).toEqual([]);
  });
});
