// The trainer service on the real stack: it scores live forecasts against the realised candles
// beside persistence (Prometheus gauges), retrains early when the model's live pinball loss
// degrades past the threshold, on its schedule, and when the champion has expired; each retrain
// reads the features topic over a window that ends at the latest event time seen, trains for real
// (tiny settings here), and goes through the champion/challenger rule (champion and baselines).
//
// Data: real hourly features of 2024-01 .. 02 with their event times moved 105 weeks later (to
// 2026-01 .. 03, same hour of day and weekday). That puts the live window past 2025-01-01, where
// research runs may not fit, without computing anything on real 2025+ data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { createProducer } from '../../core/kafka/producer.js';
import { loadConfig } from '../../core/config.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../../core/runtime.js';
import { loadCandlesFromFile } from '../../core/data/load.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import { createTrainerService } from '../../trainer/service.js';
import { readMeta, readRegistry, recordPromotion } from '../../core/models/registry.js';
import { FINAL_WINDOW_START } from '../../core/models/domain/dataset.js';
import type { Service } from '../../core/service.js';
import type { FeatureVector } from '../../schemas/types.js';
import { distributionPrediction } from '../helpers/predictions.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SHIFT = 105 * 7 * DAY;

describe.skipIf(!hasSharedData(HOURLY_MERGED))('trainer service: live monitor and retraining', () => {
  let tp: TestPlatform;
  let store: string;
  let features: FeatureVector[] = [];
  const running: Service[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('trainer');
    store = mkdtempSync(join(tmpdir(), 'bp-trainer-'));
    const candles = await loadCandlesFromFile(DATA_DIR, HOURLY_MERGED, 'BTCUSDT', '1h', { from: Date.UTC(2024, 0, 1), to: Date.UTC(2024, 2, 1) });
    features = featuresFromCandles(candles, [], { windowMs: 4 * HOUR }).map((f) => ({ ...f, eventTime: f.eventTime + SHIFT }));
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

  async function start(name: string, over: Record<string, string>, now?: () => number) {
    const config = loadConfig(
      {},
      {
        BITPREDICT_TOPIC_PREFIX: tp.prefix,
        // Children run on the driver under test.
        BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
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
    const s = await createTrainerService({ platform, config, redis: tp.redis, onFatal: () => undefined, T: 8, units: 4, now });
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
    // The counter moves when the retrain returns, after the registry write (and the announcement of a promoted model).
    await waitFor(
      async () => (await get('bitpredict_trainer_retrains_total')).some((v) => v.labels.reason === 'degraded' && v.value >= 1),
      'the retrain counter (degraded)',
    );
    const reg = await readRegistry(store, 'lstm-attention');
    // The retrained artifact records the features topic ranges it was trained on.
    const lineage = (await readMeta(store, 'lstm-attention', reg.events[0]!.version)).lineage;
    expect(lineage?.commit).toMatch(/^([0-9a-f]{7,}(-dirty)?|unknown)$/);
    expect(lineage?.sources).toHaveLength(1);
    const source = lineage!.sources[0]!;
    expect(source.kind === 'topic' && source.topic).toBe(tp.topic('features'));
    expect(source.kind === 'topic' && source.partitions.reduce((n, p) => n + p.rows, 0)).toBeGreaterThan(100);
    // The decision names the challenger's pinball loss beside every baseline's, on the same target times.
    expect(reg.events[0]?.reason).toMatch(/validation pinball loss .* best baseline/);
    for (const b of ['persistence', 'ewma', 'har-rv', 'garch']) expect(reg.events[0]?.reason).toContain(`${b} `);
    expect(reg.events[0]?.reason).toMatch(/on \d+ validation target times, horizons 1,4,24/);
    // Readiness names the champion, or says loudly that the baselines serve.
    const expected = (await readRegistry(store, 'lstm-attention')).champion ?? 'none: the baselines serve';
    await waitFor(() => s.readiness().checks?.champion === expected, `readiness to name "${expected}"`);
    await s.stop();
  }, 180_000);

  it('retrains on its schedule when nothing degrades', async () => {
    const before = (await readRegistry(store, 'lstm-attention')).events.length;
    const { s, registry } = await start('trainer-schedule', { BITPREDICT_RETRAIN_INTERVAL_MS: '500', BITPREDICT_RETRAIN_DEGRADE_THRESHOLD: '1000' });
    await waitFor(async () => (await readRegistry(store, 'lstm-attention')).events.length > before, 'a scheduled retrain', 120_000);
    const retrains = async () => (await registry.getSingleMetric('bitpredict_trainer_retrains_total')?.get())?.values ?? [];
    await waitFor(async () => (await retrains()).some((v) => v.labels.reason === 'schedule' && v.value >= 1), 'the retrain counter (schedule)');
    await s.stop();
  }, 180_000);

  it('retrains on the window that ends at the latest event time, past the research final window', async () => {
    const last = features[features.length - 1]!.eventTime;
    expect(last).toBeGreaterThan(FINAL_WINDOW_START);
    const metas = async () => Promise.all((await readRegistry(store, 'lstm-attention')).events.map((e) => readMeta(store, 'lstm-attention', e.version)));
    // A scheduled retrain that started while the consumer was still reading ends earlier; the next one sees everything.
    const { s } = await start('trainer-window', { BITPREDICT_RETRAIN_INTERVAL_MS: '500', BITPREDICT_RETRAIN_DEGRADE_THRESHOLD: '1000' });
    await waitFor(
      async () => (await metas()).some((m) => m.hyperparameters.valTo === new Date(last).toISOString()),
      'a retrain ending at the latest event time',
      150_000,
    );
    for (const m of await metas()) {
      const valTo = Date.parse(String(m.hyperparameters.valTo));
      expect(valTo).toBeLessThanOrEqual(last);
      expect(valTo - m.trainedTo).toBe(5 * DAY);
      expect(m.trainedTo - m.trainedFrom).toBe(40 * DAY);
    }
    await s.stop();
  }, 180_000);

  it('retrains at once when the champion has expired, and says the baselines serve', async () => {
    const reg = await readRegistry(store, 'lstm-attention');
    const version = reg.events[reg.events.length - 1]!.version;
    await recordPromotion(store, 'lstm-attention', version, 'promoted by the test');
    // 31 days later by the service's clock, the 30-day expiry has passed.
    const { s, registry } = await start(
      'trainer-expired',
      { BITPREDICT_RETRAIN_INTERVAL_MS: '0', BITPREDICT_RETRAIN_DEGRADE_THRESHOLD: '1000', BITPREDICT_RETRAIN_COOLDOWN_MS: '3600000' },
      () => Date.now() + 31 * DAY,
    );
    expect(s.readiness().checks?.champion).toMatch(new RegExp(`^expired ${version} .*the baselines serve`));
    const get = async () => (await registry.getSingleMetric('bitpredict_trainer_retrains_total')?.get())?.values ?? [];
    await waitFor(
      async () => (await get()).some((v) => v.labels.reason === 'expired' && v.labels.outcome !== 'no-data'),
      'an expiry-triggered retrain',
      150_000,
    );
    // Once per cooldown: one retrain for the expiry, not one per check.
    expect((await get()).filter((v) => v.labels.reason === 'expired').reduce((a, v) => a + v.value, 0)).toBe(1);
  }, 180_000);
});
