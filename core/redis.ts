// Redis client factory and the feature store's key layout (one place, so writers and readers
// agree). Values are JSON of the Avro record types; keys take the configured prefix.
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { BitPredictError, errorMessage } from './errors.js';
import { isLocalStackUrl, unreachableHint } from './stack-hint.js';
import type { Config } from './config.js';
import { redisConnectionFromConfig, type RedisConnection } from './connection-security.js';
import { tlsFailureOf } from './kafka/security.js';

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

/** WRONGPASS, NOAUTH or NOPERM: Redis refused the login or the command (the ACL). */
const AUTH_REPLY = /^(WRONGPASS|NOAUTH|NOPERM)\b/;

/**
 * A Redis error as a BitPredictError: a refused login or command (ERR_REDIS_AUTH), a failed TLS
 * handshake (ERR_REDIS_TLS), else `fallback`. The messages name the settings, never a password.
 */
export function redisError(err: unknown, conn: Pick<RedisConnection, 'shownUrl' | 'origin'>, fallback: () => BitPredictError): BitPredictError {
  const message = errorMessage(err);
  const auth = AUTH_REPLY.exec(message);
  if (auth) {
    const what =
      auth[1] === 'NOPERM'
        ? `the user has no permission for this command or key; check its ACL (ACL GETUSER) and ${conn.origin.auth}`
        : `check ${conn.origin.auth}`;
    return new BitPredictError('ERR_REDIS_AUTH', `Redis at ${conn.shownUrl} refused: ${message}; ${what}`, { cause: err });
  }
  const code = (err as { code?: unknown }).code;
  const tls = tlsFailureOf(typeof code === 'string' ? code : '', message);
  if (tls !== null) {
    const hint =
      tls === 'untrusted'
        ? `the Redis certificate is not signed by a CA this client trusts; check ${conn.origin.tls}`
        : tls === 'hostname'
          ? `the Redis certificate does not name the host in BITPREDICT_REDIS_URL; use the name it gives, or (test setups only) BITPREDICT_REDIS_SSL_VERIFY=false (${conn.origin.tls})`
          : `check that the port speaks TLS (rediss:// in BITPREDICT_REDIS_URL) and the client certificate (${conn.origin.tls})`;
    return new BitPredictError('ERR_REDIS_TLS', `the TLS handshake with Redis at ${conn.shownUrl} failed (${message}); ${hint}`, { cause: err });
  }
  return fallback();
}

/**
 * Connects to Redis with the login and TLS of the redis section (BITPREDICT_REDIS_*), and checks
 * it with PING. A refused login or TLS handshake fails at once (not retryable): ioredis would
 * otherwise reconnect forever, each time with the same wrong password or CA.
 */
export async function createRedis(deps: { config: Config['redis']; logger: Logger; connectTimeoutMs?: number }): Promise<Redis> {
  const logger = deps.logger.child({ component: 'redis' });
  // Reads the CA, key and password files now: a wrong path is ERR_CONFIG_INVALID at start.
  const conn = redisConnectionFromConfig(deps.config);
  // Set by the error listener; read by the retry strategy and the connect failure.
  const seen: { fatal: BitPredictError | null } = { fatal: null };
  const client = new Redis(conn.url, {
    lazyConnect: true,
    connectTimeout: deps.connectTimeoutMs ?? 3000,
    maxRetriesPerRequest: 3,
    ...(conn.username === undefined ? {} : { username: conn.username }),
    ...(conn.password === undefined ? {} : { password: conn.password }),
    ...(conn.tls === null ? {} : { tls: conn.tls }),
    // Reconnect with capped backoff; commands fail fast (maxRetriesPerRequest) while it is down.
    // A refused login or handshake does not fix itself: stop reconnecting and say why.
    retryStrategy: (times) => (seen.fatal === null ? Math.min(times * 200, 3000) : null),
  });
  client.on('error', (err: unknown) => {
    const mapped = redisError(err, conn, () => new BitPredictError('ERR_REDIS', errorMessage(err)));
    if (mapped.code === 'ERR_REDIS_AUTH' || mapped.code === 'ERR_REDIS_TLS') seen.fatal ??= mapped;
    // ioredis' error may quote the URL it dialled; log the settings' words, not the error object.
    logger.warn({ code: mapped.code, url: conn.shownUrl }, mapped.message);
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw redisError(
      seen.fatal?.cause ?? err,
      conn,
      () =>
        new BitPredictError(
          'ERR_REDIS_UNREACHABLE',
          `Redis did not answer at ${conn.shownUrl} (${unreachableHint(isLocalStackUrl(conn.url, 'redis'), 'BITPREDICT_REDIS_URL')}): ${errorMessage(err)}`,
          { cause: err },
        ),
    );
  }
  return client;
}
