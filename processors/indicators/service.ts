// Indicator processor: market.candles -> features (Kafka) + latest feature per series (Redis).
// The pure indicator math lives in domain/; this shell decodes, validates, keeps one engine per
// symbol:interval series, and hands outputs to the consumer runner, which produces them and moves
// offsets (or dead-letters bad records).
import type { Redis } from '../../core/redis.js';
import { redisKeys } from '../../core/redis.js';
import type { Platform } from '../../core/runtime.js';
import type { Service } from '../../core/service.js';
import { BitPredictError } from '../../core/errors.js';
import { counter } from '../../core/metrics.js';
import type { RecordHandler } from '../../core/kafka/consumer.js';
import { createProcessor } from '../../core/processor.js';
import { topicName } from '../../schemas/index.js';
import { createIndicatorEngine } from './domain/indicators.js';
import { validateCandle } from '../../core/domain/candle.js';

type Engine = ReturnType<typeof createIndicatorEngine>;

export interface IndicatorProcessorOptions {
  platform: Platform;
  redis: Redis;
  groupId?: string;
  onFatal(err: BitPredictError): void;
  now?: () => number;
}

export function createIndicatorHandler(deps: { platform: Platform; redis: Redis; now: () => number }): RecordHandler {
  const { platform, redis, now } = deps;
  const { serde, config, registry } = platform;
  const keys = redisKeys(config.redis.keyPrefix);
  const featuresTopic = topicName('features', config.kafka.topicPrefix);
  const engines = new Map<string, Engine>();
  const skipped = counter(registry, 'bitpredict_indicators_skipped_total', 'Candles skipped by the indicator processor', ['reason']);
  const produced = counter(registry, 'bitpredict_indicators_features_total', 'Feature vectors produced');
  return async (rec) => {
    const candle = await serde.decode('candles', rec.value);
    const invalid = validateCandle(candle, now(), config.consumer.futureToleranceMs);
    if (invalid) throw new BitPredictError('ERR_VALIDATION', invalid.reason);
    const series = `${candle.symbol}:${candle.interval}`;
    const key = rec.key?.toString('utf8');
    if (key !== undefined && key !== series) throw new BitPredictError('ERR_VALIDATION', `record key "${key}" does not match the candle's series "${series}"`);
    let engine = engines.get(series);
    if (!engine) {
      engine = createIndicatorEngine();
      engines.set(series, engine);
    }
    const result = engine.update(candle, now());
    if (result.kind === 'duplicate') {
      // Same open time as the last candle of this series: a redelivery, already turned into a feature.
      skipped.inc({ reason: 'duplicate' });
      return [];
    }
    if (result.kind === 'out_of_order') {
      throw new BitPredictError('ERR_VALIDATION', `out of order: candle opening ${new Date(candle.openTime).toISOString()} arrived after ${new Date(result.lastOpenTime).toISOString()}`);
    }
    const feature = result.feature;
    const value = serde.encode('features', feature);
    await redis.set(keys.featuresLatest(feature.symbol, feature.interval), JSON.stringify(feature));
    produced.inc();
    return [{ topic: featuresTopic, key: series, value, timestamp: feature.eventTime }];
  };
}

export async function createIndicatorProcessor(opts: IndicatorProcessorOptions): Promise<Service> {
  const { platform, redis } = opts;
  const { config } = platform;
  return createProcessor({
    platform,
    name: 'indicators',
    groupId: opts.groupId ?? `${config.kafka.clientId}-indicators`,
    input: 'candles',
    handler: createIndicatorHandler({ platform, redis, now: opts.now ?? Date.now }),
    onFatal: opts.onFatal,
  });
}
