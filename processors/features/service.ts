// Feature processor: market.candles (+ text.scored, read whole) -> features (Kafka, Avro) and the
// Redis feature store (latest + bounded time-indexed history per series).
//
// Per closed candle at t = closeTime: the indicator engine of its series (core/features/
// indicators.ts) computes the indicators; the sentiment of texts published in (t - W, t] comes from the
// point-in-time text index (no look-ahead: later texts never count), after the text stream's
// watermark has passed t or the bounded wait ran out. Both are joined into one FeatureVector.
//
// State: the indicator engines of every series of an input partition form that partition's state,
// snapshotted to Redis after commits and rebuilt on assignment (core/kafka/partition-state.ts), so
// values after a crash, restart or rebalance equal those of an uninterrupted run. With
// BITPREDICT_PROCESSING_GUARANTEE=exactly-once the features and the input offsets commit in one
// Kafka transaction per flush. The Redis feature store is written before each commit; if Redis
// lost it, the store rebuilds the lost series from the topics first (core/feature-store.ts), knowing
// from these engines which candle of each series it must hold.
import type { Redis } from '../../core/redis.js';
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError, isBitPredictError, errorMessage } from '../../core/errors.js';
import { counter } from '../../core/metrics.js';
import type { InRecord, RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import { createPartitionStates, type PartitionStates } from '../../core/kafka/partition-state.js';
import { createFeatureStoreWriter, type SeriesMark } from '../../core/feature-store.js';
import { createFeatureStoreReader } from '../../core/feature-store-rebuild.js';
import { validateCandle } from '../../core/domain/candle.js';
import { delay } from '../../core/time.js';
import type { Candle } from '../../schemas/types.js';
import { createIndicatorEngine, restoreIndicatorEngine, type IndicatorEngine } from '../../core/features/indicators.js';
import { joinFeature } from '../../core/features/join.js';
import { createTextStream, type TextStream } from './text-stream.js';
import { createAdmin } from '../../core/kafka/client.js';
import { seriesKey } from '../../schemas/keys.js';
import type { Config } from '../../core/config.js';
import { createStartupRetry } from '../../core/startup.js';

/** How long a starting processor reads text.scored before it takes candles regardless. */
const START_TEXT_WAIT_MS = 60_000;

/** The state of one input partition: an indicator engine per symbol:interval series in it. */
export interface FeatureState {
  engines: Map<string, IndicatorEngine>;
}

/** The slice of the configuration the feature processor reads. */
export type FeaturesConfig = Pick<Config, 'consumer' | 'events' | 'features' | 'redis'>;

export interface FeatureProcessorOptions {
  platform: Platform;
  config: FeaturesConfig;
  redis: Redis;
  groupId?: string;
  onFatal(err: BitPredictError): void;
  now?: () => number;
}

function stateToJSON(s: FeatureState): unknown {
  const out: Record<string, unknown> = {};
  for (const [series, engine] of s.engines) out[series] = engine.snapshot();
  return { engines: out };
}

function stateFromJSON(v: unknown): FeatureState {
  if (typeof v !== 'object' || v === null || typeof (v as { engines?: unknown }).engines !== 'object' || (v as { engines?: unknown }).engines === null) {
    throw new BitPredictError('ERR_VALIDATION', 'feature state snapshot has no "engines" object');
  }
  const engines = new Map<string, IndicatorEngine>();
  for (const [series, snap] of Object.entries((v as { engines: Record<string, unknown> }).engines)) engines.set(series, restoreIndicatorEngine(snap));
  return { engines };
}

/**
 * Applies one candle record to a partition's state: decode, validate, and step the series engine.
 * Shared by live handling and by state restore, so both move the state identically.
 */
function applyCandle(futureToleranceMs: number, s: FeatureState, rec: InRecord, candle: Candle, now: number, computedAt: number) {
  const invalid = validateCandle(candle, now, futureToleranceMs);
  if (invalid) throw new BitPredictError('ERR_VALIDATION', invalid.reason);
  const series = seriesKey(candle.symbol, candle.interval);
  const key = rec.key?.toString('utf8');
  if (key !== undefined && key !== series) throw new BitPredictError('ERR_VALIDATION', `record key "${key}" does not match the candle's series "${series}"`);
  let engine = s.engines.get(series);
  if (!engine) {
    engine = createIndicatorEngine();
    s.engines.set(series, engine);
  }
  const previous = engine.lastCandle();
  return { series, previous, result: engine.update(candle, computedAt) };
}

export interface FeatureHandler {
  handler: RecordHandler;
  states: PartitionStates<FeatureState>;
  /** Writes the buffered Redis feature-store updates (called before each Kafka commit). */
  flushStore(): Promise<void>;
}

export function createFeatureHandler(deps: {
  platform: Platform;
  config: FeaturesConfig;
  redis: Redis;
  text: TextStream;
  groupId: string;
  now: () => number;
}): FeatureHandler {
  const { platform, config, redis, text, now, groupId } = deps;
  const { serde, registry, logger } = platform;
  const featuresTopic = platform.kafka.topic('features');
  const W = config.features.sentimentWindowMs;
  const skipped = counter(registry, 'bitpredict_features_skipped_total', 'Candles that produced no feature vector, by reason', ['reason']);
  const produced = counter(registry, 'bitpredict_features_total', 'Feature vectors produced');
  const waitTimeouts = counter(
    registry,
    'bitpredict_features_text_wait_timeouts_total',
    'Features computed before the text stream had passed their time (text stream lagging longer than BITPREDICT_FEATURES_TEXT_MAX_WAIT_MS)',
  );
  const states = createPartitionStates<FeatureState>({
    name: 'features',
    groupId,
    client: platform.kafka,
    redis,
    keyPrefix: config.redis.keyPrefix,
    logger,
    registry,
    snapshotIntervalMs: config.features.snapshotIntervalMs,
    allowAhead: config.consumer.guarantee === 'at-least-once',
    empty: () => ({ engines: new Map() }),
    toJSON: stateToJSON,
    fromJSON: stateFromJSON,
    async replay(s, rec) {
      try {
        applyCandle(config.events.futureToleranceMs, s, rec, await platform.serde.decode('candles', rec.value), now(), 0);
      } catch (err) {
        // The live run dead-lettered this record without touching the state; so does the replay.
        if (!isBitPredictError(err) || err.retryable) throw err;
      }
    },
  });
  // Every series of the partitions held now, at its last accepted candle: the store checks that
  // Redis still holds their vectors and candles before each write.
  function* owned(): Iterable<SeriesMark> {
    for (const [, s] of states.entries()) {
      for (const engine of s.engines.values()) {
        const last = engine.lastCandle();
        if (last !== null) yield last;
      }
    }
  }
  const store = createFeatureStoreWriter(
    redis,
    config.redis.keyPrefix,
    { features: config.features.historyMax, candles: config.features.candleHistoryMax },
    {
      owned,
      read: createFeatureStoreReader({
        client: platform.kafka,
        serde,
        topics: { features: featuresTopic, candles: platform.kafka.topic('candles') },
        futureToleranceMs: config.events.futureToleranceMs,
        now,
      }),
      logger,
      registry,
    },
  );
  const handler: RecordHandler = async (rec, ctx) => {
    const s = states.get(rec.topic, rec.partition);
    // Waiting for the text stream happens before the state moves.
    const candle = await serde.decode('candles', rec.value);
    const t = candle.closeTime;
    if (Number.isSafeInteger(t) && !text.covered(t)) {
      const covered = await text.waitCovered(t, config.features.textMaxWaitMs, ctx.heartbeat);
      if (!covered) waitTimeouts.inc();
    }
    const { series, previous, result } = applyCandle(config.events.futureToleranceMs, s, rec, candle, now(), now());
    if (result.kind === 'duplicate') {
      // Same open time as the series' last candle: a redelivery, already turned into a feature.
      skipped.inc({ reason: 'duplicate' });
      return [];
    }
    if (result.kind === 'out_of_order') {
      throw new BitPredictError(
        'ERR_VALIDATION',
        `out of order: candle opening ${new Date(candle.openTime).toISOString()} arrived after ${new Date(result.lastOpenTime).toISOString()}`,
      );
    }
    try {
      const agg = text.index.aggregate(t, W);
      const feature = joinFeature(result.feature, W, agg, text.watermark());
      const value = serde.encode('features', feature);
      text.noteEmitted(t);
      text.noteCandle(series, t);
      store.add(feature, value, candle, previous);
      produced.inc();
      return [{ topic: featuresTopic, key: series, value, timestamp: t }];
    } catch (err) {
      // The engine has already taken this candle; a retry would see a duplicate and drop it.
      // Dead-letter it instead (non-retryable), so it is never lost silently.
      throw new BitPredictError(
        isBitPredictError(err) ? err.code : 'ERR_HANDLER',
        `feature for ${series} at ${new Date(t).toISOString()} could not be built: ${errorMessage(err)}`,
        { cause: err, retryable: false },
      );
    }
  };
  return { handler, states, flushStore: () => store.flush() };
}

/**
 * The event time of the oldest candle the group has still to process, from its committed offsets:
 * per market.candles partition, the record at the committed position (the log start without one),
 * or the last record when the group is at the end (the next candle is later). Null when no
 * partition holds a candle (the texts a future candle needs cannot be known: read them all).
 * Candles of one partition are taken to be roughly in time order (within the retain margin), as
 * the live sources write them.
 *
 * The time of the record at offset `at` is found with offsets by time alone (no consumer group to
 * join, which costs the broker's initial rebalance delay on every start): the largest T whose
 * first record stamped at or after T is at or before `at`, by bisection over ListOffsets. With
 * timestamps in order that is the record's own time; otherwise the newest time up to it.
 */
export async function oldestCandleToCome(platform: Platform, groupId: string): Promise<number | null> {
  const topic = platform.kafka.topic('candles');
  const admin = await createAdmin(platform.kafka);
  try {
    const firstAtOrAfter = async (t: number): Promise<Map<number, bigint>> =>
      new Map((await admin.offsetsForTime(topic, t)).map((p) => [p.partition, BigInt(p.offset)]));
    const lows = await firstAtOrAfter(0);
    const positions = (await admin.groupLag(groupId, topic)).flatMap((p) => {
      const end = BigInt(p.end);
      const low = lows.get(p.partition) ?? 0n;
      if (end <= low) return [];
      const committed = BigInt(p.committed);
      const pos = committed < low ? low : committed;
      return [{ partition: p.partition, at: pos >= end ? end - 1n : pos }];
    });
    if (positions.length === 0) return null;
    // Per partition: lo satisfies first(lo) <= at, hi does not (2^43 ms is the year 2248).
    const bounds = new Map(positions.map((p) => [p.partition, { at: p.at, lo: 0, hi: 2 ** 43 }]));
    while ([...bounds.values()].some((b) => b.hi - b.lo > 1)) {
      for (const [partition, b] of bounds) {
        if (b.hi - b.lo <= 1) continue;
        const mid = Math.floor((b.lo + b.hi) / 2);
        const first = (await firstAtOrAfter(mid)).get(partition);
        if (first !== undefined && first <= b.at) b.lo = mid;
        else b.hi = mid;
      }
    }
    return Math.min(...[...bounds.values()].map((b) => b.lo));
  } finally {
    await admin.close();
  }
}

export async function createFeatureProcessor(opts: FeatureProcessorOptions): Promise<Service> {
  const { platform, config, redis } = opts;
  const groupId = opts.groupId ?? platform.kafka.groupId('features');
  const W = config.features.sentimentWindowMs;
  const marginMs = config.features.textRetainMarginMs;
  const text = createTextStream({
    platform,
    latenessMs: config.features.textLatenessMs,
    bound: { windowMs: W, marginMs, maxTexts: config.features.textIndexMax },
    restoreFrom: async () => {
      // Asked of the group coordinator, which answers NOT_COORDINATOR or "loading" for a while
      // after the broker (re)starts (the Kafka client does not retry this admin call): retried
      // while retryable, as connecting is, instead of failing the start.
      const t = await createStartupRetry({ logger: platform.logger, maxMs: START_TEXT_WAIT_MS }).run("the features group's committed offsets", () =>
        oldestCandleToCome(platform, groupId),
      );
      return t === null ? null : t - W - marginMs;
    },
  });
  const fh = createFeatureHandler({ platform, config, redis, text, groupId, now: opts.now ?? Date.now });
  const processor = await createProcessor({
    platform,
    consumer: config.consumer,
    name: 'features',
    groupId,
    input: 'candles',
    handler: fh.handler,
    hooks: { ...fh.states.hooks, beforeFlush: () => fh.flushStore() },
    onFatal: opts.onFatal,
    checks: () => ({ text: text.caughtUpOnce ? 'caught up' : 'reading text.scored' }),
  });
  let stopped = false;
  return {
    name: 'features',
    async start() {
      await text.start();
      // Read the texts already in text.scored before taking candles, so the first vectors after a
      // start see them (a candle would otherwise wait at most BITPREDICT_FEATURES_TEXT_MAX_WAIT_MS).
      const deadline = Date.now() + START_TEXT_WAIT_MS;
      let nextLog = Date.now() + 5000;
      while (!text.caughtUpOnce && Date.now() < deadline) {
        await delay(20);
        if (Date.now() >= nextLog) {
          platform.logger.info({ texts: text.index.size }, 'reading text.scored before taking candles');
          nextLog += 5000;
        }
      }
      if (!text.caughtUpOnce)
        platform.logger.warn(
          { texts: text.index.size, waitedMs: START_TEXT_WAIT_MS },
          'text.scored not read to its end yet; taking candles anyway (each waits for the text stream, bounded)',
        );
      await processor.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await processor.stop();
      await fh.states.persistAll().catch((err: unknown) => platform.logger.warn({ err }, 'final state snapshots failed'));
      await text.stop();
    },
    readiness() {
      const r = processor.readiness();
      return { ready: r.ready && text.caughtUpOnce, checks: r.checks };
    },
  };
}
