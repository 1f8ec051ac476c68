// Predictor: features -> predictions (Kafka) + latest prediction per symbol (Redis, the gateway's
// snapshot). Until the LSTM lands the model is a clearly labelled baseline (isBaseline=true on
// every record), behind the same PredictionModel interface the trained model will implement.
import type { Redis } from '../../core/redis.js';
import { redisKeys } from '../../core/redis.js';
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { counter, histogram } from '../../core/metrics.js';
import type { RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import { topicName } from '../../schemas/index.js';
import { createEmaDriftBaseline, type PredictionModel } from './domain/baseline.js';

export interface PredictorOptions {
  platform: Platform;
  redis: Redis;
  groupId?: string;
  model?: PredictionModel;
  onFatal(err: BitPredictError): void;
  now?: () => number;
}

export function createPredictorHandler(deps: { platform: Platform; redis: Redis; model: PredictionModel; now: () => number }): RecordHandler {
  const { platform, redis, model, now } = deps;
  const { serde, config, registry } = platform;
  const keys = redisKeys(config.redis.keyPrefix);
  const predictionsTopic = topicName('predictions', config.kafka.topicPrefix);
  const made = counter(registry, 'bitpredict_predictor_predictions_total', 'Predictions produced', ['model']);
  const lag = histogram(registry, 'bitpredict_predictor_pipeline_seconds', 'Candle ingestion to prediction, wall clock', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30]);
  const lastEventTime = new Map<string, number>();
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
    const p = model.predict(f, now());
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
  logger.info({ model: model.name, version: model.version, baseline: model.isBaseline }, 'predictor model');
  return createProcessor({
    platform,
    name: 'predictor',
    groupId: opts.groupId ?? `${config.kafka.clientId}-predictor`,
    input: 'features',
    handler: createPredictorHandler({ platform, redis, model, now: opts.now ?? Date.now }),
    flushEvery: 200,
    onFatal: opts.onFatal,
    checks: () => ({ model: `${model.name}@${model.version}` }),
  });
}
