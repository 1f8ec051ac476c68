// Predictor: features -> predictions (Kafka) + latest prediction per symbol (Redis, the gateway's
// snapshot). The champion LSTM (announced on the models topic, see model-server.ts) predicts when it
// is loaded, not expired, and the series has a complete window of its last T feature vectors; every
// other record gets the clearly labelled EMA-drift baseline (isBaseline=true), which absorbs every
// record so that it is always ready to take over. Per-series windows are rebuilt from the Redis
// feature history on the first vector of a series after start, so the first prediction after a
// restart equals the one an uninterrupted predictor would have made.
import type { Redis } from '../../core/redis.js';
import { redisKeys } from '../../core/redis.js';
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { counter, histogram } from '../../core/metrics.js';
import type { RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import { topicName } from '../../schemas/index.js';
import { readFeaturesAsOf } from '../../core/feature-store.js';
import type { FeatureVector, Prediction } from '../../schemas/types.js';
import { lastWindow } from '../domain/dataset.js';
import { createEmaDriftBaseline, type PredictionModel } from './domain/baseline.js';
import { createModelFollower, createModelServer, type ModelServer } from './model-server.js';

/** Vectors kept per series when no champion needs more (a later champion with a larger T fills up). */
export const MIN_WINDOW_KEEP = 48;

export interface PredictorOptions {
  platform: Platform;
  redis: Redis;
  groupId?: string;
  model?: PredictionModel;
  onFatal(err: BitPredictError): void;
  now?: () => number;
  /** Follow the models topic and serve its champion (default true). False: baseline only. */
  followModels?: boolean;
}

export function createPredictorHandler(deps: { platform: Platform; redis: Redis; model: PredictionModel; now: () => number; server?: ModelServer }): RecordHandler {
  const { platform, redis, model, now, server } = deps;
  const { serde, config, registry } = platform;
  const keys = redisKeys(config.redis.keyPrefix);
  const predictionsTopic = topicName('predictions', config.kafka.topicPrefix);
  const made = counter(registry, 'bitpredict_predictor_predictions_total', 'Predictions produced', ['model']);
  const lag = histogram(registry, 'bitpredict_predictor_pipeline_seconds', 'Candle ingestion to prediction, wall clock', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30]);
  const fallbacks = counter(registry, 'bitpredict_predictor_baseline_fallbacks_total', 'Records the baseline predicted although a champion is loaded', ['reason']);
  const lastEventTime = new Map<string, number>();
  const windows = new Map<string, FeatureVector[]>();

  /** The series' last vectors ending at f; rebuilt from Redis on the series' first vector. */
  async function windowOf(series: string, f: FeatureVector, keep: number): Promise<FeatureVector[]> {
    let w = windows.get(series);
    if (w === undefined) {
      w = keep > 1 ? await readFeaturesAsOf(redis, serde, config.redis.keyPrefix, f.symbol, f.interval, f.eventTime - 1, keep - 1) : [];
      windows.set(series, w);
    }
    w.push(f);
    if (w.length > keep) w.splice(0, w.length - keep);
    return w;
  }

  function fromChampion(f: FeatureVector, base: Prediction, w: FeatureVector[]): Prediction {
    const m = server?.current() ?? null; // read once: this record is predicted by one model
    if (m === null) return base;
    if (server?.isExpired(m, now())) {
      fallbacks.inc({ reason: 'expired' });
      return base;
    }
    if (f.featureSetVersion !== m.featureSetVersion) {
      fallbacks.inc({ reason: 'feature-set' });
      return base;
    }
    let x: Float32Array | null;
    try {
      x = lastWindow(w, m.T, m.normalizer);
    } catch {
      x = null; // history from Redis that does not form a clean series: baseline for this record
    }
    if (x === null) {
      fallbacks.inc({ reason: 'window' });
      return base;
    }
    const r = m.fast.predictOne(x);
    if (!Number.isFinite(r.ret) || !Number.isFinite(r.probUp)) {
      fallbacks.inc({ reason: 'non-finite' });
      return base;
    }
    return { ...base, predictedLogReturn: r.ret, predictedPrice: f.close * Math.exp(r.ret), probUp: r.probUp, modelName: m.name, modelVersion: m.version, isBaseline: false };
  }

  return async (rec) => {
    const f = await serde.decode('features', rec.value);
    if (!(f.close > 0) || !Number.isFinite(f.close)) throw new BitPredictError('ERR_VALIDATION', `feature close ${f.close} is not a positive price`);
    if (f.eventTime > now() + config.consumer.futureToleranceMs) throw new BitPredictError('ERR_VALIDATION', `feature eventTime ${new Date(f.eventTime).toISOString()} is in the future`);
    const series = `${f.symbol}:${f.interval}`;
    const last = lastEventTime.get(series);
    if (last !== undefined && f.eventTime <= last) {
      // A redelivered or stale feature: the model's state has already moved past it.
      if (f.eventTime === last) return [];
      throw new BitPredictError('ERR_VALIDATION', `out of order: feature at ${new Date(f.eventTime).toISOString()} after ${new Date(last).toISOString()}`);
    }
    lastEventTime.set(series, f.eventTime);
    const base = model.predict(f, now());
    const w = await windowOf(series, f, Math.max(MIN_WINDOW_KEEP, server?.current()?.T ?? 0));
    const p = fromChampion(f, base, w);
    const value = serde.encode('predictions', p);
    await redis.set(keys.predictionsLatest(p.symbol), JSON.stringify(p));
    made.inc({ model: p.modelName });
    lag.observe((p.predictedAt - p.candleIngestedAt) / 1000);
    return [{ topic: predictionsTopic, key: series, value, timestamp: p.eventTime }];
  };
}

export async function createPredictor(opts: PredictorOptions): Promise<Service> {
  const { platform, redis } = opts;
  const { config, logger } = platform;
  const model = opts.model ?? createEmaDriftBaseline();
  const now = opts.now ?? Date.now;
  logger.info({ model: model.name, version: model.version, baseline: model.isBaseline }, 'predictor baseline model');
  const follow = opts.followModels ?? true;
  const log = logger.child({ service: 'predictor' });
  const server = follow ? createModelServer({ registry: platform.registry, logger: log, now }) : undefined;
  const follower = server ? createModelFollower({ platform, server, logger: log }) : undefined;
  const processor = await createProcessor({
    platform,
    name: 'predictor',
    groupId: opts.groupId ?? `${config.kafka.clientId}-predictor`,
    input: 'features',
    handler: createPredictorHandler({ platform, redis, model, now, ...(server ? { server } : {}) }),
    flushEvery: 200,
    onFatal: opts.onFatal,
    checks: () => {
      const champion = server?.status(now()) ?? null;
      const refused = server?.lastRefusal ?? null;
      return { model: champion ?? `${model.name}@${model.version}`, ...(refused !== null ? { modelRefused: refused } : {}) };
    },
  });
  let stopped = false;
  return {
    name: processor.name,
    async start() {
      // The champion first, so that the first predictions after a start already use it.
      await follower?.start();
      await processor.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await processor.stop();
      await follower?.stop();
    },
    readiness: () => processor.readiness(),
  };
}
