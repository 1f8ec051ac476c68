// Trainer service (`bitpredict trainer`): keeps the model fresh and honest.
// - Live monitor: reads `predictions` and `features`; when the candle a prediction was about
//   closes, its error is scored beside persistence's (trainer/domain/monitor.ts) and exported to
//   Prometheus (bitpredict_monitor_*).
// - Retraining: on a schedule (BITPREDICT_RETRAIN_INTERVAL_MS), and early when the model's rolling
//   live MSE exceeds persistence's by BITPREDICT_RETRAIN_DEGRADE_THRESHOLD over at least
//   BITPREDICT_RETRAIN_MIN_SAMPLES predictions, at most once per BITPREDICT_RETRAIN_COOLDOWN_MS. A
//   retrain reads the features topic (the last BITPREDICT_RETRAIN_TRAIN_DAYS + _VAL_DAYS days of
//   event time seen) and promotes only by the champion/challenger rule (trainer/retrain.ts).
//   For hourly data the range never reaches into the final evaluation window (2025-01-01 on):
//   this project's evaluation rule forbids fitting on it, so the range ends there.
import type { Platform } from '../core/runtime.js';
import type { Service } from '../core/service.js';
import type { BitPredictError } from '../core/errors.js';
import { counter, gauge, type Registry } from '../core/metrics.js';
import { createConsumerRunner } from '../core/kafka/consumer.js';
import { createDelivery } from '../core/kafka/delivery.js';
import { createDeadLetterFactory } from '../core/kafka/dlq.js';
import { createErrorMonitor, type ErrorMonitor } from './domain/monitor.js';
import { FINAL_WINDOW_START } from '../core/models/domain/dataset.js';
import { readFeaturesFromTopic } from './data.js';
import { loadTf } from '../core/models/tf.js';
import { retrain } from './retrain.js';
import { announce } from '../core/models/registry.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import { seriesKey } from '../schemas/keys.js';
import type { Config } from '../core/config.js';

const DAY = 86_400_000;

/** The slice of the configuration the trainer service reads (the series it watches is the replay's symbol and interval). */
export type TrainerConfig = Pick<Config, 'consumer' | 'models' | 'replay' | 'retrain'>;

export interface TrainerServiceOptions {
  platform: Platform;
  config: TrainerConfig;
  onFatal(err: BitPredictError): void;
  now?: () => number;
  groupId?: string;
  /** Model window length (steps). */
  T?: number;
  units?: number;
}

/** The live monitor's gauges (model and baseline), set from its snapshot after each realised outcome. */
function createMonitorGauges(registry: Registry, monitor: ErrorMonitor): () => void {
  const mse = gauge(registry, 'bitpredict_monitor_mse', 'Rolling live MSE of next-period log-return predictions', ['kind']);
  const pmse = gauge(registry, 'bitpredict_monitor_persistence_mse', 'Rolling live MSE of persistence (zero return) on the same predictions', ['kind']);
  const rel = gauge(registry, 'bitpredict_monitor_relative_mse', 'Rolling live MSE / persistence MSE - 1 (positive: worse than no change)', ['kind']);
  const da = gauge(registry, 'bitpredict_monitor_directional_accuracy', 'Rolling live directional accuracy', ['kind']);
  const samples = gauge(registry, 'bitpredict_monitor_samples', 'Scored predictions in the rolling window', ['kind']);
  return () => {
    for (const kind of ['model', 'baseline'] as const) {
      const s = monitor.snapshot(kind);
      samples.set({ kind }, s.n);
      if (s.mse !== null) mse.set({ kind }, s.mse);
      if (s.persistenceMse !== null) pmse.set({ kind }, s.persistenceMse);
      if (s.relative !== null) rel.set({ kind }, s.relative);
      if (s.directionalAccuracy !== null) da.set({ kind }, s.directionalAccuracy);
    }
  };
}

