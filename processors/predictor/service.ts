// Predictor: features -> predictions (Kafka) + latest prediction per symbol (Redis, the gateway's
// snapshot) and a bounded prediction history per symbol (Redis, read by /v1/predictions). The
// champion LSTM (announced on the models topic, see model-server.ts) predicts when it is loaded,
// not expired, and the series has a complete window of its last T feature vectors; every other
// record gets the clearly labelled EMA-drift baseline (isBaseline=true), which absorbs every
// record so that it is always ready to take over. Per-series windows are rebuilt from the Redis
// feature history on the first vector of a series after start, so the first prediction after a
// restart equals the one an uninterrupted predictor would have made.
import type { Redis } from '../../core/redis.js';
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { counter, histogram } from '../../core/metrics.js';
import type { InRecord, RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import { readFeaturesAsOf } from '../../core/feature-store.js';
import type { FeatureVector } from '../../schemas/types.js';
import { createEmaDriftBaseline, type PredictionModel } from '../../core/models/domain/baseline.js';
import { createModelFollower, createModelServer, type ModelServer } from './model-server.js';
import { createPredictionStore } from './store.js';
import { createSeriesTracker } from './series.js';
import { championWindow, createChampionPredictions, type Prepared } from './champion.js';
import type { Config } from '../../core/config.js';

/** Vectors kept per series when no champion needs more (a later champion with a larger T fills up). */
export const MIN_WINDOW_KEEP = 48;

/** prepareBatch predicts ahead only for chunks of more than this many records (backlog, replay). */
export const BATCH_MIN_RECORDS = 4;

export interface PredictorHandler {
  handler: RecordHandler;
  /** The consumer runner's batch hook: predicts a chunk's champion windows ahead, in one pass. */
  prepareBatch(records: InRecord[]): Promise<void>;
  /** Predictions prepared for the current chunk, by partition:offset (exposed for tests). */
  readonly prepared: ReadonlyMap<string, unknown>;
}

/** The slice of the configuration the predictor reads. */
export type PredictorConfig = Pick<Config, 'consumer' | 'events' | 'models' | 'predictions' | 'redis'>;

export interface PredictorOptions {
  platform: Platform;
  config: PredictorConfig;
  redis: Redis;
  groupId?: string;
  model?: PredictionModel;
  onFatal(err: BitPredictError): void;
  now?: () => number;
  /** Follow the models topic and serve its champion (default true). False: baseline only. */
  followModels?: boolean;
}

export function createPredictorHandler(deps: {
  platform: Platform;
  config: Pick<Config, 'events' | 'predictions' | 'redis'>;
  redis: Redis;
  model: PredictionModel;
  now: () => number;
  server?: ModelServer;
}): PredictorHandler {
  const { platform, config, redis, model, now, server } = deps;
  const { serde, registry } = platform;
  const predictionsTopic = platform.kafka.topic('predictions');
  const made = counter(registry, 'bitpredict_predictor_predictions_total', 'Predictions produced', ['model']);
  const lag = histogram(
    registry,
    'bitpredict_predictor_pipeline_seconds',
    'Candle ingestion to prediction, wall clock',
    [],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
  );
  const store = createPredictionStore(redis, config.redis.keyPrefix, config.predictions.historyMax);
  const tracker = createSeriesTracker({
    historyBefore: (f, keep) =>
      keep > 1 ? readFeaturesAsOf(redis, serde, config.redis.keyPrefix, f.symbol, f.interval, f.eventTime - 1, keep - 1) : Promise.resolve([]),
    futureToleranceMs: config.events.futureToleranceMs,
    now,
  });
  const champion = createChampionPredictions({ server, registry, now });
  const prepared = new Map<string, Prepared>();

  /**
   * Replays the chunk on a COPY of the series state exactly as the handler will (same validation,
   * same duplicate/out-of-order skips, same window keep), collects every window the champion would
   * predict and predicts them in one pass. The handler re-checks model and window before use.
   */
  async function prepareBatch(records: InRecord[]): Promise<void> {
    prepared.clear(); // the previous chunk has been handled by now (leftovers: skipped records)
    if (records.length <= BATCH_MIN_RECORDS) return;
    const m = champion.current();
    if (m === null) return;
    const keep = Math.max(MIN_WINDOW_KEEP, m.T);
    const sim = tracker.copy();
    const wanted: { key: string; x: Float32Array }[] = [];
    for (const rec of records) {
      let f: FeatureVector;
      try {
        f = await serde.decode('features', rec.value);
      } catch {
        continue; // the handler dead-letters it
      }
      const step = await tracker.advance(sim, f, keep);
      if (step.kind !== 'ok') continue;
      const x = championWindow(m, f, step.window);
      if (typeof x !== 'string') wanted.push({ key: `${rec.partition}:${rec.offset}`, x });
    }
    // One pass over all windows with the fast predictor (the same forward pass as predictOne, so
    // results are bitwise what the handler would compute singly; see the report for tfjs).
    for (const { key, x } of wanted) {
      let r;
      try {
        r = m.fast.predictOne(x);
      } catch {
        continue; // no valid distribution: the handler predicts it singly and falls back to the baseline
      }
      prepared.set(key, { model: m, x, ret: r.ret, probUp: r.probUp });
    }
  }

  const handler: RecordHandler = async (rec) => {
    const key = `${rec.partition}:${rec.offset}`;
    const ahead = prepared.get(key);
    prepared.delete(key);
    const f = await serde.decode('features', rec.value);
    const step = await tracker.advance(tracker.live, f, Math.max(MIN_WINDOW_KEEP, server?.current()?.T ?? 0));
    if (step.kind === 'invalid') throw new BitPredictError('ERR_VALIDATION', step.reason);
    // A redelivered feature: the series has already moved past it.
    if (step.kind === 'duplicate') return [];
    if (step.kind === 'out-of-order')
      throw new BitPredictError('ERR_VALIDATION', `out of order: feature at ${new Date(f.eventTime).toISOString()} after ${new Date(step.last).toISOString()}`);
    const p = champion.predict(f, model.predict(f, now()), step.window, ahead);
    const value = serde.encode('predictions', p);
    // Redis before the Kafka commit: a redelivered feature rewrites the same history member.
    await store.write(p);
    made.inc({ model: p.modelName });
    lag.observe((p.predictedAt - p.candleIngestedAt) / 1000);
    return [{ topic: predictionsTopic, key: step.series, value, timestamp: p.eventTime }];
  };
  return { handler, prepareBatch, prepared };
}

export async function createPredictor(opts: PredictorOptions): Promise<Service> {
  const { platform, config, redis } = opts;
  const { logger } = platform;
  const model = opts.model ?? createEmaDriftBaseline();
  const now = opts.now ?? Date.now;
  logger.info({ model: model.name, version: model.version, baseline: model.isBaseline }, 'predictor baseline model');
  const follow = opts.followModels ?? true;
  const log = logger.child({ service: 'predictor' });
  const server = follow ? createModelServer({ registry: platform.registry, logger: log, now }) : undefined;
  const follower = server ? createModelFollower({ platform, models: config.models, server, logger: log }) : undefined;
  const h = createPredictorHandler({ platform, config, redis, model, now, ...(server ? { server } : {}) });
  const processor = await createProcessor({
    platform,
    consumer: config.consumer,
    name: 'predictor',
    groupId: opts.groupId ?? platform.kafka.groupId('predictor'),
    input: 'features',
    handler: h.handler,
    prepareBatch: h.prepareBatch,
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
