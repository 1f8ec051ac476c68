// Trainer service (`bitpredict trainer`): keeps the model fresh and honest.
// - Live monitor: reads `predictions` and `features`; every forecast (model and baselines, every
//   horizon) is scored with proper scoring rules when its target candle closes
//   (trainer/domain/monitor.ts), over rolling 24 h / 7 d / 30 d windows; what changed is published
//   at most once a second to the `scores` topic, the Redis hash scoresLatest and Prometheus
//   (bitpredict_monitor_*; trainer/scores.ts).
// - Retraining: on a schedule (BITPREDICT_RETRAIN_INTERVAL_MS), and early when the champion's
//   rolling 7 d pinball loss (squared error for point forecasts) exceeds persistence's or the best
//   baseline's by BITPREDICT_RETRAIN_DEGRADE_THRESHOLD on at least BITPREDICT_RETRAIN_MIN_SAMPLES
//   common target times, at most once per BITPREDICT_RETRAIN_COOLDOWN_MS; and when the champion
//   in the store has expired (BITPREDICT_MODEL_EXPIRY_DAYS; the predictor already refuses it and
//   serves the baselines), at most once per cooldown. A retrain reads the features topic over a
//   rolling window that ENDS NOW: the last BITPREDICT_RETRAIN_TRAIN_DAYS days of training and then
//   BITPREDICT_RETRAIN_VAL_DAYS days of validation, up to the latest event time seen. It is a
//   'live' retrain: the final-window rule (hourly data from 2025-01-01 is never fitted on) protects
//   research figures (`bitpredict train`, evaluate), not the model that serves traders today, which
//   must learn from the most recent market. The challenger is promoted only by the champion/
//   challenger rule (trainer/retrain.ts): it must beat the champion by the margin and not lose to
//   the best baseline; without a champion it must beat the best baseline by the margin.
// - Readiness names the champion in the store, or says loudly that none (or only an expired one)
//   serves and the baselines do.
import type { Platform } from '../core/runtime.js';
import type { Logger } from '../core/logger.js';
import type { FeatureVector } from '../schemas/types.js';
import type { Service } from '../core/service.js';
import { errorMessage, type BitPredictError } from '../core/errors.js';
import { counter } from '../core/metrics.js';
import type { Redis } from '../core/redis.js';
import { createConsumerRunner } from '../core/kafka/consumer.js';
import { dependencyCheck } from '../core/processor.js';
import { createDelivery } from '../core/kafka/delivery.js';
import { createDeadLetterFactory } from '../core/kafka/dlq.js';
import { createProducer } from '../core/kafka/producer.js';
import { createForecastMonitor, forecastsOf } from './domain/monitor.js';
import { createScoreFlusher, createScorePublisher } from './scores.js';
import { readFeaturesWithSource } from './data.js';
import { loadTf } from '../core/models/tf.js';
import { retrain } from './retrain.js';
import { announce, readMeta, readRegistry } from '../core/models/registry.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import type { Config } from '../core/config.js';
import { startSigning, type ModelSigning } from '../core/models/signing.js';

const DAY = 86_400_000;
/** Feature vectors read before the training range so its first windows have their T steps. */
const WARMUP_MS = 200 * 3_600_000;

type RetrainReason = 'schedule' | 'degraded' | 'expired';

/** The slice of the configuration the trainer service reads (the series it watches is the replay's symbol and interval). */
export type TrainerConfig = Pick<Config, 'consumer' | 'models' | 'replay' | 'retrain' | 'redis'>;

export interface TrainerServiceOptions {
  platform: Platform;
  config: TrainerConfig;
  /** Where the latest live scores are written (scoresLatest). */
  redis: Redis;
  onFatal(err: BitPredictError): void;
  now?: () => number;
  /** Live scores are published at most this often (ms of wall clock); default 1000. */
  scoresEveryMs?: number;
  groupId?: string;
  /** Model window length (steps). */
  T?: number;
  units?: number;
}

/** The champion in the model store: its version, whether it has expired, and the readiness text. */
async function championState(models: TrainerConfig['models'], t: number): Promise<{ version: string | null; expired: boolean; text: string }> {
  const reg = await readRegistry(models.storeDir, models.name);
  if (reg.champion === null) return { version: null, expired: false, text: 'none: the baselines serve' };
  const meta = await readMeta(models.storeDir, models.name, reg.champion);
  const expiresAt = meta.expiresAt === null ? null : Date.parse(meta.expiresAt);
  const expired = expiresAt !== null && t >= expiresAt;
  const text = expired ? `expired ${reg.champion} (at ${meta.expiresAt ?? ''}): the baselines serve until a retrained model is promoted` : reg.champion;
  return { version: reg.champion, expired, text };
}

