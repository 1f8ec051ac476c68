// Predictor: features -> predictions (Kafka) + the headline, the board and a bounded history per
// symbol (Redis: the gateway's snapshot and /v1/predictions). For every feature vector it publishes
// one prediction per forecaster, each with a forecast distribution per horizon: every baseline
// (persistence, EWMA, HAR-RV, GARCH; processors/predictor/baselines.ts), whatever the champion is,
// and the champion LSTM (announced on the models topic, see model-server.ts) when it is loaded, not
// expired, and the series has a complete window of its last T feature vectors. Without a champion
// the baselines serve alone, loudly (a warning on each change, a gauge, the readiness text).
// Per-series windows and baseline states are rebuilt from the Redis feature history on the first
// vector of a series after start, so the predictions after a restart equal the ones an
// uninterrupted predictor would have made.
import type { Redis } from '../../core/redis.js';
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { counter, gauge, histogram } from '../../core/metrics.js';
import type { InRecord, RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import { readFeaturesAsOf } from '../../core/feature-store.js';
import type { FeatureVector } from '../../schemas/types.js';
import { parseHorizons } from '../../core/forecast/horizons.js';
import { intervalMs } from '../../core/domain/intervals.js';
import { createModelFollower, createModelServer, type ModelServer } from './model-server.js';
import { startSigning, type ModelSigning } from '../../core/models/signing.js';
import { createPredictionStore } from './store.js';
import { createSeriesTracker } from './series.js';
import { championWindow, createChampionPredictions, type Prepared } from './champion.js';
import { createSeriesBaselines } from './baselines.js';
import { headline, toPrediction, type Forecast } from './forecasts.js';
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
  /**
   * Writes the Redis side of the chunk's handled records (queued by the handler while a chunk
   * prepared by prepareBatch runs); the runner calls it just before the chunk's outputs and offsets
   * are committed (PartitionHooks.beforeFlush), so Redis still comes before the Kafka commit.
   */
  flush(): Promise<void>;
  /**
   * The runner is about to (re)start the partition at some offset (a join, or after giving it up
   * for an outage): the series read from it forget their windows and baselines, rebuilt from the
   * Redis feature history on their next vector, so a partition read again from an earlier offset
   * predicts as it did the first time instead of refusing its vectors as out of order.
   */
  restartPartition(partition: number): void;
}

/** The slice of the configuration the predictor reads. */
export type PredictorConfig = Pick<Config, 'consumer' | 'events' | 'forecast' | 'models' | 'predictions' | 'redis'>;

export interface PredictorOptions {
  platform: Platform;
  config: PredictorConfig;
  redis: Redis;
  groupId?: string;
  onFatal(err: BitPredictError): void;
  now?: () => number;
  /** Follow the models topic and serve its champion (default true). False: baseline only. */
  followModels?: boolean;
  /** The accepted model signing keys; default: from config.models (BITPREDICT_MODEL_SIGNING*). */
  signing?: ModelSigning;
}

/** The predictor's counters of its output. */
function predictorMetrics(registry: Platform['registry']) {
  return {
    made: counter(registry, 'bitpredict_predictor_predictions_total', 'Predictions produced', ['model']),
    warmingUp: counter(
      registry,
      'bitpredict_predictor_warming_up_total',
      "Feature vectors with no prediction: no champion forecast and the series' first vector (no return seen yet)",
    ),
    lag: histogram(
      registry,
      'bitpredict_predictor_pipeline_seconds',
      'Candle ingestion to prediction, wall clock',
      [],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    ),
  };
}

/**
 * Says loudly when the champion starts or stops forecasting: a log line on each change (a warning
 * when the baselines serve alone) and the gauge bitpredict_predictor_champion_serving.
 */
function createServingWatch(platform: Platform, server: ModelServer | undefined): (serving: boolean, f: FeatureVector) => void {
  const gaugeOf = gauge(
    platform.registry,
    'bitpredict_predictor_champion_serving',
    '1 while the champion model forecasts the latest vector, 0 while the baselines serve alone',
    [],
  );
  let last: boolean | null = null;
  return (serving, f) => {
    if (last === serving) return;
    last = serving;
    gaugeOf.set(serving ? 1 : 0);
    const at = { series: `${f.symbol}:${f.interval}`, eventTime: new Date(f.eventTime).toISOString() };
    if (serving) platform.logger.info(at, 'champion model serving beside the baselines');
    else platform.logger.warn({ ...at, champion: server?.current()?.version ?? null }, 'no champion forecast: the baselines serve alone');
  };
}

