// Configuration is read from the environment once per process, validated as a whole, and passed
// down as a typed object. Nothing else in the code base reads process.env. Invalid config fails
// fast with one error that lists every bad key (ERR_CONFIG_INVALID).
import { hostname } from 'node:os';
import { BitPredictError } from './errors.js';

type Kind = 'string' | 'int' | 'number' | 'boolean' | 'list' | 'enum';

interface KeySpec {
  readonly kind: Kind;
  readonly default: string;
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

/** Every configuration key, its default and meaning. docs/configuration.md is checked against this table. */
export const CONFIG_KEYS = {
  BITPREDICT_LOG_LEVEL: { kind: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], doc: 'pino log level' },
  BITPREDICT_KAFKA_BROKERS: { kind: 'list', default: '127.0.0.1:9092', doc: 'comma-separated Kafka bootstrap addresses; the local stack listens on the first' },
  BITPREDICT_KAFKA_CLIENT_ID: { kind: 'string', default: 'bitpredict', doc: 'Kafka client id prefix' },
  BITPREDICT_TOPIC_PREFIX: { kind: 'string', default: '', doc: 'environment prefix put before every topic name (for example "staging.")' },
  BITPREDICT_TOPIC_PARTITIONS: { kind: 'int', default: '3', min: 1, max: 1000, doc: 'partitions for topics that BitPredict creates' },
  BITPREDICT_TOPIC_REPLICATION: { kind: 'int', default: '1', min: 1, max: 10, doc: 'replication factor for topics that BitPredict creates' },
  BITPREDICT_REGISTRY_URL: { kind: 'string', default: 'http://127.0.0.1:8081/apis/ccompat/v7', doc: 'Confluent-compatible schema registry base URL' },
  BITPREDICT_REDIS_URL: { kind: 'string', default: 'redis://127.0.0.1:6379', doc: 'Redis URL of the feature store' },
  BITPREDICT_REDIS_KEY_PREFIX: { kind: 'string', default: 'bp:', doc: 'prefix of every Redis key BitPredict writes' },
  BITPREDICT_INSTANCE_ID: { kind: 'string', default: '', doc: 'name of this process instance in the names of its private consumer groups (the feature processor\'s text reader, the gateway); empty: hostname-pid' },
  BITPREDICT_PROCESSING_GUARANTEE: { kind: 'enum', default: 'at-least-once', values: ['at-least-once', 'exactly-once'], doc: 'processors: at-least-once (idempotent producer, commit after produce) or exactly-once (Kafka transactions)' },
  BITPREDICT_DLQ_MAX_ATTEMPTS: { kind: 'int', default: '3', min: 1, max: 100, doc: 'attempts for a retryable handler error before the record goes to the DLQ' },
  BITPREDICT_RETRY_BACKOFF_MS: { kind: 'int', default: '200', min: 0, max: 60_000, doc: 'base backoff between handler attempts (doubles each attempt)' },
  BITPREDICT_FUTURE_TOLERANCE_MS: { kind: 'int', default: '300000', min: 0, doc: 'how far in the future an event time may lie before a record is rejected' },
  BITPREDICT_SHUTDOWN_TIMEOUT_MS: { kind: 'int', default: '15000', min: 100, doc: 'deadline for graceful shutdown' },
  BITPREDICT_HEALTH_PORT: { kind: 'int', default: '0', min: 0, max: 65535, doc: 'port of the /healthz, /readyz, /metrics server of workers (0: off)' },
  BITPREDICT_DATA_DIR: { kind: 'string', default: '../shared/data', doc: 'folder of the real data sets used by replay' },
  BITPREDICT_REPLAY_FILE: { kind: 'string', default: 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv', doc: 'replay file, relative to the data folder or absolute' },
  BITPREDICT_REPLAY_SYMBOL: { kind: 'string', default: 'BTCUSDT', doc: 'symbol of the replayed candles' },
  BITPREDICT_REPLAY_INTERVAL: { kind: 'enum', default: '1h', values: ['1m', '5m', '15m', '1h', '4h', '1d'], doc: 'interval of the replayed candles' },
  BITPREDICT_REPLAY_RATE: { kind: 'number', default: '0', min: 0, doc: 'candles per second of replay (0: as fast as possible)' },
  BITPREDICT_REPLAY_FROM: { kind: 'string', default: '', doc: 'first candle open time to replay (ISO 8601, empty: file start)' },
  BITPREDICT_REPLAY_TO: { kind: 'string', default: '', doc: 'replay candles opening before this time (ISO 8601, empty: file end)' },
  BITPREDICT_REPLAY_LIMIT: { kind: 'int', default: '0', min: 0, doc: 'stop after this many candles (0: no limit)' },
  BITPREDICT_REPLAY_SPEED_FACTOR: { kind: 'number', default: '0', min: 0, doc: 'replay at N x real time by the candles\' own spacing (3600: one hour of data per second); 0: off. Exclusive with BITPREDICT_REPLAY_RATE' },
  BITPREDICT_REPLAY_RESUME: { kind: 'boolean', default: 'true', doc: 'replay: skip candles already in market.candles (dedupe on restart)' },
  BITPREDICT_MARKET_EXCHANGES: { kind: 'list', default: 'binance,coinbase', doc: 'live market-data sources (binance, coinbase)' },
  BITPREDICT_MARKET_SYMBOLS: { kind: 'list', default: 'BTCUSDT', doc: 'symbols to stream, in BitPredict form (BTCUSDT; Coinbase maps it to BTC-USD)' },
  BITPREDICT_MARKET_INTERVALS: { kind: 'list', default: '1m', doc: 'candle intervals to publish from live sources' },
  BITPREDICT_MARKET_GRACE_MS: { kind: 'int', default: '2000', min: 0, max: 600_000, doc: 'trade-built candles close when the watermark passes closeTime + grace' },
  BITPREDICT_BINANCE_WS_URL: { kind: 'string', default: 'wss://stream.binance.com:9443', doc: 'Binance WebSocket base URL' },
  BITPREDICT_BINANCE_REST_URL: { kind: 'string', default: 'https://api.binance.com', doc: 'Binance REST base URL (gap fill)' },
  BITPREDICT_COINBASE_WS_URL: { kind: 'string', default: 'wss://ws-feed.exchange.coinbase.com', doc: 'Coinbase Exchange WebSocket URL' },
  BITPREDICT_COINBASE_REST_URL: { kind: 'string', default: 'https://api.exchange.coinbase.com', doc: 'Coinbase Exchange REST base URL (gap fill)' },
  BITPREDICT_WS_HEARTBEAT_TIMEOUT_MS: { kind: 'int', default: '30000', min: 100, doc: 'an exchange socket silent this long counts as dead and is reconnected' },
  BITPREDICT_RECONNECT_BASE_MS: { kind: 'int', default: '500', min: 1, doc: 'first reconnect delay; doubles per attempt, with jitter' },
  BITPREDICT_RECONNECT_MAX_MS: { kind: 'int', default: '30000', min: 1, doc: 'longest reconnect delay' },
  BITPREDICT_POLL_URL: { kind: 'string', default: 'https://min-api.cryptocompare.com', doc: 'REST polling fallback base URL (CryptoCompare-style histominute/histohour)' },
  BITPREDICT_POLL_INTERVAL_MS: { kind: 'int', default: '60000', min: 100, doc: 'REST polling fallback period' },
  BITPREDICT_RSS_FEEDS: { kind: 'string', default: '', doc: 'comma-separated RSS/Atom feed URLs (empty: news polling off)' },
  BITPREDICT_RSS_POLL_INTERVAL_MS: { kind: 'int', default: '300000', min: 100, doc: 'how often each feed is fetched (conditional GET)' },
  BITPREDICT_RSS_QUIET_AFTER_MS: { kind: 'int', default: '21600000', min: 1000, doc: 'a feed with no new item for this long is reported quiet (metric)' },
  BITPREDICT_X_BEARER_TOKEN: { kind: 'string', default: '', doc: 'X API v2 bearer token (empty: X source disabled); never logged' },
  BITPREDICT_X_API_URL: { kind: 'string', default: 'https://api.twitter.com', doc: 'X API base URL' },
  BITPREDICT_X_QUERY: { kind: 'string', default: '(bitcoin OR btc) -is:retweet lang:en', doc: 'X recent-search query' },
  BITPREDICT_X_POLL_INTERVAL_MS: { kind: 'int', default: '60000', min: 100, doc: 'X recent-search period (rate-limit headers may stretch it)' },
  BITPREDICT_TEXT_REPLAY_FILE: { kind: 'string', default: 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv', doc: 'text replay file (tweets CSV or the semicolon news CSV), relative to the data folder or absolute' },
  BITPREDICT_CONSUMER_SESSION_TIMEOUT_MS: { kind: 'int', default: '30000', min: 6000, max: 300_000, doc: 'consumer group session timeout: a crashed (SIGKILLed) member holds its partitions this long before the group moves them (the broker allows 6000 and up by default)' },
  BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS: { kind: 'int', default: '5000', min: 0, doc: 'stateful processors: shortest time between Redis snapshots of one partition\'s state, taken after a commit (0: after every commit)' },
  BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS: { kind: 'int', default: '14400000', min: 1000, doc: 'W: features aggregate the sentiment of texts published in (t - W, t]' },
  BITPREDICT_FEATURES_TEXT_LATENESS_MS: { kind: 'int', default: '60000', min: 0, doc: 'texts may arrive this much out of publication order; a feature at t waits until the text stream has passed t + this, or has caught up' },
  BITPREDICT_FEATURES_TEXT_MAX_WAIT_MS: { kind: 'int', default: '5000', min: 0, doc: 'longest a candle waits for a lagging text stream before its feature is computed with the texts known (counted)' },
  BITPREDICT_FEATURES_HISTORY_MAX: { kind: 'int', default: '5000', min: 1, doc: 'feature vectors kept per series in the Redis history (time-indexed)' },
  BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR: { kind: 'string', default: '', doc: 'folder holding FinBERT model folders (<dir>/<org>/<name>/...); empty: FinBERT off, VADER only. Never downloaded' },
  BITPREDICT_SENTIMENT_FINBERT_MODEL_ID: { kind: 'string', default: 'ProsusAI/finbert', doc: 'FinBERT model id: the sub-folder of the models folder' },
  BITPREDICT_SENTIMENT_BATCH_SIZE: { kind: 'int', default: '32', min: 1, max: 1024, doc: 'texts per FinBERT inference batch' },
  BITPREDICT_MODEL_STORE_DIR: { kind: 'string', default: '.models', doc: 'model store folder: <dir>/<name>/<version>/ artifacts and <dir>/<name>/registry.json (champion and history)' },
  BITPREDICT_MODEL_NAME: { kind: 'string', default: 'lstm-attention', doc: 'name of the trained model (the key of its record in the models topic)' },
  BITPREDICT_MODEL_PROMOTION_MARGIN: { kind: 'number', default: '0.01', min: 0, max: 1, doc: 'a retrained model replaces the champion only if its validation MSE is this much lower (relative; 0.01 = 1 %) on the same window; without a champion it must beat persistence by it' },
  BITPREDICT_MODEL_EXPIRY_DAYS: { kind: 'number', default: '30', min: 0, doc: 'a trained model expires this many days after it is created (the predictor refuses it from then on); 0: never' },
  BITPREDICT_RETRAIN_INTERVAL_MS: { kind: 'int', default: '604800000', min: 0, doc: 'trainer service: retrain this often (ms; 0: no scheduled retraining)' },
  BITPREDICT_RETRAIN_DEGRADE_THRESHOLD: { kind: 'number', default: '0.05', min: 0, doc: 'trainer service: retrain early when the live rolling MSE of the model exceeds persistence\'s by this much (0.05 = 5 %)' },
  BITPREDICT_RETRAIN_MIN_SAMPLES: { kind: 'int', default: '168', min: 1, doc: 'trainer service: scored live predictions needed before degradation can trigger a retrain' },
  BITPREDICT_RETRAIN_COOLDOWN_MS: { kind: 'int', default: '86400000', min: 0, doc: 'trainer service: shortest time between two retrains' },
  BITPREDICT_RETRAIN_CHECK_MS: { kind: 'int', default: '60000', min: 10, doc: 'trainer service: how often the schedule and the live error are checked' },
  BITPREDICT_RETRAIN_TRAIN_DAYS: { kind: 'int', default: '730', min: 1, doc: 'trainer service: days of training data before the validation range' },
  BITPREDICT_RETRAIN_VAL_DAYS: { kind: 'int', default: '30', min: 1, doc: 'trainer service: days of validation data (early stopping and champion/challenger) at the end of the data' },
  BITPREDICT_RETRAIN_EPOCHS: { kind: 'int', default: '8', min: 1, doc: 'trainer service: maximum epochs per retrain' },
  BITPREDICT_MONITOR_WINDOW: { kind: 'int', default: '720', min: 1, doc: 'trainer service: scored live predictions in the rolling error window' },
  BITPREDICT_GATEWAY_HOST: { kind: 'string', default: '127.0.0.1', doc: 'address the gateway listens on' },
  BITPREDICT_GATEWAY_PORT: { kind: 'int', default: '8080', min: 0, max: 65535, doc: 'port of the gateway (HTTP and WebSocket)' },
  BITPREDICT_WS_MAX_BUFFERED_BYTES: { kind: 'int', default: '1048576', min: 1024, doc: 'a WebSocket client whose send buffer exceeds this is disconnected as too slow (close code 4008)' },
  BITPREDICT_GATEWAY_AUTH: { kind: 'enum', default: 'keys', values: ['keys', 'open'], doc: 'keys: every REST route under /v1 and every WebSocket needs an API key (bitpredict keys create); open: no key needed, for local demos only (the demo sets it)' },
  BITPREDICT_GATEWAY_ALLOWED_ORIGINS: { kind: 'string', default: '', doc: 'comma-separated browser origins (scheme://host[:port]) allowed to open WebSockets and call the API besides the gateway\'s own; a request with any other Origin header gets 403 ERR_ORIGIN_FORBIDDEN' },
  BITPREDICT_GATEWAY_REPLAY_BUFFER: { kind: 'int', default: '1000', min: 0, max: 1000000, doc: 'messages kept per WebSocket channel for resume after a reconnect; older ones answer with a gap message' },
  BITPREDICT_GATEWAY_HEARTBEAT_MS: { kind: 'int', default: '30000', min: 100, doc: 'interval of WebSocket pings; a client that has not answered the previous ping is terminated' },
  BITPREDICT_GATEWAY_IDLE_TIMEOUT_MS: { kind: 'int', default: '300000', min: 0, doc: 'a WebSocket client with no subscription and no message from it for this long is closed (4000); 0 disables' },
  BITPREDICT_GATEWAY_MAX_SUBSCRIPTIONS: { kind: 'int', default: '50', min: 1, max: 10000, doc: 'channels one WebSocket connection may subscribe to' },
  BITPREDICT_GATEWAY_CLIENT_RATE: { kind: 'int', default: '20', min: 1, doc: 'messages per second a WebSocket client may send (token bucket, burst of twice this); beyond it requests are refused, and a client that keeps on is closed (4029)' },
  BITPREDICT_GATEWAY_KEY_RECHECK_MS: { kind: 'int', default: '10000', min: 100, doc: 'how often open WebSockets re-check their API key; a revoked key\'s connections close (4001) within this time' },
  BITPREDICT_GATEWAY_HISTORY_MAX: { kind: 'int', default: '10000', min: 1, doc: 'predictions per symbol kept in the Redis history that /v1/predictions reads (written by the predictor)' },
  BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: { kind: 'boolean', default: 'false', doc: 'true: /readyz does not wait for a champion model on the models topic (baseline predictions only; the demo sets it)' },
  BITPREDICT_STACK_DIR: { kind: 'string', default: '.stack', doc: 'run folder of the local stack: downloaded jars, data, logs, pids' },
  BITPREDICT_STACK_KAFKA_VERSION: { kind: 'string', default: '4.1.1', doc: 'Apache Kafka version fetched from Maven Central' },
  BITPREDICT_STACK_APICURIO_VERSION: { kind: 'string', default: '3.3.3', doc: 'Apicurio Registry version fetched from Maven Central' },
  BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: { kind: 'int', default: '9093', min: 1, max: 65535, doc: 'KRaft controller port of the local Kafka' },
  BITPREDICT_STACK_KAFKA_HEAP: { kind: 'string', default: '512m', doc: 'JVM heap of the local Kafka' },
  BITPREDICT_STACK_REGISTRY_MANAGEMENT_PORT: { kind: 'int', default: '8091', min: 1, max: 65535, doc: 'Apicurio management (health) port' },
  BITPREDICT_STACK_REGISTRY_HEAP: { kind: 'string', default: '512m', doc: 'JVM heap of the local Apicurio Registry' },
  BITPREDICT_STACK_JAVA_HOME: { kind: 'string', default: '', doc: 'JDK folder to try first for the local stack (empty: JAVA_HOME, then java on PATH, then /usr/lib/jvm/*)' },
  BITPREDICT_STACK_START_TIMEOUT_MS: { kind: 'int', default: '180000', min: 1000, doc: 'how long stack up waits for each server to become ready' },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;

export interface Config {
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  kafka: { brokers: string[]; clientId: string; topicPrefix: string; partitions: number; replicationFactor: number };
  registry: { url: string };
  redis: { url: string; keyPrefix: string };
  instanceId: string;
  consumer: { maxAttempts: number; retryBackoffMs: number; futureToleranceMs: number; guarantee: 'at-least-once' | 'exactly-once'; sessionTimeoutMs: number };
  shutdownTimeoutMs: number;
  healthPort: number;
  data: { dir: string };
  replay: { file: string; symbol: string; interval: string; rate: number; from: number | null; to: number | null; limit: number; resume: boolean; speedFactor: number };
  gateway: {
    host: string; port: number; maxBufferedBytes: number; auth: 'keys' | 'open'; allowedOrigins: string[]; replayBuffer: number;
    heartbeatMs: number; idleTimeoutMs: number; maxSubscriptions: number; clientRate: number; keyRecheckMs: number; historyMax: number;
    readyWithoutChampion: boolean;
  };
  market: {
    exchanges: string[];
    symbols: string[];
    intervals: string[];
    graceMs: number;
    binance: { wsUrl: string; restUrl: string };
    coinbase: { wsUrl: string; restUrl: string };
    heartbeatTimeoutMs: number;
    reconnectBaseMs: number;
    reconnectMaxMs: number;
    poll: { url: string; intervalMs: number };
  };
  text: {
    rssFeeds: string[];
    rssPollIntervalMs: number;
    rssQuietAfterMs: number;
    x: { bearerToken: string; apiUrl: string; query: string; pollIntervalMs: number };
    replayFile: string;
  };
  features: { sentimentWindowMs: number; textLatenessMs: number; textMaxWaitMs: number; historyMax: number; snapshotIntervalMs: number };
  sentiment: { finbertModelsDir: string; finbertModelId: string; batchSize: number };
  models: { storeDir: string; name: string; promotionMargin: number; expiryDays: number };
  retrain: { intervalMs: number; degradeThreshold: number; minSamples: number; cooldownMs: number; checkMs: number; trainDays: number; valDays: number; epochs: number; monitorWindow: number };
  stack: {
    dir: string;
    kafkaVersion: string;
    apicurioVersion: string;
    kafkaControllerPort: number;
    kafkaHeap: string;
    registryManagementPort: number;
    registryHeap: string;
    startTimeoutMs: number;
    javaHome: string | undefined;
  };
}

type Raw = Record<ConfigKey, string | number | boolean | string[]>;

function parseValue(key: ConfigKey, spec: KeySpec, text: string, problems: string[]): string | number | boolean | string[] {
  switch (spec.kind) {
    case 'string':
      return text;
    case 'list': {
      const items = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
      if (items.length === 0) problems.push(`${key}: must list at least one value`);
      return items;
    }
    case 'enum':
      if (!spec.values?.includes(text)) problems.push(`${key}: "${text}" is not one of ${spec.values?.join(', ')}`);
      return text;
    case 'boolean':
      if (!['true', 'false', '1', '0'].includes(text)) problems.push(`${key}: "${text}" is not a boolean`);
      return text === 'true' || text === '1';
    case 'int':
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
        problems.push(`${key}: "${text}" is not ${spec.kind === 'int' ? 'an integer' : 'a number'}`);
        return 0;
      }
      if (spec.min !== undefined && n < spec.min) problems.push(`${key}: ${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) problems.push(`${key}: ${n} is above the maximum ${spec.max}`);
      return n;
    }
  }
}

function parseTime(key: string, text: string, problems: string[]): number | null {
  if (text === '') return null;
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    problems.push(`${key}: "${text}" is not an ISO 8601 time`);
    return null;
  }
  return t;
}

/**
 * Reads and validates configuration. `overrides` win over `env`; tests and the CLI use them to
 * set values without touching process.env.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<ConfigKey, string>> = {}): Config {
  const problems: string[] = [];
  const raw = {} as Raw;
  for (const [key, spec] of Object.entries(CONFIG_KEYS) as [ConfigKey, KeySpec][]) {
    const text = overrides[key] ?? env[key] ?? spec.default;
    raw[key] = parseValue(key, spec, text, problems);
  }
  for (const key of Object.keys(env)) {
    if (key.startsWith('BITPREDICT_') && !(key in CONFIG_KEYS)) problems.push(`${key}: unknown configuration key`);
  }
  const brokers = raw.BITPREDICT_KAFKA_BROKERS as string[];
  for (const b of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(b)) problems.push(`BITPREDICT_KAFKA_BROKERS: "${b}" is not host:port`);
  }
  for (const key of ['BITPREDICT_REGISTRY_URL', 'BITPREDICT_REDIS_URL'] as const) {
    try {
      new URL(raw[key] as string);
    } catch {
      problems.push(`${key}: "${String(raw[key])}" is not a URL`);
    }
  }
  const from = parseTime('BITPREDICT_REPLAY_FROM', raw.BITPREDICT_REPLAY_FROM as string, problems);
  const to = parseTime('BITPREDICT_REPLAY_TO', raw.BITPREDICT_REPLAY_TO as string, problems);
  if (problems.length > 0) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return {
    logLevel: raw.BITPREDICT_LOG_LEVEL as Config['logLevel'],
    kafka: {
      brokers,
      clientId: raw.BITPREDICT_KAFKA_CLIENT_ID as string,
      topicPrefix: raw.BITPREDICT_TOPIC_PREFIX as string,
      partitions: raw.BITPREDICT_TOPIC_PARTITIONS as number,
      replicationFactor: raw.BITPREDICT_TOPIC_REPLICATION as number,
    },
    registry: { url: raw.BITPREDICT_REGISTRY_URL as string },
    redis: { url: raw.BITPREDICT_REDIS_URL as string, keyPrefix: raw.BITPREDICT_REDIS_KEY_PREFIX as string },
    consumer: {
      maxAttempts: raw.BITPREDICT_DLQ_MAX_ATTEMPTS as number,
      retryBackoffMs: raw.BITPREDICT_RETRY_BACKOFF_MS as number,
      futureToleranceMs: raw.BITPREDICT_FUTURE_TOLERANCE_MS as number,
      guarantee: raw.BITPREDICT_PROCESSING_GUARANTEE as 'at-least-once' | 'exactly-once',
      sessionTimeoutMs: raw.BITPREDICT_CONSUMER_SESSION_TIMEOUT_MS as number,
    },
    instanceId: (raw.BITPREDICT_INSTANCE_ID as string) || `${hostname()}-${process.pid}`,
    shutdownTimeoutMs: raw.BITPREDICT_SHUTDOWN_TIMEOUT_MS as number,
    healthPort: raw.BITPREDICT_HEALTH_PORT as number,
    data: { dir: raw.BITPREDICT_DATA_DIR as string },
    replay: {
      file: raw.BITPREDICT_REPLAY_FILE as string,
      symbol: raw.BITPREDICT_REPLAY_SYMBOL as string,
      interval: raw.BITPREDICT_REPLAY_INTERVAL as string,
      rate: raw.BITPREDICT_REPLAY_RATE as number,
      from,
      to,
      limit: raw.BITPREDICT_REPLAY_LIMIT as number,
      resume: raw.BITPREDICT_REPLAY_RESUME as boolean,
      speedFactor: raw.BITPREDICT_REPLAY_SPEED_FACTOR as number,
    },
    market: {
      exchanges: raw.BITPREDICT_MARKET_EXCHANGES as string[],
      symbols: raw.BITPREDICT_MARKET_SYMBOLS as string[],
      intervals: raw.BITPREDICT_MARKET_INTERVALS as string[],
      graceMs: raw.BITPREDICT_MARKET_GRACE_MS as number,
      binance: { wsUrl: raw.BITPREDICT_BINANCE_WS_URL as string, restUrl: raw.BITPREDICT_BINANCE_REST_URL as string },
      coinbase: { wsUrl: raw.BITPREDICT_COINBASE_WS_URL as string, restUrl: raw.BITPREDICT_COINBASE_REST_URL as string },
      heartbeatTimeoutMs: raw.BITPREDICT_WS_HEARTBEAT_TIMEOUT_MS as number,
      reconnectBaseMs: raw.BITPREDICT_RECONNECT_BASE_MS as number,
      reconnectMaxMs: raw.BITPREDICT_RECONNECT_MAX_MS as number,
      poll: { url: raw.BITPREDICT_POLL_URL as string, intervalMs: raw.BITPREDICT_POLL_INTERVAL_MS as number },
    },
    text: {
      rssFeeds: (raw.BITPREDICT_RSS_FEEDS as string).split(',').map((u) => u.trim()).filter((u) => u.length > 0),
      rssPollIntervalMs: raw.BITPREDICT_RSS_POLL_INTERVAL_MS as number,
      rssQuietAfterMs: raw.BITPREDICT_RSS_QUIET_AFTER_MS as number,
      x: {
        bearerToken: raw.BITPREDICT_X_BEARER_TOKEN as string,
        apiUrl: raw.BITPREDICT_X_API_URL as string,
        query: raw.BITPREDICT_X_QUERY as string,
        pollIntervalMs: raw.BITPREDICT_X_POLL_INTERVAL_MS as number,
      },
      replayFile: raw.BITPREDICT_TEXT_REPLAY_FILE as string,
    },
    features: {
      sentimentWindowMs: raw.BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS as number,
      textLatenessMs: raw.BITPREDICT_FEATURES_TEXT_LATENESS_MS as number,
      textMaxWaitMs: raw.BITPREDICT_FEATURES_TEXT_MAX_WAIT_MS as number,
      historyMax: raw.BITPREDICT_FEATURES_HISTORY_MAX as number,
      snapshotIntervalMs: raw.BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS as number,
    },
    retrain: {
      intervalMs: raw.BITPREDICT_RETRAIN_INTERVAL_MS as number,
      degradeThreshold: raw.BITPREDICT_RETRAIN_DEGRADE_THRESHOLD as number,
      minSamples: raw.BITPREDICT_RETRAIN_MIN_SAMPLES as number,
      cooldownMs: raw.BITPREDICT_RETRAIN_COOLDOWN_MS as number,
      checkMs: raw.BITPREDICT_RETRAIN_CHECK_MS as number,
      trainDays: raw.BITPREDICT_RETRAIN_TRAIN_DAYS as number,
      valDays: raw.BITPREDICT_RETRAIN_VAL_DAYS as number,
      epochs: raw.BITPREDICT_RETRAIN_EPOCHS as number,
      monitorWindow: raw.BITPREDICT_MONITOR_WINDOW as number,
    },
    models: {
      storeDir: raw.BITPREDICT_MODEL_STORE_DIR as string,
      name: raw.BITPREDICT_MODEL_NAME as string,
      promotionMargin: raw.BITPREDICT_MODEL_PROMOTION_MARGIN as number,
      expiryDays: raw.BITPREDICT_MODEL_EXPIRY_DAYS as number,
    },
    sentiment: {
      finbertModelsDir: raw.BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR as string,
      finbertModelId: raw.BITPREDICT_SENTIMENT_FINBERT_MODEL_ID as string,
      batchSize: raw.BITPREDICT_SENTIMENT_BATCH_SIZE as number,
    },
    gateway: {
      host: raw.BITPREDICT_GATEWAY_HOST as string,
      port: raw.BITPREDICT_GATEWAY_PORT as number,
      maxBufferedBytes: raw.BITPREDICT_WS_MAX_BUFFERED_BYTES as number,
      auth: raw.BITPREDICT_GATEWAY_AUTH as 'keys' | 'open',
      allowedOrigins: (raw.BITPREDICT_GATEWAY_ALLOWED_ORIGINS as string).split(',').map((o) => o.trim()).filter((o) => o.length > 0),
      replayBuffer: raw.BITPREDICT_GATEWAY_REPLAY_BUFFER as number,
      heartbeatMs: raw.BITPREDICT_GATEWAY_HEARTBEAT_MS as number,
      idleTimeoutMs: raw.BITPREDICT_GATEWAY_IDLE_TIMEOUT_MS as number,
      maxSubscriptions: raw.BITPREDICT_GATEWAY_MAX_SUBSCRIPTIONS as number,
      clientRate: raw.BITPREDICT_GATEWAY_CLIENT_RATE as number,
      keyRecheckMs: raw.BITPREDICT_GATEWAY_KEY_RECHECK_MS as number,
      historyMax: raw.BITPREDICT_GATEWAY_HISTORY_MAX as number,
      readyWithoutChampion: raw.BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION as boolean,
    },
    stack: {
      dir: raw.BITPREDICT_STACK_DIR as string,
      kafkaVersion: raw.BITPREDICT_STACK_KAFKA_VERSION as string,
      apicurioVersion: raw.BITPREDICT_STACK_APICURIO_VERSION as string,
      kafkaControllerPort: raw.BITPREDICT_STACK_KAFKA_CONTROLLER_PORT as number,
      kafkaHeap: raw.BITPREDICT_STACK_KAFKA_HEAP as string,
      registryManagementPort: raw.BITPREDICT_STACK_REGISTRY_MANAGEMENT_PORT as number,
      registryHeap: raw.BITPREDICT_STACK_REGISTRY_HEAP as string,
      startTimeoutMs: raw.BITPREDICT_STACK_START_TIMEOUT_MS as number,
      // JAVA_HOME is the JVM's own convention (like PATH), read here so config stays in one place.
      javaHome: (raw.BITPREDICT_STACK_JAVA_HOME as string) || env.JAVA_HOME || undefined,
    },
  };
}
