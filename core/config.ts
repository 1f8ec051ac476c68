// The configuration of every BitPredict service, declared once as a TypeBox schema (see
// core/env-config.ts): each leaf names its environment variable, default and meaning, and from
// this one declaration come the Config type, the defaults, the validation (every bad key listed,
// unknown BITPREDICT_* keys refused) and docs/configuration.md (npm run docs:gen). Configuration is
// read once per process, at the entrypoint, and each service factory takes only its slice (a
// Pick of the sections below). Nothing else in the code base reads process.env. The local
// stack's own keys (BITPREDICT_STACK_*) belong to the CLI's stack command (cli/stack/config.ts).
import { hostname } from 'node:os';
import { BitPredictError } from './errors.js';
import { Type, type Static } from '@sinclair/typebox';
import { horizonsProblem } from './forecast/horizons.js';
import { env, envKeyTable, loadEnv, type EnvKeysOf, type EnvOverrides } from './env-config.js';
import { DEFAULT_DRIVER, DRIVER_NAMES } from './kafka/driver.js';
import { parseRetentionOverrides } from './kafka/topics.js';

/** The namespace of the local stack's keys, which the CLI's stack command owns. */
export const STACK_KEY_PREFIX = 'BITPREDICT_STACK_';

/** The SASL mechanisms BITPREDICT_KAFKA_SASL_MECHANISM accepts (both drivers support all four). */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;

/** Why a tracing endpoint is not usable, or null (empty means unset). */
function httpUrlProblem(text: string): string | null {
  if (text === '') return null;
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:' ? null : 'is not an http(s) URL';
  } catch {
    return 'is not a URL';
  }
}

/** scheme://host[:port] with nothing after it, or empty. */
function originProblem(text: string): string | null {
  if (text === '') return null;
  try {
    const u = new URL(text);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'is not an http(s) origin';
    return u.origin === text.replace(/\/$/, '').toLowerCase() ? null : 'is not an origin (scheme://host[:port], no path)';
  } catch {
    return 'is not an origin (scheme://host[:port])';
  }
}

