// The trainer service on the real stack: it scores live forecasts against the realised candles
// beside persistence (Prometheus gauges), retrains early when the model's live pinball loss
// degrades past the threshold, and retrains on its schedule; each retrain reads the features topic, trains
// for real (tiny settings here), and goes through the champion/challenger rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { createProducer } from '../../core/kafka/producer.js';
import { loadConfig } from '../../core/config.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../../core/runtime.js';
import { loadCandlesFromFile } from '../../core/data/load.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import { createTrainerService } from '../../trainer/service.js';
import { readMeta, readRegistry } from '../../core/models/registry.js';
import type { Service } from '../../core/service.js';
import type { FeatureVector } from '../../schemas/types.js';
import { distributionPrediction } from '../helpers/predictions.js';

const HOUR = 3_600_000;

describe('trainer service: live monitor and retraining', () => {
  let tp: TestPlatform;
  let store: string;
  let features: FeatureVector[] = [];
  const running: Service[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('trainer');
    store = mkdtempSync(join(tmpdir(), 'bp-trainer-'));
    const candles = await loadCandlesFromFile(DATA_DIR, HOURLY_MERGED, 'BTCUSDT', '1h', { from: Date.UTC(2024, 0, 1), to: Date.UTC(2024, 2, 1) });
    features = featuresFromCandles(candles, [], { windowMs: 4 * HOUR });
    const producer = await createProducer(tp.platform.kafka);
    const topic = tp.topic('features');
    for (let i = 0; i < features.length; i += 200) {
      await producer.send(
        features.slice(i, i + 200).map((f) => ({ topic, key: 'BTCUSDT:1h', value: tp.platform.serde.encode('features', f), timestamp: f.eventTime })),
      );
    }
    // A badly wrong "model": it always forecasts +3 % for the next hour, beside persistence.
    const preds = features
      .slice(-300)
      .flatMap((f) => [
        distributionPrediction(f, { modelName: 'lstm-attention', modelVersion: 'bad', isBaseline: false, mean: () => 0.03, scale: () => 0.005 }, [1], HOUR),
        distributionPrediction(f, { modelName: 'persistence', modelVersion: 'b', isBaseline: true, mean: () => 0, scale: () => 0.005 }, [1], HOUR),
      ]);
    await producer.send(
      preds.map((p) => ({ topic: tp.topic('predictions'), key: 'BTCUSDT:1h', value: tp.platform.serde.encode('predictions', p), timestamp: p.eventTime })),
    );
    await producer.close();
  });

  afterAll(async () => {
    for (const s of running) await s.stop();
    rmSync(store, { recursive: true, force: true });
    await tp?.cleanup();
  });

  async function start(name: string, over: Record<string, string>) {
    const config = loadConfig(
      {},
      {
        BITPREDICT_TOPIC_PREFIX: tp.prefix,
        BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
        BITPREDICT_KAFKA_CLIENT_ID: name,
        BITPREDICT_DATA_DIR: DATA_DIR,
        BITPREDICT_LOG_LEVEL: 'error',
        BITPREDICT_MODEL_STORE_DIR: store,
        BITPREDICT_RETRAIN_CHECK_MS: '200',
        BITPREDICT_RETRAIN_TRAIN_DAYS: '40',
        BITPREDICT_RETRAIN_VAL_DAYS: '5',
        BITPREDICT_RETRAIN_EPOCHS: '1',
        BITPREDICT_RETRAIN_COOLDOWN_MS: '0',
        BITPREDICT_RETRAIN_MIN_SAMPLES: '50',
        ...over,
      },
    );
    const registry = createMetricsRegistry({ service: name, defaultMetrics: false });
    const platform = createPlatform({ config, logger: tp.logger, registry, clientId: name });
    await prepareTopicsAndSchemas(platform, config.kafka);
    const s = await createTrainerService({ platform, config, redis: tp.redis, onFatal: () => undefined, T: 8, units: 4 });
    await s.start();
    running.push(s);
    return { s, registry };
  }

  it('scores live forecasts beside persistence and retrains when the model degrades', async () => {
    const { s, registry } = await start('trainer-degraded', { BITPREDICT_RETRAIN_INTERVAL_MS: '0', BITPREDICT_RETRAIN_DEGRADE_THRESHOLD: '0.05' });
    await waitFor(async () => (await readRegistry(store, 'lstm-attention')).events.length >= 1, 'a degradation-triggered retrain', 120_000);
    const get = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? [];
    const model = (v: { labels: Partial<Record<string, string | number>> }) =>
      v.labels.model === 'lstm-attention' && v.labels.window === '7d' && v.labels.horizon === '1';
    await waitFor(async () => (await get('bitpredict_monitor_samples')).some((v) => model(v) && v.value >= 50), 'the live scores gauges');
    const skill = (await get('bitpredict_monitor_skill_vs_persistence')).find(model)?.value ?? 0;
    expect(skill).toBeLessThan(-0.05);
    const retrains = await get('bitpredict_trainer_retrains_total');
    expect(retrains.some((v) => v.labels.reason === 'degraded' && v.value >= 1)).toBe(true);
    const reg = await readRegistry(store, 'lstm-attention');
    // The retrained artifact records the features topic ranges it was trained on.
    const lineage = (await readMeta(store, 'lstm-attention', reg.events[0]!.version)).lineage;
    expect(lineage?.commit).toMatch(/^([0-9a-f]{7,}(-dirty)?|unknown)$/);
    expect(lineage?.sources).toHaveLength(1);
    const source = lineage!.sources[0]!;
    expect(source.kind === 'topic' && source.topic).toBe(tp.topic('features'));
    expect(source.kind === 'topic' && source.partitions.reduce((n, p) => n + p.rows, 0)).toBeGreaterThan(100);
    expect(reg.events[0]?.reason).toMatch(/validation pinball loss/);
    await s.stop();
  }, 180_000);

  it('retrains on its schedule when nothing degrades', async () => {
    const before = (await readRegistry(store, 'lstm-attention')).events.length;
    const { registry } = await start('trainer-schedule', { BITPREDICT_RETRAIN_INTERVAL_MS: '500', BITPREDICT_RETRAIN_DEGRADE_THRESHOLD: '1000' });
    await waitFor(async () => (await readRegistry(store, 'lstm-attention')).events.length > before, 'a scheduled retrain', 120_000);
    const retrains = (await registry.getSingleMetric('bitpredict_trainer_retrains_total')?.get())?.values ?? [];
    expect(retrains.some((v) => v.labels.reason === 'schedule' && v.value >= 1)).toBe(true);
  }, 180_000);
});