/** One live retrain on the features topic over [trainFrom - warm-up, valTo], with the topic ranges as its lineage. */
async function liveRetrain(
  ctx: { platform: Platform; config: TrainerConfig; T: number | undefined; units: number | undefined; logger: Logger; signing: ModelSigning },
  range: { symbol: string; interval: string; trainFrom: number; trainTo: number; valTo: number },
) {
  const { platform, config, logger, signing } = ctx;
  const loaded = await loadTf();
  const { series, source } = await readFeaturesWithSource(platform, {
    symbol: range.symbol,
    interval: range.interval,
    from: range.trainFrom - WARMUP_MS,
    to: range.valTo,
  });
  return retrain({
    config,
    loaded,
    series,
    ...range,
    T: ctx.T ?? 48,
    seed: 42,
    epochs: config.retrain.epochs,
    units: ctx.units ?? MODEL_DEFAULTS.units,
    purpose: 'live',
    log: (line) => logger.info(line),
    announce: (meta) => announce(platform, meta, config.models.storeDir, config.models.artifactChunkBytes, signing),
    lineage: { sources: [source] },
  });
}

/** The monitor's consumer: every prediction's forecasts and every feature vector's close go to the monitor. */
function createMonitorRunner(
  ctx: {
    platform: Platform;
    config: TrainerConfig;
    opts: TrainerServiceOptions;
    logger: Logger;
    delivery: Parameters<typeof createConsumerRunner>[0]['delivery'];
    monitor: ReturnType<typeof createForecastMonitor>;
  },
  onFeature: (f: FeatureVector) => void,
) {
  const { platform, config, opts, monitor } = ctx;
  const { serde } = platform;
  const predictionsTopic = platform.kafka.topic('predictions');
  return createConsumerRunner({
    client: platform.kafka,
    groupId: opts.groupId ?? platform.kafka.groupId('trainer-monitor'),
    topics: [predictionsTopic, platform.kafka.topic('features')],
    handler: async (rec) => {
      if (rec.topic === predictionsTopic) {
        // Every horizon is checked before any is registered: an invalid record goes to the DLQ whole.
        for (const f of forecastsOf(await serde.decode('predictions', rec.value))) monitor.forecast(f);
      } else {
        const f = await serde.decode('features', rec.value);
        monitor.observe(f.symbol, f.interval, f.eventTime, f.close);
        onFeature(f);
      }
      return [];
    },
    deadLetter: createDeadLetterFactory({ serde, topicPrefix: platform.kafka.topicPrefix }),
    delivery: ctx.delivery,
    logger: ctx.logger,
    registry: platform.registry,
    maxAttempts: config.consumer.maxAttempts,
    retryBackoffMs: config.consumer.retryBackoffMs,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    onFatal: opts.onFatal,
  });
}