export function createPredictorHandler(deps: {
  platform: Platform;
  config: Pick<Config, 'events' | 'forecast' | 'predictions' | 'redis'>;
  redis: Redis;
  now: () => number;
  server?: ModelServer;
}): PredictorHandler {
  const { platform, config, redis, now, server } = deps;
  const { serde, registry } = platform;
  const predictionsTopic = platform.kafka.topic('predictions');
  const { made, warmingUp, lag } = predictorMetrics(registry);
  const store = createPredictionStore(redis, config.redis.keyPrefix, config.predictions.historyMax);
  const tracker = createSeriesTracker({
    historyBefore: (f, keep) =>
      keep > 1 ? readFeaturesAsOf(redis, serde, config.redis.keyPrefix, f.symbol, f.interval, f.eventTime - 1, keep - 1) : Promise.resolve([]),
    futureToleranceMs: config.events.futureToleranceMs,
    now,
  });
  const champion = createChampionPredictions({ server, registry, now });
  const baselines = createSeriesBaselines({
    horizons: parseHorizons(config.forecast.horizons),
    window: config.forecast.baselineWindow,
    historyBefore: (f, n) => readFeaturesAsOf(redis, serde, config.redis.keyPrefix, f.symbol, f.interval, f.eventTime - 1, n),
  });
  const servingChanged = createServingWatch(platform, server);
  const prepared = new Map<string, Prepared>();
  let queueing = false;

  /**
   * Replays the chunk on a COPY of the series state exactly as the handler will (same validation,
   * same duplicate/out-of-order skips, same window keep), collects every window the champion would
   * predict and predicts them in one pass. The handler re-checks model and window before use.
   */
  async function prepareBatch(records: InRecord[]): Promise<void> {
    prepared.clear(); // the previous chunk has been handled by now (leftovers: skipped records)
    // Normally flushed by the runner before the previous chunk's commit; left over only when that
    // chunk was abandoned uncommitted (a rebalance): written now, a redelivery rewrites the same members.
    await store.flush();
    // A chunk of a backlog: its Redis writes go in one MULTI before its commit (flush()); a live
    // record or a few write their own MULTI before the handler returns, as before.
    queueing = records.length > BATCH_MIN_RECORDS;
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
      try {
        prepared.set(key, { model: m, x, result: m.fast.predictOne(x) });
      } catch {
        // An invalid forecast: the handler predicts this record singly and counts it.
      }
    }
  }

  // The input partition each series was last read from (a key's series stays in one partition).
  const partitionOfSeries = new Map<string, number>();
  function restartPartition(partition: number): void {
    const series = [...partitionOfSeries].filter(([, p]) => p === partition).map(([s]) => s);
    tracker.forget(series);
    baselines.forget(series);
    for (const s of series) partitionOfSeries.delete(s);
    for (const key of [...prepared.keys()]) if (key.startsWith(`${partition}:`)) prepared.delete(key);
  }

  const handler: RecordHandler = async (rec) => {
    const key = `${rec.partition}:${rec.offset}`;
    const ahead = prepared.get(key);
    prepared.delete(key);
    const f = await serde.decode('features', rec.value);
    // Seed before the series moves: a failed history read leaves nothing half-done for the retry.
    await baselines.seed(f);
    const step = await tracker.advance(tracker.live, f, Math.max(MIN_WINDOW_KEEP, server?.current()?.T ?? 0));
    if (step.kind === 'invalid') throw new BitPredictError('ERR_VALIDATION', step.reason);
    // A redelivered feature: the series has already moved past it.
    if (step.kind === 'duplicate') return [];
    if (step.kind === 'out-of-order')
      throw new BitPredictError('ERR_VALIDATION', `out of order: feature at ${new Date(f.eventTime).toISOString()} after ${new Date(step.last).toISOString()}`);
    partitionOfSeries.set(step.series, rec.partition);
    const forecasts: Forecast[] = [];
    const model = champion.forecast(f, step.window, ahead);
    servingChanged(model !== null, f);
    if (model !== null) forecasts.push(model);
    forecasts.push(...baselines.forecast(f));
    const t = now();
    const stepMs = intervalMs(f.interval);
    const ps = forecasts.map((fc) => toPrediction(f, stepMs, fc, t));
    const head = headline(ps);
    if (head === null) {
      warmingUp.inc();
      return [];
    }
    // Redis before the Kafka commit: a redelivered feature rewrites the same members. Queued for
    // the chunk's one MULTI (flush(), called before the commit) while a prepared chunk runs.
    if (queueing) store.queue(ps, head);
    else await store.write(ps, head);
    for (const p of ps) made.inc({ model: p.modelName });
    lag.observe((t - head.candleIngestedAt) / 1000);
    return ps.map((p) => ({ topic: predictionsTopic, key: step.series, value: serde.encode('predictions', p), timestamp: p.eventTime }));
  };
  return { handler, prepareBatch, prepared, flush: () => store.flush(), restartPartition };
}

export async function createPredictor(opts: PredictorOptions): Promise<Service> {
  const { platform, config, redis } = opts;
  const { logger } = platform;
  const now = opts.now ?? Date.now;
  logger.info({ horizons: config.forecast.horizons, baselineWindow: config.forecast.baselineWindow }, 'predictor baselines: persistence, ewma, har-rv, garch');
  const follow = opts.followModels ?? true;
  const log = logger.child({ component: 'predictor' });
  const server = follow
    ? createModelServer({
        registry: platform.registry,
        logger: log,
        now,
        signing: opts.signing ?? startSigning(config.models, log),
        artifacts: { client: platform.kafka, maxBytes: config.models.artifactMaxBytes, timeoutMs: config.models.artifactLoadTimeoutMs },
      })
    : undefined;
  const follower = server ? createModelFollower({ platform, models: config.models, server, logger: log }) : undefined;
  const h = createPredictorHandler({ platform, config, redis, now, ...(server ? { server } : {}) });
  const processor = await createProcessor({
    platform,
    consumer: config.consumer,
    name: 'predictor',
    groupId: opts.groupId ?? platform.kafka.groupId('predictor'),
    input: 'features',
    handler: h.handler,
    prepareBatch: h.prepareBatch,
    // The series state rebuilds from Redis: starting a partition drops what was read from it (so a
    // partition read again from an earlier offset predicts as the first time); the flush hook
    // writes the chunk's queued Redis side just before its outputs and offsets are committed.
    hooks: {
      ensure: async (_topic, partition, offset) => {
        h.restartPartition(partition);
        return offset;
      },
      beforeFlush: () => h.flush(),
    },
    flushEvery: 200,
    onFatal: opts.onFatal,
    checks: () => {
      const champion = server?.status(now()) ?? null;
      const refused = server?.lastRefusal ?? null;
      return { model: champion ?? 'baselines only (no champion)', ...(refused !== null ? { modelRefused: refused } : {}) };
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