export async function createTrainerService(opts: TrainerServiceOptions): Promise<Service & { retrains(): number }> {
  const { platform, config } = opts;
  const { registry, serde } = platform;
  const logger = platform.logger.child({ service: 'trainer' });
  const now = opts.now ?? Date.now;
  const r = config.retrain;
  const symbol = config.replay.symbol;
  const interval = config.replay.interval;
  const predictionsTopic = platform.kafka.topic('predictions');
  const featuresTopic = platform.kafka.topic('features');
  const monitor = createErrorMonitor({ window: r.monitorWindow });
  const retrainsTotal = counter(registry, 'bitpredict_trainer_retrains_total', 'Retrains by reason and outcome', ['reason', 'outcome']);
  let latestEventTime = -Infinity;
  let lastRetrainAt = now();
  let running: Promise<void> | null = null;
  let retrains = 0;
  let stopped = false;

  const publish = createMonitorGauges(registry, monitor);

  const delivery = await createDelivery(platform.kafka, 'at-least-once', opts.groupId ?? platform.kafka.groupId('trainer-monitor'));
  const runner = createConsumerRunner({
    client: platform.kafka,
    groupId: opts.groupId ?? platform.kafka.groupId('trainer-monitor'),
    topics: [predictionsTopic, featuresTopic],
    handler: async (rec) => {
      if (rec.topic === predictionsTopic) {
        const p = await serde.decode('predictions', rec.value);
        monitor.predicted({
          series: seriesKey(p.symbol, p.interval),
          targetTime: p.targetTime,
          predictedLogReturn: p.predictedLogReturn,
          modelVersion: p.modelVersion,
          isBaseline: p.isBaseline,
        });
      } else {
        const f = await serde.decode('features', rec.value);
        if (f.eventTime > latestEventTime && f.symbol === symbol && f.interval === interval) latestEventTime = f.eventTime;
        if (monitor.realised(seriesKey(f.symbol, f.interval), f.eventTime, f.logReturn1) > 0) publish();
      }
      return [];
    },
    deadLetter: createDeadLetterFactory({ serde, topicPrefix: platform.kafka.topicPrefix }),
    delivery: delivery.mode,
    logger,
    registry,
    maxAttempts: config.consumer.maxAttempts,
    retryBackoffMs: config.consumer.retryBackoffMs,
    sessionTimeoutMs: config.consumer.sessionTimeoutMs,
    onFatal: opts.onFatal,
  });

  async function doRetrain(reason: 'schedule' | 'degraded'): Promise<void> {
    lastRetrainAt = now();
    retrains++;
    const dataEnd = interval === '1h' ? Math.min(latestEventTime, FINAL_WINDOW_START) : latestEventTime;
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
      const loaded = await loadTf();
      const series = await readFeaturesFromTopic(platform, { symbol, interval, from: trainFrom - 200 * 3_600_000, to: valTo });
      const out = await retrain({
        config,
        loaded,
        series,
        symbol,
        interval,
        trainFrom,
        trainTo,
        valTo,
        T: opts.T ?? 48,
        seed: 42,
        epochs: r.epochs,
        units: opts.units ?? MODEL_DEFAULTS.units,
        log: (line) => logger.info(line),
        announce: (meta) => announce(platform, meta, config.models.storeDir),
      });
      retrainsTotal.inc({ reason, outcome: out.decision.promote ? 'promoted' : 'kept-champion' });
      logger.info({ reason, version: out.version, promoted: out.decision.promote, why: out.decision.reason }, 'retrain finished');
      if (out.decision.promote) monitor.reset();
    } catch (err) {
      retrainsTotal.inc({ reason, outcome: 'failed' });
      logger.error({ reason, err }, 'retrain failed; the champion keeps serving');
    }
  }

  const check = (): void => {
    if (running || stopped) return;
    const t = now();
    const due = r.intervalMs > 0 && t - lastRetrainAt >= r.intervalMs;
    const degraded = monitor.degraded(r.degradeThreshold, r.minSamples) && t - lastRetrainAt >= r.cooldownMs;
    if (!due && !degraded) return;
    running = doRetrain(degraded ? 'degraded' : 'schedule').finally(() => {
      running = null;
    });
  };
  let timer: NodeJS.Timeout | null = null;

  return {
    name: 'trainer',
    async start() {
      await runner.start();
      timer = setInterval(check, r.checkMs);
      timer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      await runner.stop();
      await delivery.close();
      // A retrain in progress finishes (its artifact is written atomically) before the process exits.
      if (running) await running;
    },
    readiness: () => ({ ready: runner.joined && !stopped, checks: { kafka: runner.joined ? 'joined' : 'not joined', retraining: running ? 'yes' : 'no' } }),
    retrains: () => retrains,
  };
}