export async function createTrainerService(opts: TrainerServiceOptions): Promise<Service & { retrains(): number }> {
  const { platform, config } = opts;
  const { registry } = platform;
  const logger = platform.logger.child({ component: 'trainer' });
  // Read at start: a bad key setting fails the service now, not at the first retrain.
  const signing = startSigning(config.models, logger);
  const now = opts.now ?? Date.now;
  const r = config.retrain;
  const symbol = config.replay.symbol;
  const interval = config.replay.interval;
  const monitor = createForecastMonitor({ now });
  const retrainsTotal = counter(registry, 'bitpredict_trainer_retrains_total', 'Retrains by reason and outcome', ['reason', 'outcome']);
  let latestEventTime = -Infinity;
  let lastRetrainAt = now();
  // An expired champion is retrained at once (not a cooldown after start), then at most once per cooldown.
  let lastExpiredRetrainAt = -Infinity;
  const champion = { text: 'unknown (registry not read yet)', expired: false };
  let running: Promise<void> | null = null;
  let retrains = 0;
  let stopped = false;

  const scoresProducer = await createProducer(platform.kafka);
  const publisher = createScorePublisher({ platform, producer: scoresProducer, redis: opts.redis, keyPrefix: config.redis.keyPrefix });
  const flusher = createScoreFlusher({ take: (at) => monitor.takeChanged(at), publisher, now, logger });

  const delivery = await createDelivery(platform.kafka, 'at-least-once', opts.groupId ?? platform.kafka.groupId('trainer-monitor'));
  const runner = createMonitorRunner({ platform, config, opts, logger, delivery: delivery.mode, monitor }, (f) => {
    if (f.eventTime > latestEventTime && f.symbol === symbol && f.interval === interval) latestEventTime = f.eventTime;
  });

  /** The champion in the store, for readiness and the expiry trigger; a change is logged (a warning when the baselines serve). */
  async function refreshChampion(): Promise<void> {
    const next = await championState(config.models, now());
    if (next.text !== champion.text) {
      if (next.version === null || next.expired) logger.warn({ champion: next.version, expired: next.expired }, `no champion serves: ${next.text}`);
      else logger.info({ champion: next.version }, 'champion in the store');
    }
    champion.text = next.text;
    champion.expired = next.expired;
  }

  async function doRetrain(reason: RetrainReason): Promise<void> {
    lastRetrainAt = now();
    if (reason === 'expired') lastExpiredRetrainAt = lastRetrainAt;
    retrains++;
    // The window ends at the latest event time seen: live retraining uses recent data (see above).
    const dataEnd = latestEventTime;
    if (!Number.isFinite(dataEnd)) {
      logger.warn({ reason }, 'retrain skipped: no features seen yet');
      retrainsTotal.inc({ reason, outcome: 'no-data' });
      return;
    }
    const valTo = dataEnd;
    const trainTo = valTo - r.valDays * DAY;
    const trainFrom = trainTo - r.trainDays * DAY;
    logger.info(
      { reason, trainFrom: new Date(trainFrom).toISOString(), trainTo: new Date(trainTo).toISOString(), valTo: new Date(valTo).toISOString() },
      'retraining',
    );
    try {
      const out = await liveRetrain({ platform, config, T: opts.T, units: opts.units, logger, signing }, { symbol, interval, trainFrom, trainTo, valTo });
      retrainsTotal.inc({ reason, outcome: out.decision.promote ? 'promoted' : 'kept-champion' });
      logger.info({ reason, version: out.version, promoted: out.decision.promote, why: out.decision.reason }, 'retrain finished');
    } catch (err) {
      retrainsTotal.inc({ reason, outcome: 'failed' });
      logger.error({ reason, err }, 'retrain failed; the champion (or, without one, the baselines) keeps serving');
    }
    await refreshChampion().catch((err: unknown) => logger.error({ err }, 'cannot read the model registry'));
  }

  const check = (): void => {
    if (stopped) return;
    // The expiry passes with the wall clock, so the store is looked at on every check (a small file).
    if (!running) void refreshChampion().catch((err: unknown) => logger.error({ err }, 'cannot read the model registry'));
    if (running) return;
    const t = now();
    const due = r.intervalMs > 0 && t - lastRetrainAt >= r.intervalMs;
    const degradation = t - lastRetrainAt >= r.cooldownMs ? monitor.degradation(symbol, interval, r.degradeThreshold, r.minSamples) : null;
    const degraded = degradation !== null;
    if (degradation) logger.warn({ ...degradation }, 'live loss of the champion degraded against a baseline');
    // Only once data has arrived: an expired champion with nothing to train on waits for features.
    const expired = champion.expired && Number.isFinite(latestEventTime) && t - lastExpiredRetrainAt >= r.cooldownMs;
    if (!due && !degraded && !expired) return;
    running = doRetrain(degraded ? 'degraded' : expired ? 'expired' : 'schedule').finally(() => {
      running = null;
    });
  };
  let timer: NodeJS.Timeout | null = null;
  let scoresTimer: NodeJS.Timeout | null = null;

  return {
    name: 'trainer',
    async start() {
      // An unreadable registry must not stop the live monitor: readiness says so, the retrains will fail loudly.
      await refreshChampion().catch((err: unknown) => {
        champion.text = `unknown: the model registry is unreadable (${errorMessage(err)})`;
        logger.error({ err }, 'cannot read the model registry');
      });
      await runner.start();
      timer = setInterval(check, r.checkMs);
      timer.unref();
      scoresTimer = setInterval(() => void flusher.flush(), opts.scoresEveryMs ?? 1000);
      scoresTimer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      if (scoresTimer) clearInterval(scoresTimer);
      await runner.stop();
      // The scores of the last records handled go out before the producer closes.
      await flusher.flush();
      await scoresProducer.close();
      await delivery.close();
      // A retrain in progress finishes (its artifact is written atomically) before the process exits.
      if (running) await running;
    },
    readiness: () => {
      const wait = runner.dependencyWait();
      return {
        ready: runner.joined && !stopped && wait === null,
        checks: { kafka: runner.joined ? 'joined' : 'not joined', ...dependencyCheck(wait), retraining: running ? 'yes' : 'no', champion: champion.text },
      };
    },
    retrains: () => retrains,
  };
}
