// Predictor: features -> predictions (Kafka) + latest prediction per symbol (Redis, the gateway's
// snapshot) and a bounded prediction history per symbol (Redis, read by /v1/predictions). The
// champion LSTM (announced on the models topic, see model-server.ts) predicts when it is loaded,
// not expired, and the series has a complete window of its last T feature vectors; every other
// record gets the clearly labelled EMA-drift baseline (isBaseline=true), which absorbs every
// record so that it is always ready to take over. Per-series windows are rebuilt from the Redis
// feature history on the first vector of a series after start, so the first prediction after a
// restart equals the one an uninterrupted predictor would have made.
import type { Redis } from '../../core/redis.js';
import { redisKeys } from '../../core/redis.js';
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { counter, histogram } from '../../core/metrics.js';
import type { InRecord, RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import { readFeaturesAsOf } from '../../core/feature-store.js';
import type { FeatureVector, Prediction } from '../../schemas/types.js';
import { lastWindow } from '../../core/models/domain/dataset.js';
import { createEmaDriftBaseline, type PredictionModel } from '../../core/models/domain/baseline.js';
import { createModelFollower, createModelServer, type ModelServer, type ServingModel } from './model-server.js';
import { seriesKey } from '../../schemas/keys.js';
import type { Config } from '../../core/config.js';

/** Vectors kept per series when no champion needs more (a later champion with a larger T fills up). */
export const MIN_WINDOW_KEEP = 48;

/** prepareBatch predicts ahead only for chunks of more than this many records (backlog, replay). */
export const BATCH_MIN_RECORDS = 4;

/**
 * Adds a prediction to its symbol's history (KEYS[1]: sorted set, score = eventTime, member = the
 * Prediction JSON, which readers parse as is) and keeps the newest ARGV[6]. One member per
 * (eventTime, interval, modelName, horizonSteps): a redelivered feature (after a restart the
 * records since the last commit are predicted again, with a new predictedAt, maybe by a newer
 * champion version) replaces the member it wrote before instead of adding a second one, while
 * other intervals of the symbol and other models at the same event time stay. Members are compared
 * by those fields, not by their bytes, hence a script: the scan touches only the members of one
 * score, and the script runs inside the handler's MULTI, so it is one round trip.
 */
export const HISTORY_ADD = `
local key = KEYS[1]
local t = ARGV[1]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, t, t)) do
  local ok, p = pcall(cjson.decode, m)
  if ok and type(p) == 'table' and p.interval == ARGV[2] and p.modelName == ARGV[3] and tostring(p.horizonSteps) == ARGV[4] then
    redis.call('ZREM', key, m)
  end
end
redis.call('ZADD', key, t, ARGV[5])
redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[6]) + 1))
return 1
`;

/** A champion prediction made ahead by prepareBatch, for the record at one partition:offset. */
interface Prepared {
  model: ServingModel;
  /** The normalised window that was predicted; the handler uses the result only for an identical one. */
  x: Float32Array;
  ret: number;
  probUp: number;
}

/** What advancing a series by one vector did. */
type Step =
  | { kind: 'ok'; series: string; window: FeatureVector[] }
  | { kind: 'invalid'; reason: string }
  | { kind: 'duplicate' }
  | { kind: 'out-of-order'; last: number };

function sameWindow(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

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

export function createPredictorHandler(deps: { platform: Platform; config: Pick<Config, 'events' | 'predictions' | 'redis'>; redis: Redis; model: PredictionModel; now: () => number; server?: ModelServer }): PredictorHandler {
  const { platform, config, redis, model, now, server } = deps;
  const { serde, registry } = platform;
  const keys = redisKeys(config.redis.keyPrefix);
  const predictionsTopic = platform.kafka.topic('predictions');
  const made = counter(registry, 'bitpredict_predictor_predictions_total', 'Predictions produced', ['model']);
  const lag = histogram(registry, 'bitpredict_predictor_pipeline_seconds', 'Candle ingestion to prediction, wall clock', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30]);
  const fallbacks = counter(registry, 'bitpredict_predictor_baseline_fallbacks_total', 'Records the baseline predicted although a champion is loaded', ['reason']);
  const batched = counter(registry, 'bitpredict_predictor_batched_total', 'Champion predictions taken from a batched inference made ahead by prepareBatch (backlog, replay)');
  const lastEventTime = new Map<string, number>();
  const windows = new Map<string, FeatureVector[]>();
  const prepared = new Map<string, Prepared>();
  const live = { last: lastEventTime, windows };

  /** Why the handler would reject f before touching the series state (null: it goes on). */
  function invalid(f: FeatureVector): string | null {
    if (!(f.close > 0) || !Number.isFinite(f.close)) return `feature close ${f.close} is not a positive price`;
    if (f.eventTime > now() + config.events.futureToleranceMs) return `feature eventTime ${new Date(f.eventTime).toISOString()} is in the future`;
    return null;
  }

  function historyBefore(f: FeatureVector, keep: number): Promise<FeatureVector[]> {
    return keep > 1 ? readFeaturesAsOf(redis, serde, config.redis.keyPrefix, f.symbol, f.interval, f.eventTime - 1, keep - 1) : Promise.resolve([]);
  }

  /**
   * Moves one series by f: the last event time and the window of its last `keep` vectors (rebuilt
   * from Redis on the series' first vector). The handler runs it on the live state, prepareBatch on
   * copies, so both see exactly the same windows. Nothing moves for an invalid, redelivered or
   * out-of-order vector.
   */
  async function advance(state: { last: Map<string, number>; windows: Map<string, FeatureVector[]> }, f: FeatureVector, keep: number): Promise<Step> {
    const bad = invalid(f);
    if (bad !== null) return { kind: 'invalid', reason: bad };
    const series = seriesKey(f.symbol, f.interval);
    const last = state.last.get(series);
    if (last !== undefined && f.eventTime <= last) return f.eventTime === last ? { kind: 'duplicate' } : { kind: 'out-of-order', last };
    let w = state.windows.get(series);
    if (w === undefined) {
      w = await historyBefore(f, keep);
      state.windows.set(series, w);
    }
    w.push(f);
    if (w.length > keep) w.splice(0, w.length - keep);
    // Last, after the only await: a failed Redis read leaves the series where it was, so a retry
    // of the record is not mistaken for a redelivery.
    state.last.set(series, f.eventTime);
    return { kind: 'ok', series, window: w };
  }

  /** The normalised window the champion m predicts for f, or why there is none. */
  function championWindow(m: ServingModel, f: FeatureVector, w: FeatureVector[]): Float32Array | 'feature-set' | 'window' {
    if (f.featureSetVersion !== m.featureSetVersion) return 'feature-set';
    try {
      return lastWindow(w, m.T, m.normalizer) ?? 'window';
    } catch {
      return 'window'; // history from Redis that does not form a clean series: baseline for this record
    }
  }

  function fromChampion(f: FeatureVector, base: Prediction, w: FeatureVector[], ahead: Prepared | undefined): Prediction {
    const m = server?.current() ?? null; // read once: this record is predicted by one model
    if (m === null) return base;
    if (server?.isExpired(m, now())) {
      fallbacks.inc({ reason: 'expired' });
      return base;
    }
    const x = championWindow(m, f, w);
    if (typeof x === 'string') {
      fallbacks.inc({ reason: x });
      return base;
    }
    // The batched result only if it came from this very model for this very window; else singly.
    let r: { ret: number; probUp: number };
    if (ahead !== undefined && ahead.model === m && ahead.model.version === m.version && sameWindow(ahead.x, x)) {
      r = ahead;
      batched.inc();
    } else {
      r = m.fast.predictOne(x);
    }
    if (!Number.isFinite(r.ret) || !Number.isFinite(r.probUp)) {
      fallbacks.inc({ reason: 'non-finite' });
      return base;
    }
    return { ...base, predictedLogReturn: r.ret, predictedPrice: f.close * Math.exp(r.ret), probUp: r.probUp, modelName: m.name, modelVersion: m.version, isBaseline: false };
  }

  /**
   * Replays the chunk on COPIES of the series state exactly as the handler will (same validation,
   * same duplicate/out-of-order skips, same window keep), collects every window the champion would
   * predict and predicts them in one pass. The handler re-checks model and window before use.
   */
  async function prepareBatch(records: InRecord[]): Promise<void> {
    prepared.clear(); // the previous chunk has been handled by now (leftovers: skipped records)
    if (records.length <= BATCH_MIN_RECORDS) return;
    const m = server?.current() ?? null;
    if (m === null || server?.isExpired(m, now())) return;
    const keep = Math.max(MIN_WINDOW_KEEP, m.T);
    // Copies of the series state, so the handler later moves the live state exactly as here.
    const sim = { last: new Map(lastEventTime), windows: new Map([...windows].map(([s, w]) => [s, w.slice()])) };
    const wanted: { key: string; x: Float32Array }[] = [];
    for (const rec of records) {
      let f: FeatureVector;
      try {
        f = await serde.decode('features', rec.value);
      } catch {
        continue; // the handler dead-letters it
      }
      const step = await advance(sim, f, keep);
      if (step.kind !== 'ok') continue;
      const x = championWindow(m, f, step.window);
      if (typeof x !== 'string') wanted.push({ key: `${rec.partition}:${rec.offset}`, x });
    }
    // One pass over all windows with the fast predictor (the same forward pass as predictOne, so
    // results are bitwise what the handler would compute singly; see the report for tfjs).
    for (const { key, x } of wanted) {
      const r = m.fast.predictOne(x);
      prepared.set(key, { model: m, x, ret: r.ret, probUp: r.probUp });
    }
  }

  const handler: RecordHandler = async (rec) => {
    const key = `${rec.partition}:${rec.offset}`;
    const ahead = prepared.get(key);
    prepared.delete(key);
    const f = await serde.decode('features', rec.value);
    const step = await advance(live, f, Math.max(MIN_WINDOW_KEEP, server?.current()?.T ?? 0));
    if (step.kind === 'invalid') throw new BitPredictError('ERR_VALIDATION', step.reason);
    // A redelivered feature: the series has already moved past it.
    if (step.kind === 'duplicate') return [];
    if (step.kind === 'out-of-order') throw new BitPredictError('ERR_VALIDATION', `out of order: feature at ${new Date(f.eventTime).toISOString()} after ${new Date(step.last).toISOString()}`);
    const { series, window: w } = step;
    const base = model.predict(f, now());
    const p = fromChampion(f, base, w, ahead);
    const value = serde.encode('predictions', p);
    // Latest and history in one MULTI, before the Kafka commit: a redelivered feature rewrites the
    // same history member instead of adding a second one (see HISTORY_ADD).
    const json = JSON.stringify(p);
    const res = await redis.multi()
      .set(keys.predictionsLatest(p.symbol), json)
      .eval(HISTORY_ADD, 1, keys.predictionsHistory(p.symbol), p.eventTime, p.interval, p.modelName, p.horizonSteps, json, config.predictions.historyMax)
      .exec();
    const failed = res?.find(([err]) => err !== null);
    if (!res || failed) throw new BitPredictError('ERR_REDIS', `writing the prediction to Redis failed: ${failed?.[0]?.message ?? 'transaction discarded'}`);
    made.inc({ model: p.modelName });
    lag.observe((p.predictedAt - p.candleIngestedAt) / 1000);
    return [{ topic: predictionsTopic, key: series, value, timestamp: p.eventTime }];
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