/** localhost, *.localhost, 127.0.0.0/8, ::1: the bind addresses open mode may use. */
function isLoopbackBind(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function retentionProblem(text: string): string | null {
  try {
    parseRetentionOverrides(text);
    return null;
  } catch (err) {
    return `has ${(err as Error).message.replace(/^BITPREDICT_TOPIC_RETENTION_DAYS: /, '')}`;
  }
}

export const ConfigSchema = Type.Object({
  logLevel: env.oneOf('BITPREDICT_LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info', 'pino log level'),
  logFormat: env.oneOf(
    'BITPREDICT_LOG_FORMAT',
    ['auto', 'json', 'pretty'] as const,
    'auto',
    'log lines as JSON (one object per line, for shippers) or pretty (human lines); auto: pretty when stdout is a terminal, JSON otherwise',
  ),
  instanceId: env.string(
    'BITPREDICT_INSTANCE_ID',
    '',
    "name of this process instance in the names of its private consumer groups (the feature processor's text reader, the gateway); empty: hostname-pid",
  ),
  kafka: Type.Object({
    brokers: env.list('BITPREDICT_KAFKA_BROKERS', ['127.0.0.1:9092'], 'comma-separated Kafka bootstrap addresses; the local stack listens on the first', {
      pattern: '^[^:\\s]+:\\d{1,5}$',
      patternDoc: 'host:port',
    }),
    clientId: env.string('BITPREDICT_KAFKA_CLIENT_ID', 'bitpredict', 'Kafka client id prefix'),
    driver: env.oneOf(
      'BITPREDICT_KAFKA_CLIENT',
      DRIVER_NAMES,
      DEFAULT_DRIVER,
      'Kafka client driver: kafkajs (default) or platformatic (@platformatic/kafka); both pass the same suite, see docs/kafka-drivers.md',
    ),
    topicPrefix: env.string('BITPREDICT_TOPIC_PREFIX', '', 'environment prefix put before every topic name (for example "staging.")'),
    partitions: env.int('BITPREDICT_TOPIC_PARTITIONS', 3, 'partitions for topics that BitPredict creates', { min: 1, max: 1000 }),
    replicationFactor: env.int('BITPREDICT_TOPIC_REPLICATION', 1, 'replication factor for topics that BitPredict creates', { min: 1, max: 10 }),
    retentionDays: env.string(
      'BITPREDICT_TOPIC_RETENTION_DAYS',
      '',
      'per-topic retention overrides in days of event time, comma-separated topic=days (e.g. market.candles=1825,predictions=30; -1 keeps forever); topics not named keep the table of docs/topics.md',
      { check: retentionProblem },
    ),
    // How to reach a secured cluster; core/kafka/security.ts reads the files and checks that the
    // keys fit together (docs/kafka-security.md). Files rather than values, so Kubernetes Secrets
    // mounted as volumes work without putting secrets into the environment.
    security: Type.Object({
      protocol: env.oneOf(
        'BITPREDICT_KAFKA_SECURITY_PROTOCOL',
        ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const,
        'PLAINTEXT',
        "Kafka's security.protocol: TLS (SSL, SASL_SSL) and SASL login (SASL_PLAINTEXT, SASL_SSL) to the brokers; see docs/kafka-security.md",
      ),
      sslCaFile: env.string(
        'BITPREDICT_KAFKA_SSL_CA_FILE',
        '',
        "PEM file of the CA(s) that signed the brokers' certificates (empty: the system's CAs); SSL and SASL_SSL only",
      ),
      sslCertFile: env.string('BITPREDICT_KAFKA_SSL_CERT_FILE', '', 'PEM client certificate for mutual TLS (with BITPREDICT_KAFKA_SSL_KEY_FILE)'),
      sslKeyFile: env.string('BITPREDICT_KAFKA_SSL_KEY_FILE', '', 'PEM private key of the client certificate (unencrypted)'),
      sslVerify: env.boolean('BITPREDICT_KAFKA_SSL_VERIFY', true, "check the brokers' certificate chain and host name; false only for throwaway test clusters"),
      saslMechanism: env.string(
        'BITPREDICT_KAFKA_SASL_MECHANISM',
        '',
        'SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER; required with SASL_PLAINTEXT and SASL_SSL',
        { check: (text) => (text === '' || (SASL_MECHANISMS as readonly string[]).includes(text) ? null : `is not one of ${SASL_MECHANISMS.join(', ')}`) },
      ),
      saslUsername: env.string('BITPREDICT_KAFKA_SASL_USERNAME', '', 'SASL user name (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)'),
      saslPassword: env.string(
        'BITPREDICT_KAFKA_SASL_PASSWORD',
        '',
        'SASL password; never logged. Prefer BITPREDICT_KAFKA_SASL_PASSWORD_FILE (set one of the two, not both)',
      ),
      saslPasswordFile: env.string(
        'BITPREDICT_KAFKA_SASL_PASSWORD_FILE',
        '',
        'file holding the SASL password (a mounted Kubernetes Secret); one trailing newline is ignored',
      ),
      saslOauthTokenFile: env.string(
        'BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE',
        '',
        'OAUTHBEARER: file holding the bearer token, read again at every (re)authentication so a sidecar or Secret can rotate it',
      ),
    }),
  }),
  // Basic auth and TLS of the registry and Redis are read by core/connection-security.ts, like
  // Kafka's by core/kafka/security.ts: files rather than values where a Secret holds them.
  registry: Type.Object({
    url: env.url(
      'BITPREDICT_REGISTRY_URL',
      'http://127.0.0.1:8081/apis/ccompat/v7',
      'Confluent-compatible schema registry base URL; https:// for TLS (see docs/kafka-security.md)',
    ),
    username: env.string('BITPREDICT_REGISTRY_USERNAME', '', 'HTTP basic auth user of the schema registry (empty: no auth)'),
    password: env.string(
      'BITPREDICT_REGISTRY_PASSWORD',
      '',
      'HTTP basic auth password of the schema registry; never logged. Prefer BITPREDICT_REGISTRY_PASSWORD_FILE (set one of the two, not both)',
    ),
    passwordFile: env.string(
      'BITPREDICT_REGISTRY_PASSWORD_FILE',
      '',
      'file holding the registry password (a mounted Kubernetes Secret); one trailing newline is ignored',
    ),
    sslCaFile: env.string(
      'BITPREDICT_REGISTRY_SSL_CA_FILE',
      '',
      "PEM file of the CA(s) that signed the registry's certificate (empty: the system's CAs); https:// only",
    ),
    sslCertFile: env.string(
      'BITPREDICT_REGISTRY_SSL_CERT_FILE',
      '',
      'PEM client certificate for mutual TLS with the registry (with BITPREDICT_REGISTRY_SSL_KEY_FILE)',
    ),
    sslKeyFile: env.string('BITPREDICT_REGISTRY_SSL_KEY_FILE', '', 'PEM private key of the registry client certificate (unencrypted)'),
    sslVerify: env.boolean(
      'BITPREDICT_REGISTRY_SSL_VERIFY',
      true,
      "check the registry's certificate chain and host name; false only for throwaway test setups",
    ),
  }),
  redis: Type.Object({
    url: env.url(
      'BITPREDICT_REDIS_URL',
      'redis://127.0.0.1:6379',
      'Redis URL of the feature store; rediss:// for TLS. A password in the URL works, but BITPREDICT_REDIS_PASSWORD_FILE keeps it out of the environment',
    ),
    keyPrefix: env.string('BITPREDICT_REDIS_KEY_PREFIX', 'bp:', 'prefix of every Redis key BitPredict writes'),
    username: env.string('BITPREDICT_REDIS_USERNAME', '', 'Redis ACL user (Redis 6+; empty: the default user)'),
    password: env.string(
      'BITPREDICT_REDIS_PASSWORD',
      '',
      'Redis password (of the ACL user, or requirepass); never logged. Prefer BITPREDICT_REDIS_PASSWORD_FILE (set one of the two, not both)',
    ),
    passwordFile: env.string(
      'BITPREDICT_REDIS_PASSWORD_FILE',
      '',
      'file holding the Redis password (a mounted Kubernetes Secret); one trailing newline is ignored',
    ),
    sslCaFile: env.string('BITPREDICT_REDIS_SSL_CA_FILE', '', "PEM file of the CA(s) that signed Redis' certificate (empty: the system's CAs); rediss:// only"),
    sslCertFile: env.string('BITPREDICT_REDIS_SSL_CERT_FILE', '', 'PEM client certificate for mutual TLS with Redis (with BITPREDICT_REDIS_SSL_KEY_FILE)'),
    sslKeyFile: env.string('BITPREDICT_REDIS_SSL_KEY_FILE', '', 'PEM private key of the Redis client certificate (unencrypted)'),
    sslVerify: env.boolean('BITPREDICT_REDIS_SSL_VERIFY', true, "check Redis' certificate chain and host name; false only for throwaway test setups"),
  }),
  consumer: Type.Object({
    guarantee: env.oneOf(
      'BITPREDICT_PROCESSING_GUARANTEE',
      ['at-least-once', 'exactly-once'] as const,
      'at-least-once',
      'processors: at-least-once (idempotent producer, commit after produce) or exactly-once (Kafka transactions)',
    ),
    maxAttempts: env.int('BITPREDICT_DLQ_MAX_ATTEMPTS', 3, 'attempts for a retryable handler error before the record goes to the DLQ', { min: 1, max: 100 }),
    retryBackoffMs: env.int('BITPREDICT_RETRY_BACKOFF_MS', 200, 'base backoff between handler attempts (doubles each attempt)', { min: 0, max: 60_000 }),
    sessionTimeoutMs: env.int(
      'BITPREDICT_CONSUMER_SESSION_TIMEOUT_MS',
      30000,
      'consumer group session timeout: a crashed (SIGKILLed) member holds its partitions this long before the group moves them (the broker allows 6000 and up by default)',
      { min: 6000, max: 300_000 },
    ),
    // Issue 17: waiting for dependencies instead of dead-lettering, and DLQ records that fit the broker.
    dependencyBackoffMaxMs: env.int(
      'BITPREDICT_CONSUMER_DEPENDENCY_BACKOFF_MAX_MS',
      30000,
      'while Redis, the schema registry or Kafka is down, a processor holds the partition and retries the record with a backoff doubling from BITPREDICT_RETRY_BACKOFF_MS up to this (ms), until the dependency answers; such records never go to the DLQ',
      { min: 100, max: 600_000 },
    ),
    dlqMaxRecordBytes: env.int(
      'BITPREDICT_DLQ_MAX_RECORD_BYTES',
      1_000_000,
      "largest DLQ record (bytes); a larger one keeps only the head of the original value, with its size and SHA-256 in headers. Keep it below the dlq topic's and the broker's max.message.bytes (1048588 by default)",
      { min: 10_000 },
    ),
  }),
  events: Type.Object({
    futureToleranceMs: env.int('BITPREDICT_FUTURE_TOLERANCE_MS', 300000, 'how far in the future an event time may lie before a record is rejected', { min: 0 }),
  }),
  lifecycle: Type.Object({
    shutdownTimeoutMs: env.int('BITPREDICT_SHUTDOWN_TIMEOUT_MS', 15000, 'deadline for graceful shutdown', { min: 100 }),
    healthPort: env.int('BITPREDICT_HEALTH_PORT', 0, 'port of the /healthz, /readyz, /metrics server of workers (0: off)', { min: 0, max: 65535 }),
    startupRetryMaxMs: env.int(
      'BITPREDICT_STARTUP_RETRY_MAX_MS',
      0,
      'how long a long-running service keeps retrying Kafka, the schema registry and Redis at start (backoff 1 s doubling to 30 s) before it exits 1; 0: until they answer. One-shot commands never retry',
      { min: 0 },
    ),
  }),
  data: Type.Object({
    dir: env.string('BITPREDICT_DATA_DIR', '../shared/data', 'folder of the real data sets used by replay'),
  }),
  replay: Type.Object({
    file: env.string(
      'BITPREDICT_REPLAY_FILE',
      'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv',
      'replay file, relative to the data folder or absolute',
    ),
    symbol: env.string('BITPREDICT_REPLAY_SYMBOL', 'BTCUSDT', 'symbol of the replayed candles'),
    interval: env.oneOf('BITPREDICT_REPLAY_INTERVAL', ['1m', '5m', '15m', '1h', '4h', '1d'] as const, '1h', 'interval of the replayed candles'),
    rate: env.number('BITPREDICT_REPLAY_RATE', 0, 'candles per second of replay (0: as fast as possible)', { min: 0 }),
    from: env.time('BITPREDICT_REPLAY_FROM', 'first candle open time to replay (ISO 8601, empty: file start)'),
    to: env.time('BITPREDICT_REPLAY_TO', 'replay candles opening before this time (ISO 8601, empty: file end)'),
    limit: env.int('BITPREDICT_REPLAY_LIMIT', 0, 'stop after this many candles (0: no limit)', { min: 0 }),
    speedFactor: env.number(
      'BITPREDICT_REPLAY_SPEED_FACTOR',
      0,
      "replay at N x real time by the candles' own spacing (3600: one hour of data per second); 0: off. Exclusive with BITPREDICT_REPLAY_RATE",
      { min: 0 },
    ),
    resume: env.boolean('BITPREDICT_REPLAY_RESUME', true, 'replay: skip candles already in market.candles (dedupe on restart)'),
    columns: env.string(
      'BITPREDICT_REPLAY_COLUMNS',
      '',
      'columns of a CSV candle file, as time=NAME,open=NAME,high=NAME,low=NAME,close=NAME,volume=NAME (header names or 1-based numbers); empty: detected',
    ),
    dropLast: env.boolean(
      'BITPREDICT_REPLAY_DROP_LAST',
      false,
      "drop the candle file's last row as unfinished whatever its time (by default only when it closes after now, or the data README marks it)",
    ),
  }),
  market: Type.Object({
    exchanges: env.list('BITPREDICT_MARKET_EXCHANGES', ['binance', 'coinbase'], 'live market-data sources (binance, coinbase)'),
    symbols: env.list('BITPREDICT_MARKET_SYMBOLS', ['BTCUSDT'], 'symbols to stream, in BitPredict form (BTCUSDT; Coinbase maps it to BTC-USD)'),
    intervals: env.list('BITPREDICT_MARKET_INTERVALS', ['1m'], 'candle intervals to publish from live sources'),
    graceMs: env.int('BITPREDICT_MARKET_GRACE_MS', 2000, 'trade-built candles close when the watermark passes closeTime + grace', { min: 0, max: 600_000 }),
    binance: Type.Object({
      wsUrl: env.string('BITPREDICT_BINANCE_WS_URL', 'wss://stream.binance.com:9443', 'Binance WebSocket base URL'),
      restUrl: env.string('BITPREDICT_BINANCE_REST_URL', 'https://api.binance.com', 'Binance REST base URL (gap fill)'),
    }),
    coinbase: Type.Object({
      wsUrl: env.string('BITPREDICT_COINBASE_WS_URL', 'wss://ws-feed.exchange.coinbase.com', 'Coinbase Exchange WebSocket URL'),
      restUrl: env.string('BITPREDICT_COINBASE_REST_URL', 'https://api.exchange.coinbase.com', 'Coinbase Exchange REST base URL (gap fill)'),
    }),
    heartbeatTimeoutMs: env.int('BITPREDICT_WS_HEARTBEAT_TIMEOUT_MS', 30000, 'an exchange socket silent this long counts as dead and is reconnected', {
      min: 100,
    }),
    reconnectBaseMs: env.int('BITPREDICT_RECONNECT_BASE_MS', 500, 'first reconnect delay; doubles per attempt, with jitter', { min: 1 }),
    reconnectMaxMs: env.int('BITPREDICT_RECONNECT_MAX_MS', 30000, 'longest reconnect delay', { min: 1 }),
    poll: Type.Object({
      url: env.string('BITPREDICT_POLL_URL', 'https://min-api.cryptocompare.com', 'REST polling fallback base URL (CryptoCompare-style histominute/histohour)'),
      intervalMs: env.int('BITPREDICT_POLL_INTERVAL_MS', 60000, 'REST polling fallback period', { min: 100 }),
    }),
  }),
  text: Type.Object({
    rssFeeds: env.list('BITPREDICT_RSS_FEEDS', [], 'comma-separated RSS/Atom feed URLs (empty: news polling off)', { minItems: 0 }),
    rssPollIntervalMs: env.int('BITPREDICT_RSS_POLL_INTERVAL_MS', 300000, 'how often each feed is fetched (conditional GET)', { min: 100 }),
    rssQuietAfterMs: env.int('BITPREDICT_RSS_QUIET_AFTER_MS', 21600000, 'a feed with no new item for this long is reported quiet (metric)', { min: 1000 }),
    x: Type.Object({
      bearerToken: env.string('BITPREDICT_X_BEARER_TOKEN', '', 'X API v2 bearer token (empty: X source disabled); never logged'),
      apiUrl: env.string('BITPREDICT_X_API_URL', 'https://api.twitter.com', 'X API base URL'),
      query: env.string('BITPREDICT_X_QUERY', '(bitcoin OR btc) -is:retweet lang:en', 'X recent-search query'),
      pollIntervalMs: env.int('BITPREDICT_X_POLL_INTERVAL_MS', 60000, 'X recent-search period (rate-limit headers may stretch it)', { min: 100 }),
    }),
    replayFile: env.string(
      'BITPREDICT_TEXT_REPLAY_FILE',
      'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv',
      'text replay file (tweets CSV or the semicolon news CSV), relative to the data folder or absolute',
    ),
  }),
  features: Type.Object({
    sentimentWindowMs: env.int('BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS', 14400000, 'W: features aggregate the sentiment of texts published in (t - W, t]', {
      min: 1000,
    }),
    textLatenessMs: env.int(
      'BITPREDICT_FEATURES_TEXT_LATENESS_MS',
      60000,
      'texts may arrive this much out of publication order; a feature at t waits until the text stream has passed t + this, or has caught up',
      { min: 0 },
    ),
    textMaxWaitMs: env.int(
      'BITPREDICT_FEATURES_TEXT_MAX_WAIT_MS',
      5000,
      'longest a candle waits for a lagging text stream before its feature is computed with the texts known (counted)',
      { min: 0 },
    ),
    textIndexMax: env.int(
      'BITPREDICT_FEATURES_TEXT_INDEX_MAX',
      200000,
      'hard cap on the scored texts the feature processor holds in memory; past it the oldest are dropped first (bitpredict_features_text_index_evicted_total{reason="cap"}, logged once per burst)',
      { min: 1 },
    ),
    textRetainMarginMs: env.int(
      'BITPREDICT_FEATURES_TEXT_RETAIN_MARGIN_MS',
      86400000,
      "texts older than the slowest series' newest candle minus W minus this are evicted from memory; a start reads text.scored from its candle positions minus W minus this (offsets by time)",
      { min: 0 },
    ),
    historyMax: env.int('BITPREDICT_FEATURES_HISTORY_MAX', 5000, 'feature vectors kept per series in the Redis history (time-indexed)', { min: 1 }),
    candleHistoryMax: env.int(
      'BITPREDICT_FEATURES_CANDLE_HISTORY_MAX',
      10000,
      'closed candles kept per series in the Redis history (time-indexed; GET /v1/candles and the dashboard backfill read it)',
      { min: 1 },
    ),
    snapshotIntervalMs: env.int(
      'BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS',
      5000,
      "stateful processors: shortest time between Redis snapshots of one partition's state, taken after a commit (0: after every commit)",
      { min: 0 },
    ),
  }),
  sentiment: Type.Object({
    finbertModelsDir: env.string(
      'BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR',
      '',
      'folder holding FinBERT model folders (<dir>/<org>/<name>/...); empty: FinBERT off, VADER only. Never downloaded',
    ),
    finbertModelId: env.string('BITPREDICT_SENTIMENT_FINBERT_MODEL_ID', 'ProsusAI/finbert', 'FinBERT model id: the sub-folder of the models folder'),
    batchSize: env.int('BITPREDICT_SENTIMENT_BATCH_SIZE', 32, 'texts per FinBERT inference batch', { min: 1, max: 1024 }),
  }),
  models: Type.Object({
    storeDir: env.string(
      'BITPREDICT_MODEL_STORE_DIR',
      '.models',
      'model store folder: <dir>/<name>/<version>/ artifacts and <dir>/<name>/registry.json (champion and history)',
    ),
    name: env.string('BITPREDICT_MODEL_NAME', 'lstm-attention', 'name of the trained model (the key of its record in the models topic)'),
    promotionMargin: env.number(
      'BITPREDICT_MODEL_PROMOTION_MARGIN',
      0.01,
      'champion/challenger: a retrained model replaces the champion only if its validation pinball loss (mean over horizons, same target times) is this much lower (relative; 0.01 = 1 %) AND not above the best baseline (persistence, EWMA, HAR-RV, GARCH); without a champion it must beat the best baseline by it',
      { min: 0, max: 1 },
    ),
    artifactChunkBytes: env.int(
      'BITPREDICT_MODEL_ARTIFACT_CHUNK_BYTES',
      524288,
      "publishing a model: bytes per record of the model-artifacts topic (artifact files are split into chunks of this size); keep it below the broker's and the topic's max.message.bytes (1 MB by default)",
      { min: 1024, max: 104857600 },
    ),
    artifactMaxBytes: env.int(
      'BITPREDICT_MODEL_ARTIFACT_MAX_BYTES',
      268435456,
      'predictor: largest artifact file it accepts from the model-artifacts topic (bytes); a larger one is refused before it is read into memory',
      { min: 1024 },
    ),
    artifactLoadTimeoutMs: env.int(
      'BITPREDICT_MODEL_ARTIFACT_LOAD_TIMEOUT_MS',
      60000,
      'predictor: longest time to read the chunks of an announced kafka:// artifact; past it the artifact is refused and the current champion keeps serving',
      { min: 100 },
    ),
    expiryDays: env.number(
      'BITPREDICT_MODEL_EXPIRY_DAYS',
      30,
      'a trained model expires this many days after it is created: the predictor refuses it from then on and serves the baselines (logged, gauged), and the trainer service retrains at once; 0: never',
      { min: 0 },
    ),
    // Signed model announcements (core/models/signing.ts, docs/deploy.md "Model signing").
    signing: env.oneOf(
      'BITPREDICT_MODEL_SIGNING',
      ['required', 'off'] as const,
      'required',
      'required: the trainer and the model CLIs sign every models announcement (HMAC-SHA256) and the predictor loads only announcements signed with an accepted key; off: no signing, no check (a warning; never in production)',
    ),
    signingKey: env.string(
      'BITPREDICT_MODEL_SIGNING_KEY',
      '',
      'model signing keys, `[<id>:]<secret>` comma-separated, secret at least 32 bytes: the first signs, all are accepted (rotation); never logged. Prefer BITPREDICT_MODEL_SIGNING_KEY_FILE; neither set: a key generated once in <BITPREDICT_MODEL_STORE_DIR>/.signing-key (local use only)',
    ),
    signingKeyFile: env.string(
      'BITPREDICT_MODEL_SIGNING_KEY_FILE',
      '',
      'file holding the model signing keys, one `[<id>:]<secret>` per line (a mounted Kubernetes Secret): the first signs, all are accepted',
    ),
  }),
  retrain: Type.Object({
    intervalMs: env.int('BITPREDICT_RETRAIN_INTERVAL_MS', 604800000, 'trainer service: retrain this often (ms; 0: no scheduled retraining)', { min: 0 }),
    degradeThreshold: env.number(
      'BITPREDICT_RETRAIN_DEGRADE_THRESHOLD',
      0.05,
      "trainer service: retrain early when the champion's live pinball loss over the last 7 days (squared error for point forecasts) exceeds persistence's or the best baseline's on the same target times by this much (0.05 = 5 %)",
      { min: 0 },
    ),
    minSamples: env.int(
      'BITPREDICT_RETRAIN_MIN_SAMPLES',
      168,
      "trainer service: target times the champion's newest version and the baseline both scored in the last 7 days before degradation can trigger a retrain",
      { min: 1 },
    ),
    cooldownMs: env.int('BITPREDICT_RETRAIN_COOLDOWN_MS', 86400000, 'trainer service: shortest time between two retrains', { min: 0 }),
    checkMs: env.int('BITPREDICT_RETRAIN_CHECK_MS', 60000, 'trainer service: how often the schedule and the live error are checked', { min: 10 }),
    trainDays: env.int(
      'BITPREDICT_RETRAIN_TRAIN_DAYS',
      730,
      'trainer service: days of training data before the validation range; the window ends at the latest event time seen (live retraining is not held to the research final-window rule)',
      { min: 1 },
    ),
    valDays: env.int(
      'BITPREDICT_RETRAIN_VAL_DAYS',
      30,
      'trainer service: days of validation data (early stopping and champion/challenger) ending at the latest event time seen',
      { min: 1 },
    ),
    epochs: env.int('BITPREDICT_RETRAIN_EPOCHS', 8, 'trainer service: maximum epochs per retrain', { min: 1 }),
  }),
  forecast: Type.Object({
    horizons: env.string(
      'BITPREDICT_FORECAST_HORIZONS',
      '1h:1,4,24;1m:1,15',
      'forecast horizons in steps per candle interval, "<interval>:<steps>;..."; an interval not listed gets 1 step',
      { check: horizonsProblem },
    ),
    baselineWindow: env.int(
      'BITPREDICT_FORECAST_BASELINE_WINDOW',
      4000,
      'predictor: the live baselines (persistence, EWMA, HAR-RV, GARCH) are refitted at each UTC midnight of event time on this many trailing steps of the series',
      { min: 200, max: 100_000 },
    ),
  }),
  predictions: Type.Object({
    historyMax: env.int(
      'BITPREDICT_GATEWAY_HISTORY_MAX',
      10000,
      'predictions per symbol kept in the Redis history that /v1/predictions reads (written by the predictor)',
      { min: 1 },
    ),
  }),
  gateway: Type.Object({
    host: env.string('BITPREDICT_GATEWAY_HOST', '127.0.0.1', 'address the gateway listens on'),
    port: env.int('BITPREDICT_GATEWAY_PORT', 8080, 'port of the gateway (HTTP and WebSocket)', { min: 0, max: 65535 }),
    maxBufferedBytes: env.int(
      'BITPREDICT_WS_MAX_BUFFERED_BYTES',
      1048576,
      'a WebSocket client whose send buffer exceeds this is disconnected as too slow (close code 4008)',
      { min: 1024 },
    ),
    auth: env.oneOf(
      'BITPREDICT_GATEWAY_AUTH',
      ['keys', 'open'] as const,
      'keys',
      'keys: every REST route under /v1 and every WebSocket needs an API key (bitpredict keys create); open: streams and data without a key for local demos only (the demo sets it): refused at start unless BITPREDICT_GATEWAY_HOST is a loopback address, answers loopback peers only, and key management still needs an admin key',
    ),
    allowedOrigins: env.list(
      'BITPREDICT_GATEWAY_ALLOWED_ORIGINS',
      [],
      "comma-separated browser origins (scheme://host[:port]) allowed to open WebSockets and call the API (CORS headers and preflights are answered for them) besides the gateway's own; a request with any other Origin header gets 403 ERR_ORIGIN_FORBIDDEN",
      { minItems: 0 },
    ),
    publicOrigin: env.string(
      'BITPREDICT_GATEWAY_PUBLIC_ORIGIN',
      '',
      "the gateway's own origin as browsers see it (https://bitpredict.example.com): its dashboard may call the API and its host is served; empty: only loopback and IP-address pages of the gateway itself",
      { check: originProblem },
    ),
    allowedHosts: env.list(
      'BITPREDICT_GATEWAY_ALLOWED_HOSTS',
      [],
      'comma-separated host names served besides loopback names, IP addresses and the hosts of BITPREDICT_GATEWAY_PUBLIC_ORIGIN and BITPREDICT_GATEWAY_ALLOWED_ORIGINS (for example an in-cluster service name); any other Host header gets 403 ERR_HOST_FORBIDDEN (DNS rebinding); * turns the check off',
      { minItems: 0, pattern: '^(\\*|[A-Za-z0-9.-]+)$', patternDoc: 'a host name (no port) or *' },
    ),
    httpRate: env.int(
      'BITPREDICT_GATEWAY_HTTP_RATE',
      20,
      'REST requests per second per API key (per client address for requests without one), token bucket with a burst of twice this; beyond it 429 ERR_RATE_LIMITED with Retry-After; /healthz, /readyz and /metrics are exempt; 0: no limit',
      { min: 0 },
    ),
    maxConnectionsPerKey: env.int(
      'BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_KEY',
      100,
      'open WebSockets one API key may hold on one gateway instance; the next upgrade gets 429 ERR_RATE_LIMITED; 0: no cap',
      { min: 0 },
    ),
    maxConnectionsPerAddress: env.int(
      'BITPREDICT_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS',
      1000,
      'open WebSockets one client address may hold on one gateway instance (behind a proxy, list it in BITPREDICT_GATEWAY_TRUSTED_PROXIES or every client counts as the proxy); the next upgrade gets 429 ERR_RATE_LIMITED; 0: no cap',
      { min: 0 },
    ),
    trustedProxies: env.list(
      'BITPREDICT_GATEWAY_TRUSTED_PROXIES',
      [],
      'comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client, for the per-address limits; empty: the TCP peer is the client',
      { minItems: 0 },
    ),
    replayBuffer: env.int(
      'BITPREDICT_GATEWAY_REPLAY_BUFFER',
      1000,
      'messages kept per WebSocket channel for resume after a reconnect; older ones answer with a gap message',
      { min: 0, max: 1000000 },
    ),
    heartbeatMs: env.int(
      'BITPREDICT_GATEWAY_HEARTBEAT_MS',
      30000,
      'interval of WebSocket pings; a client that has not answered the previous ping is terminated',
      { min: 100 },
    ),
    idleTimeoutMs: env.int(
      'BITPREDICT_GATEWAY_IDLE_TIMEOUT_MS',
      300000,
      'a WebSocket client with no subscription and no message from it for this long is closed (4000); 0 disables',
      { min: 0 },
    ),
    maxChannels: env.int(
      'BITPREDICT_GATEWAY_MAX_CHANNELS',
      10000,
      'WebSocket channels (each with a sequence and a replay buffer of up to BITPREDICT_GATEWAY_REPLAY_BUFFER messages) one gateway holds at once; a member-less channel makes room, and when all have subscribers a subscribe to a new one is refused (too_many_channels)',
      { min: 1 },
    ),
    channelIdleMs: env.int(
      'BITPREDICT_GATEWAY_CHANNEL_IDLE_MS',
      600000,
      'a WebSocket channel with no subscriber and no message for this long is deleted with its replay buffer (a later resume on it gets a gap)',
      { min: 1000 },
    ),
    maxSubscriptions: env.int('BITPREDICT_GATEWAY_MAX_SUBSCRIPTIONS', 50, 'channels one WebSocket connection may subscribe to', { min: 1, max: 10000 }),
    clientRate: env.int(
      'BITPREDICT_GATEWAY_CLIENT_RATE',
      20,
      'messages per second a WebSocket client may send (token bucket, burst of twice this); beyond it requests are refused, and a client that keeps on is closed (4029)',
      { min: 1 },
    ),
    keyRecheckMs: env.int(
      'BITPREDICT_GATEWAY_KEY_RECHECK_MS',
      10000,
      "how often open WebSockets re-check their API key; a revoked key's connections close (4001) within this time",
      { min: 100 },
    ),
    readyWithoutChampion: env.boolean(
      'BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION',
      true,
      'true: the gateway is ready on baseline predictions while no champion model is announced (a warning on /readyz); false: /readyz answers 503 until a champion exists',
    ),
  }),
  // OpenTelemetry tracing (core/tracing.ts, docs/operations.md): the standard OTEL_* names, so the
  // usual collector and operator setups work unchanged; declared here like every other key, so a
  // bad value fails at start with the rest. With no endpoint nothing of the SDK is loaded.
  tracing: Type.Object({
    endpoint: env.string(
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      '',
      'base URL of an OTLP/HTTP collector (spans go to <url>/v1/traces); empty, and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT empty too: tracing off, no SDK work at all',
      { check: httpUrlProblem },
    ),
    tracesEndpoint: env.string(
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      '',
      'full URL spans are posted to (wins over OTEL_EXPORTER_OTLP_ENDPOINT); empty: <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces',
      { check: httpUrlProblem },
    ),
    protocol: env.string('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json', 'OTLP transport; only http/json (OTLP over HTTP with JSON bodies) is built in', {
      check: (text) => (text === 'http/json' ? null : 'is not supported: only http/json is built in (a collector takes it on its OTLP/HTTP port, 4318)'),
    }),
    serviceName: env.string('OTEL_SERVICE_NAME', '', 'service.name of the spans and the "service" field of log lines; empty: bitpredict-<command>'),
    maxQueueSize: env.int(
      'OTEL_BSP_MAX_QUEUE_SIZE',
      2048,
      'finished spans held for export; beyond it new spans are dropped and counted (bitpredict_tracing_spans_dropped_total), so a dead collector costs bounded memory',
      { min: 1, max: 1_000_000 },
    ),
    scheduleDelayMs: env.int('OTEL_BSP_SCHEDULE_DELAY', 5000, 'ms between exports of the queued spans (an export also starts once 512 are queued)', {
      min: 1,
      max: 600_000,
    }),
    exportTimeoutMs: env.int('OTEL_EXPORTER_OTLP_TIMEOUT', 10000, 'ms one export request may take before its spans are counted as dropped', {
      min: 1,
      max: 600_000,
    }),
  }),
});

export type Config = Static<typeof ConfigSchema>;

/** Every configuration variable of the services. */
export type ConfigKey = EnvKeysOf<typeof ConfigSchema>;

/** Every configuration variable, its kind, default (as text) and meaning, in declaration order. */
export const CONFIG_KEYS = envKeyTable(ConfigSchema);

/**
 * Reads and validates the services' configuration. `overrides` win over `env`; tests and the CLI
 * use them to set values without touching process.env. The local stack's keys (BITPREDICT_STACK_*)
 * are the stack command's to validate (cli/stack/config.ts), so a shell that sets them can still
 * run any service or test; every other unknown BITPREDICT_* key is refused.
 */
export function loadConfig(envVars: Record<string, string | undefined> = process.env, overrides: EnvOverrides<ConfigKey> = {}): Config {
  const config = loadEnv(ConfigSchema, envVars, overrides, { alsoKnownPrefixes: [STACK_KEY_PREFIX] });
  // An empty instance id means "this process": hostname-pid names its private consumer groups.
  if (config.instanceId === '') config.instanceId = `${hostname()}-${process.pid}`;
  // Open mode hands out data without a key: only to this machine. A gateway reachable from
  // elsewhere (0.0.0.0, a container's interface) must use keys.
  if (config.gateway.auth === 'open' && !isLoopbackBind(config.gateway.host)) {
    const problem = `BITPREDICT_GATEWAY_AUTH=open needs a loopback BITPREDICT_GATEWAY_HOST (127.0.0.1, ::1, localhost), not "${config.gateway.host}": open mode serves anyone who reaches the port; use BITPREDICT_GATEWAY_AUTH=keys (bitpredict keys create) to listen on other interfaces`;
    throw new BitPredictError('ERR_CONFIG_INVALID', `invalid configuration:\n  ${problem}`, { details: { problems: [problem] } });
  }
  return config;
}
