// Redis client factory and the feature store's key layout (one place, so writers and readers
// agree). Values are JSON of the Avro record types; keys take the configured prefix.
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { BitPredictError, errorMessage } from './errors.js';
import { isLocalStackUrl, unreachableHint } from './stack-hint.js';

export type { ChainableCommander, Redis } from 'ioredis';

export function redisKeys(prefix: string) {
  return {
    /** Latest FeatureVector of a series (JSON). */
    featuresLatest: (symbol: string, interval: string) => `${prefix}features:latest:${symbol}:${interval}`,
    /** Feature vectors of a series (sorted set: score = eventTime, member = the topic's Confluent-framed Avro value), bounded. */
    featuresHistory: (symbol: string, interval: string) => `${prefix}features:history:${symbol}:${interval}`,
    /** The headline Prediction of a symbol (JSON): the champion's when one serves, else the preferred baseline's (see docs/predictor.md). */
    predictionsLatest: (symbol: string) => `${prefix}predictions:latest:${symbol}`,
    /** The latest Prediction of every forecaster of a symbol (hash: field "<interval>|<modelName>" -> Prediction JSON): the model beside every baseline; the gateway's snapshot on subscribe. */
    predictionsBoard: (symbol: string) => `${prefix}predictions:board:${symbol}`,
    /** The latest live Score of every forecaster, horizon and window of a symbol (hash: field "<interval>|<modelName>|<horizonSteps>|<windowMs>" -> Score JSON); written by the trainer's monitor. */
    scoresLatest: (symbol: string) => `${prefix}scores:latest:${symbol}`,
    /** Predictions of a symbol (sorted set: score = eventTime, member = Prediction JSON), bounded by BITPREDICT_GATEWAY_HISTORY_MAX; /v1/predictions reads it. */
    predictionsHistory: (symbol: string) => `${prefix}predictions:history:${symbol}`,
    /** Latest closed Candle of a series (JSON), the snapshot of the candles:<symbol> channel; written by the feature processor. */
    candlesLatest: (symbol: string, interval: string) => `${prefix}candles:latest:${symbol}:${interval}`,
    /** Closed candles of a series (sorted set: score = openTime, member = Candle JSON), bounded by BITPREDICT_FEATURES_CANDLE_HISTORY_MAX; GET /v1/candles reads it. Written by the feature processor. */
    candlesHistory: (symbol: string, interval: string) => `${prefix}candles:history:${symbol}:${interval}`,
    /** API keys of the gateway (hash: key id -> JSON record with the SHA-256 of the secret, never the key). */
    apiKeys: () => `${prefix}gateway:api-keys`,
  } as const;
}

export async function createRedis(deps: { url: string; logger: Logger; connectTimeoutMs?: number }): Promise<Redis> {
  const logger = deps.logger.child({ component: 'redis' });
  const client = new Redis(deps.url, {
    lazyConnect: true,
    connectTimeout: deps.connectTimeoutMs ?? 3000,
    maxRetriesPerRequest: 3,
    // Reconnect with capped backoff; commands fail fast (maxRetriesPerRequest) while it is down.
    retryStrategy: (times) => Math.min(times * 200, 3000),
  });
  client.on('error', (err) => logger.warn({ err }, 'redis error'));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new BitPredictError(
      'ERR_REDIS_UNREACHABLE',
      `Redis did not answer at ${deps.url} (${unreachableHint(isLocalStackUrl(deps.url, 'redis'), 'BITPREDICT_REDIS_URL')}): ${errorMessage(err)}`,
      { cause: err },
    );
  }
  return client;
}
