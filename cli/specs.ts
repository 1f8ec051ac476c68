// What every `bitpredict` command does, the flags it takes (the tables the commands hand to
// parseArgs, through cli/flags.ts parseFlags), the settings behind it and an example. The help
// is printed from here, so it is the same table the command parses. Commands import their tables
// from this file, which imports no command (cli/commands.ts pairs each spec with its loader).
import type { CommandSpec, FlagTable } from './flags.js';
import { DATA_FETCH_SPEC } from './data-fetch-spec.js';
import { TRAIN_DEFAULTS } from '../trainer/model/train.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import { DEFAULT_FEE_BPS, DEFAULT_SLIPPAGE_BPS } from '../trainer/domain/costs.js';

const BACKEND = { type: 'string', value: 'tensorflow|wasm|cpu', doc: 'tfjs backend', defaultText: 'the fastest that loads here' } as const;
const SYMBOL = { type: 'string', value: 'SYMBOL', doc: 'the series symbol', configKey: 'BITPREDICT_REPLAY_SYMBOL' } as const;
/** The one cost model of evaluate and backtest (trainer/domain/costs.ts): the same flags and defaults on both. */
const COST_FLAGS = {
  'fee-bps': {
    type: 'string',
    value: 'BPS',
    doc: 'fee per side (per unit of position change) of the strategy figures, basis points',
    defaultText: String(DEFAULT_FEE_BPS),
  },
  'slippage-bps': {
    type: 'string',
    value: 'BPS',
    doc: 'slippage per side, charged like the fee; the report prints both as costs',
    defaultText: String(DEFAULT_SLIPPAGE_BPS),
  },
} as const;
/** Texts of your own instead of the data folder's (core/data/text: the four known layouts or a generic CSV with a header). */
const TEXT_FLAGS = {
  'text-file': {
    type: 'string',
    multiple: true,
    value: 'FILE',
    doc: 'read the texts from this CSV (a path from here) instead of the built-in list: one of the four known layouts, or any CSV with a header whose time and text columns have common names (time/timestamp/date/created_at/published..., text/title/content/body/tweet...); times in epoch ms, s or ISO (UTC without a zone); bad and future-dated rows are reported with their line numbers',
    defaultText: "the data folder's four text files",
  },
  'text-columns': {
    type: 'string',
    value: 'ROLE=COLUMN,...',
    doc: 'the columns of a generic --text-file, e.g. time=created_at,text=body,source=site (roles: time, text, source, id)',
    defaultText: 'found by their names',
  },
} as const;
const INTERVAL = { type: 'string', value: '1m|1h|1d', doc: 'the candle interval', configKey: 'BITPREDICT_REPLAY_INTERVAL' } as const;

export const TRAIN_FLAGS = {
  source: { type: 'string', default: 'files', value: 'files|kafka', doc: 'read the series from the data folder (files) or the features topic (kafka)' },
  symbol: SYMBOL,
  interval: INTERVAL,
  ...TEXT_FLAGS,
  'train-from': { type: 'string', value: 'ISO', doc: 'first time of the training range', defaultText: 'two years before --train-to' },
  'train-to': {
    type: 'string',
    value: 'ISO',
    doc: 'end of training; the --val-days days that FOLLOW it (30 by default) are the validation range (early stopping, the promotion test), which must end before the final window 2025-01-01',
    defaultText: '--val-days before 2025-01-01',
  },
  'val-days': { type: 'string', value: 'N', doc: 'days of validation right after --train-to', defaultText: '30' },
  T: { type: 'string', value: 'N', doc: 'input window length in candles', defaultText: '48' },
  epochs: { type: 'string', value: 'N', doc: 'training epochs (early stopping may end sooner)', defaultText: String(TRAIN_DEFAULTS.epochs) },
  units: { type: 'string', value: 'N', doc: 'LSTM units', defaultText: String(MODEL_DEFAULTS.units) },
  seed: { type: 'string', value: 'N', doc: 'random seed (same data and seed: same model)', defaultText: '42' },
  backend: BACKEND,
  'no-announce': { type: 'boolean', default: false, doc: 'do not announce a new champion on the models topic (nothing connects to Kafka)' },
  live: {
    type: 'boolean',
    default: false,
    doc: 'train for serving: two years + --val-days ending at the latest data of the source (takes no --train-from/--train-to)',
  },
} as const satisfies FlagTable;

export const MODELS_SHOW_FLAGS = { json: { type: 'boolean', default: false, doc: 'the artifact metadata as one JSON line' } } as const satisfies FlagTable;

export const BACKTEST_FLAGS = {
  from: { type: 'string', value: 'ISO', doc: 'first candle time (required)' },
  to: { type: 'string', value: 'ISO', doc: 'end of the range, exclusive (required); 1h past 2025-01-01 is the final window' },
  symbol: SYMBOL,
  interval: INTERVAL,
  model: {
    type: 'string',
    default: 'champion',
    value: 'latest|champion|VERSION|baseline',
    doc: 'the model to trade on: latest = the newest trained version, promoted or not; champion = the promoted one; baseline = the EMA-drift baseline',
  },
  source: { type: 'string', default: 'kafka', value: 'kafka|files', doc: 'events from market.candles + text.raw, or from the data folder' },
  'candle-file': {
    type: 'string',
    value: 'FILE',
    doc: 'candle file for --source files (relative: to the working directory, else the data folder), in any layout of docs/replay-and-polling.md#bring-your-own-candles',
    configKey: 'BITPREDICT_REPLAY_FILE',
  },
  columns: {
    type: 'string',
    value: 'time=COL,open=COL,...',
    doc: "the candle file's columns (header names or 1-based numbers) when detection cannot find them",
    configKey: 'BITPREDICT_REPLAY_COLUMNS',
  },
  'drop-last': {
    type: 'boolean',
    doc: "drop the candle file's last row as unfinished (by default only when it closes after now)",
    configKey: 'BITPREDICT_REPLAY_DROP_LAST',
  },
  ...TEXT_FLAGS,
  ...COST_FLAGS,
  mode: { type: 'string', default: 'long-flat', value: 'long-flat|long-short', doc: 'trading rule' },
  threshold: { type: 'string', value: 'X', doc: 'minimum predicted move to trade', defaultText: '0' },
  'warmup-bars': {
    type: 'string',
    value: 'N',
    doc: 'candles read before --from to warm the indicators',
    defaultText: '200 (+ the training window with --retrain-every)',
  },
  'retrain-every': { type: 'string', value: 'K', doc: 'walk forward: retrain every K candles', defaultText: 'never' },
  'train-periods': { type: 'string', value: 'N', doc: 'training candles per retrain', defaultText: '17520' },
  'val-periods': { type: 'string', value: 'N', doc: 'validation candles per retrain', defaultText: '720' },
  epochs: { type: 'string', value: 'N', doc: 'epochs per retrain', defaultText: '8' },
  units: { type: 'string', value: 'N', doc: 'LSTM units per retrain', defaultText: '32' },
  seed: { type: 'string', value: 'N', doc: 'random seed', defaultText: '42' },
  out: { type: 'string', value: 'PATH', doc: 'report path without extension', defaultText: 'reports/backtest-<symbol>-<interval>-<from>-<to>-<model>' },
  backend: BACKEND,
  'force-reason': { type: 'string', value: 'WHY', doc: 'look at the final window again, recorded in the ledger with this reason' },
  ledger: { type: 'string', value: 'FILE', doc: 'the final-window ledger', defaultText: 'docs/final-window-ledger.json' },
} as const satisfies FlagTable;

export const EVALUATE_FLAGS = {
  purpose: {
    type: 'string',
    default: 'development',
    value: 'development|final',
    doc: 'development folds end before 2025-01-01; final tests on the final window once',
  },
  source: { type: 'string', default: 'files', value: 'files|kafka', doc: 'the data folder or the features topic' },
  symbol: SYMBOL,
  interval: INTERVAL,
  ...TEXT_FLAGS,
  from: { type: 'string', value: 'ISO', doc: 'first time read', defaultText: '2019-01-01 (final: 2022-01-01)' },
  to: { type: 'string', value: 'ISO', doc: 'end of the data read', defaultText: '2025-01-01 (final: 2026-02-01)' },
  T: { type: 'string', value: 'N', doc: 'input window length in candles', defaultText: '48' },
  'train-periods': { type: 'string', value: 'N', doc: 'training candles per fold', defaultText: '17520' },
  'val-periods': { type: 'string', value: 'N', doc: 'validation candles per fold', defaultText: '720' },
  'test-periods': { type: 'string', value: 'N', doc: 'test candles per fold', defaultText: '4380 (final: the whole final window)' },
  'train-mode': { type: 'string', default: 'rolling', value: 'rolling|expanding', doc: 'fold training window' },
  epochs: { type: 'string', value: 'N', doc: 'training epochs', defaultText: '8' },
  units: { type: 'string', value: 'N', doc: 'LSTM units', defaultText: String(MODEL_DEFAULTS.units) },
  seed: { type: 'string', value: 'N', doc: 'random seed', defaultText: '42' },
  ...COST_FLAGS,
  out: { type: 'string', value: 'PATH', doc: 'report path without extension', defaultText: 'reports/evaluation-<purpose>-<symbol>-<interval>' },
  backend: BACKEND,
  'force-reason': { type: 'string', value: 'WHY', doc: 'look at the final window again, recorded in the ledger with this reason' },
  ledger: { type: 'string', value: 'FILE', doc: 'the final-window ledger', defaultText: 'docs/final-window-ledger.json' },
} as const satisfies FlagTable;

export const ABLATION_FLAGS = {
  folds: { type: 'string', value: 'N', doc: 'development folds', defaultText: '3' },
  epochs: { type: 'string', value: 'N', doc: 'training epochs', defaultText: '3' },
  out: { type: 'string', default: 'reports', value: 'DIR', doc: 'folder for the JSON and markdown results' },
  end: { type: 'string', value: 'ISO', doc: 'end of the last fold', defaultText: '2024-01-01' },
  'train-days': { type: 'string', value: 'N', doc: 'training days per fold', defaultText: '365' },
  'val-days': { type: 'string', value: 'N', doc: 'validation days per fold', defaultText: '30' },
  'test-months': { type: 'string', value: 'N', doc: 'test months per fold', defaultText: '3' },
  T: { type: 'string', value: 'N', doc: 'input window length in candles', defaultText: '48' },
  units: { type: 'string', value: 'N', doc: 'LSTM units', defaultText: String(MODEL_DEFAULTS.units) },
  seed: { type: 'string', value: 'N', doc: 'random seed', defaultText: '42' },
  symbol: SYMBOL,
  backend: BACKEND,
} as const satisfies FlagTable;

export const DEMO_FLAGS = {
  'live-from': {
    type: 'string',
    default: '2025-12-01T00:00:00Z',
    value: 'ISO',
    doc: 'candles before this are replayed as fast as possible, the rest at --rate',
  },
  rate: { type: 'string', default: '5', value: 'N', doc: 'candles per second after --live-from' },
  'keep-stack': { type: 'boolean', default: false, doc: 'leave the local stack running at exit' },
  'exit-after-replay': { type: 'boolean', default: false, doc: 'stop once the replay is done' },
  'no-train': { type: 'boolean', default: false, doc: 'serve the baselines only, train no first model' },
  fetch: {
    type: 'boolean',
    default: false,
    doc: "replay candles fetched from Binance's public REST API instead of the data folder (the default when no data folder is configured and ../shared/data does not exist)",
  },
  'fetch-days': { type: 'string', default: '365', value: 'N', doc: 'days of candles to fetch, ending now' },
  'fetch-file': {
    type: 'string',
    value: 'FILE',
    doc: 'where fetched candles are kept; a second run continues the file',
    defaultText: 'data/binance-<symbol>-<interval>.csv',
  },
  'text-file': {
    type: 'string',
    multiple: true,
    value: 'FILE',
    doc: "replay the texts of this CSV (a path from here) instead of the data folder's: one of the four known layouts, or any CSV with a header whose time and text columns have common names; bad rows go to the DLQ",
    defaultText: "the data folder's four text files",
  },
  'no-texts': { type: 'boolean', default: false, doc: 'replay no texts: every sentiment feature is zero' },
} as const satisfies FlagTable;

const DLQ_FILTERS = {
  reason: { type: 'string', value: 'ERR_*', doc: 'records that failed with this error code (docs/errors.md)' },
  from: { type: 'string', value: 'ISO', doc: 'records that failed at or after this time' },
  to: { type: 'string', value: 'ISO', doc: 'records that failed before this time' },
  topic: { type: 'string', value: 'TOPIC', doc: 'records from this source topic' },
  group: { type: 'string', value: 'GROUP', doc: 'records dead-lettered by this consumer group' },
} as const satisfies FlagTable;
const JSON_FLAG = { type: 'boolean', doc: 'one JSON line instead of the table' } as const;
const DRY_RUN = { type: 'boolean', doc: 'print what would be sent, send nothing' } as const;

/** Every flag of any dlq subcommand: cli/dlq.ts parses with this and says which subcommand a flag belongs to. */
export const DLQ_FLAGS = { ...DLQ_FILTERS, json: JSON_FLAG, 'dry-run': DRY_RUN } as const satisfies FlagTable;

export const KEYS_CREATE_FLAGS = {
  name: { type: 'string', value: 'NAME', doc: 'who or what the key is for (required)' },
  scope: { type: 'string', value: 'read|admin', doc: 'read: predictions and streams; admin: also the operator routes (required)' },
} as const satisfies FlagTable;

export const TEXT_REPLAY_FLAGS = {
  rate: { type: 'string', default: '0', value: 'N', doc: 'items per second (0: as fast as possible)' },
  limit: { type: 'string', default: '0', value: 'N', doc: 'stop after N items (0: all)' },
} as const satisfies FlagTable;

const COLUMNS_FLAG = {
  type: 'string',
  value: 'time=COL,open=COL,...',
  doc: 'the columns of a CSV (header names or 1-based numbers) instead of detecting them; fields time, open, high, low, close, volume, quote_volume, trades',
} as const;
const DATA_READ_FLAGS = {
  columns: COLUMNS_FLAG,
  symbol: { type: 'string', value: 'SYMBOL', doc: 'the series symbol the candles are checked as', configKey: 'BITPREDICT_REPLAY_SYMBOL' },
  interval: { type: 'string', value: '1m|5m|15m|1h|4h|1d', doc: 'the candle interval', defaultText: 'inferred from the open times' },
  'drop-last': { type: 'boolean', doc: 'treat the last row as unfinished whatever its time (by default only when it closes after now)' },
} as const satisfies FlagTable;

/** `bitpredict data inspect`: cli/data.ts parses with this. */
export const DATA_INSPECT_FLAGS = {
  ...DATA_READ_FLAGS,
  json: { type: 'boolean', doc: 'one JSON object instead of the text report' },
} as const satisfies FlagTable;

/** `bitpredict data import`: cli/data.ts parses with this. */
export const DATA_IMPORT_FLAGS = {
  ...DATA_READ_FLAGS,
  out: { type: 'string', value: 'PATH', doc: 'where to write the canonical CSV', defaultText: 'FILE without its extension + .canonical.csv' },
  force: { type: 'boolean', doc: 'overwrite --out when it exists' },
  json: { type: 'boolean', doc: 'the report as one JSON object' },
} as const satisfies FlagTable;

const KAFKA = ['BITPREDICT_KAFKA_BROKERS', 'BITPREDICT_REGISTRY_URL', 'BITPREDICT_TOPIC_PREFIX'] as const;
const REDIS = ['BITPREDICT_REDIS_URL', 'BITPREDICT_REDIS_KEY_PREFIX'] as const;

export const SPECS = {
  stack: {
    summary: 'run Kafka, the schema registry and Redis locally',
    subcommands: {
      up: {
        summary: 'start the servers that are not running (idempotent)',
        flags: {
          secure: { type: 'boolean', doc: 'TLS and SASL on every listener (docs/kafka-security.md)' },
          brokers: { type: 'string', value: 'N', doc: 'a cluster of N brokers (1 to 9)', defaultText: '1' },
        },
        configKeys: ['BITPREDICT_STACK_DIR', 'BITPREDICT_STACK_JAVA_HOME'],
        example: 'bitpredict stack up --brokers 3',
      },
      down: {
        summary: 'stop the servers this stack started',
        flags: { purge: { type: 'boolean', doc: 'also delete their data' } },
        example: 'bitpredict stack down --purge',
      },
      status: { summary: 'one line per server; exit 0 when all answer, 3 otherwise', example: 'bitpredict stack status' },
    },
    example: 'bitpredict stack up',
  },
  demo: {
    summary: 'run the whole system on the local stack with real data replayed',
    flags: DEMO_FLAGS,
    configKeys: [
      'BITPREDICT_DATA_DIR',
      'BITPREDICT_REPLAY_FILE',
      'BITPREDICT_REPLAY_SYMBOL',
      'BITPREDICT_REPLAY_INTERVAL',
      'BITPREDICT_BINANCE_REST_URL',
      'BITPREDICT_LOG_FORMAT',
    ],
    notes:
      'Checks every file it will read first, then starts the local stack unless it runs, uses topics prefixed "demo.", serves the dashboard until Ctrl-C. ' +
      'Without a data folder (a fresh clone has no ../shared/data) it fetches the last --fetch-days of candles from Binance and replays them without texts.',
    example: 'bitpredict demo --rate 20 --no-train',
  },
  topics: {
    summary: 'create the topics and register the Avro schemas; report retention that differs',
    defaultSubcommand: 'create',
    subcommands: {
      create: {
        summary: 'create the missing topics, register the schemas (idempotent)',
        flags: { alter: { type: 'boolean', doc: 'also set retention and cleanup where they differ from docs/topics.md' } },
        configKeys: [...KAFKA, 'BITPREDICT_TOPIC_PARTITIONS', 'BITPREDICT_TOPIC_REPLICATION', 'BITPREDICT_TOPIC_RETENTION_DAYS'],
        example: 'bitpredict topics create --alter',
      },
      check: { summary: 'exit 1 while a topic config differs from the wanted one', configKeys: KAFKA, example: 'bitpredict topics check' },
      list: {
        summary: "this environment's topics (BITPREDICT_TOPIC_PREFIX): partitions, first and end offsets, records, and each shared consumer group's lag on it",
        flags: { json: { type: 'boolean', doc: 'one JSON object ({"topics": [...]}) instead of the table' } },
        configKeys: ['BITPREDICT_KAFKA_BROKERS', 'BITPREDICT_TOPIC_PREFIX'],
        example: 'bitpredict topics list --json',
      },
    },
    example: 'bitpredict topics create',
  },
  replay: {
    summary: 'replay a candle file from the data folder into market.candles',
    configKeys: [
      'BITPREDICT_DATA_DIR',
      'BITPREDICT_REPLAY_FILE',
      'BITPREDICT_REPLAY_SYMBOL',
      'BITPREDICT_REPLAY_INTERVAL',
      'BITPREDICT_REPLAY_RATE',
      'BITPREDICT_REPLAY_FROM',
      'BITPREDICT_REPLAY_TO',
      'BITPREDICT_REPLAY_LIMIT',
      'BITPREDICT_REPLAY_RESUME',
    ],
    example: 'BITPREDICT_REPLAY_LIMIT=1000 bitpredict replay',
  },
  features: {
    summary: 'feature processor: market.candles + text.scored -> features + Redis (indicators, sentiment join)',
    configKeys: [...KAFKA, ...REDIS, 'BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS', 'BITPREDICT_HEALTH_PORT'],
    example: 'bitpredict features',
  },
  sentiment: {
    summary: 'sentiment processor: text.raw -> text.scored (VADER; FinBERT when a model folder is set)',
    configKeys: [...KAFKA, 'BITPREDICT_SENTIMENT_FINBERT_MODELS_DIR', 'BITPREDICT_SENTIMENT_BATCH_SIZE', 'BITPREDICT_HEALTH_PORT'],
    example: 'bitpredict sentiment',
  },
  trainer: {
    summary: 'trainer service: live error monitor (Prometheus) and scheduled / degradation-triggered retraining',
    configKeys: [
      ...KAFKA,
      ...REDIS,
      'BITPREDICT_MODEL_STORE_DIR',
      'BITPREDICT_RETRAIN_INTERVAL_MS',
      'BITPREDICT_RETRAIN_DEGRADE_THRESHOLD',
      'BITPREDICT_HEALTH_PORT',
    ],
    example: 'bitpredict trainer',
  },
  train: {
    summary: 'train the LSTM-attention model, save a versioned artifact, promote it only if it beats the champion',
    flags: TRAIN_FLAGS,
    configKeys: ['BITPREDICT_DATA_DIR', 'BITPREDICT_MODEL_STORE_DIR', 'BITPREDICT_MODEL_PROMOTION_MARGIN', 'BITPREDICT_FORECAST_HORIZONS'],
    notes:
      'Ranges: training [--train-from, --train-to), then validation [--train-to, --train-to + --val-days). With no flags:\n' +
      'two years of training ending 30 days before 2025-01-01, validated on those 30 days.',
    example: 'bitpredict train --train-to 2024-06-01T00:00:00Z --epochs 4 --no-announce',
  },
  models: {
    summary: 'the model registry: champion, history, lineage',
    defaultSubcommand: 'list',
    subcommands: {
      list: {
        summary: 'every version, the champion marked',
        configKeys: ['BITPREDICT_MODEL_STORE_DIR', 'BITPREDICT_MODEL_NAME'],
        example: 'bitpredict models list',
      },
      show: {
        summary: 'one version: scores, lineage, expiry',
        args: '<version|latest|champion>',
        positionals: true,
        flags: MODELS_SHOW_FLAGS,
        example: 'bitpredict models show champion --json',
      },
      promote: {
        summary: 'make a version the champion and announce it on the models topic',
        args: '<version>',
        positionals: true,
        configKeys: KAFKA,
        example: 'bitpredict models promote 20250101T000000Z-abc123',
      },
      rollback: { summary: 'the previous champion again, announced', configKeys: KAFKA, example: 'bitpredict models rollback' },
    },
    example: 'bitpredict models show latest',
  },
  backtest: {
    summary: 'backtest a model on a replayed range (topics or files), point in time, with fees and slippage -> JSON + HTML report',
    flags: BACKTEST_FLAGS,
    configKeys: ['BITPREDICT_MODEL_STORE_DIR', 'BITPREDICT_DATA_DIR'],
    example: 'bitpredict backtest --from 2024-01-01T00:00:00Z --to 2024-04-01T00:00:00Z --model baseline --source files',
  },
  evaluate: {
    summary: 'walk-forward evaluation of the LSTM-attention model beside naive baselines -> JSON + HTML report',
    flags: EVALUATE_FLAGS,
    configKeys: ['BITPREDICT_DATA_DIR', 'BITPREDICT_FORECAST_HORIZONS'],
    example: 'bitpredict evaluate --from 2023-01-01T00:00:00Z --epochs 2',
  },
  ablation: {
    summary: 'the model with vs without some inputs on development folds',
    subcommands: {
      sentiment: {
        summary: 'with vs without the sentiment columns -> pinball, NLL, Diebold-Mariano',
        flags: ABLATION_FLAGS,
        example: 'bitpredict ablation sentiment --folds 2 --epochs 2',
      },
    },
    example: 'bitpredict ablation sentiment',
  },
  predictor: {
    summary: 'predictor: features -> predictions + Redis',
    configKeys: [...KAFKA, ...REDIS, 'BITPREDICT_FORECAST_HORIZONS', 'BITPREDICT_HEALTH_PORT'],
    example: 'bitpredict predictor',
  },
  'market-data': {
    summary: 'live Binance and Coinbase market data with REST gap fill -> market.candles',
    configKeys: [...KAFKA, 'BITPREDICT_MARKET_EXCHANGES', 'BITPREDICT_MARKET_SYMBOLS', 'BITPREDICT_MARKET_INTERVALS'],
    example: 'BITPREDICT_MARKET_SYMBOLS=BTCUSDT bitpredict market-data',
  },
  poll: {
    summary: 'REST polling fallback: closed candles from a CryptoCompare-style API -> market.candles',
    configKeys: [...KAFKA, 'BITPREDICT_POLL_URL', 'BITPREDICT_POLL_INTERVAL_MS', 'BITPREDICT_MARKET_SYMBOLS', 'BITPREDICT_MARKET_INTERVALS'],
    example: 'bitpredict poll',
  },
  news: {
    summary: 'RSS/Atom news polling -> text.raw (exits at once when no feed is set)',
    configKeys: [...KAFKA, 'BITPREDICT_RSS_FEEDS', 'BITPREDICT_RSS_POLL_INTERVAL_MS'],
    example: 'BITPREDICT_RSS_FEEDS=https://example.com/feed.xml bitpredict news',
  },
  x: {
    summary: 'X API v2 recent search -> text.raw (exits at once without a bearer token)',
    configKeys: [...KAFKA, 'BITPREDICT_X_BEARER_TOKEN', 'BITPREDICT_X_QUERY', 'BITPREDICT_X_POLL_INTERVAL_MS'],
    example: 'BITPREDICT_X_BEARER_TOKEN=... bitpredict x',
  },
  'text-replay': {
    summary: 'replay the real tweets or news file into text.raw',
    args: '[file]',
    positionals: true,
    flags: TEXT_REPLAY_FLAGS,
    configKeys: [...KAFKA, 'BITPREDICT_DATA_DIR', 'BITPREDICT_TEXT_REPLAY_FILE'],
    notes: 'file: relative to BITPREDICT_DATA_DIR; default BITPREDICT_TEXT_REPLAY_FILE.',
    example: 'bitpredict text-replay --rate 50 --limit 1000',
  },
  gateway: {
    summary: 'gateway: HTTP + WebSocket push of predictions, dashboard',
    configKeys: [...KAFKA, ...REDIS, 'BITPREDICT_GATEWAY_HOST', 'BITPREDICT_GATEWAY_PORT', 'BITPREDICT_GATEWAY_AUTH'],
    example: 'BITPREDICT_GATEWAY_PORT=8080 bitpredict gateway',
  },
  dlq: {
    summary: 'look at dead letters, send them back to their source topic',
    subcommands: {
      list: {
        summary: 'dead letters, oldest first per partition, then the count per reason',
        flags: { ...DLQ_FILTERS, json: JSON_FLAG },
        configKeys: KAFKA,
        example: 'bitpredict dlq list --reason ERR_VALIDATION --from 2025-01-01T00:00:00Z',
      },
      show: {
        summary: 'one dead letter: reason, source, original headers, payload preview, truncated or not',
        args: '<partition:offset>',
        positionals: true,
        flags: { json: JSON_FLAG },
        example: 'bitpredict dlq show 0:42',
      },
      redrive: {
        summary: 'send the selected records back to their source topic (ids, or the filters; never the whole DLQ)',
        args: '[<partition:offset>...]',
        positionals: true,
        flags: { ...DLQ_FILTERS, 'dry-run': DRY_RUN },
        notes: 'Each record goes back with the header bitpredict-redriven (1, 2...). Truncated records and records not read from a topic are refused.',
        example: 'bitpredict dlq redrive --reason ERR_SCHEMA --dry-run',
      },
    },
    example: 'bitpredict dlq list',
  },
  data: {
    summary: 'candle files: fetch them from an exchange, check one in any common layout, or rewrite it as the canonical CSV',
    subcommands: {
      inspect: {
        summary: 'detected layout, rows, first/last candle, interval, gaps, duplicates, out-of-order and bad rows, unfinished last candle',
        args: '<FILE>',
        positionals: true,
        flags: DATA_INSPECT_FLAGS,
        configKeys: ['BITPREDICT_DATA_DIR'],
        notes:
          'FILE: absolute, relative to the working directory, or else to BITPREDICT_DATA_DIR. Layouts and timestamp units:\n' +
          'docs/replay-and-polling.md#bring-your-own-candles.',
        example: 'bitpredict data inspect ~/Downloads/BTCUSDT-1h-2025-01.csv',
      },
      import: {
        summary: 'validate a candle file and write it as timestamp,open,high,low,close,volume (ms), reporting rows, range, gaps, duplicates and rejected rows',
        args: '<FILE>',
        positionals: true,
        flags: DATA_IMPORT_FLAGS,
        configKeys: ['BITPREDICT_DATA_DIR'],
        notes:
          'Import is optional: backtest --candle-file, BITPREDICT_REPLAY_FILE and evaluate read every supported layout in place.\n' +
          'Rejected rows are listed with their line numbers and left out; the written file has only valid candles, in order, deduplicated.',
        example: 'bitpredict data import btc-1h.csv --columns time=datetime --out data/btc-1h.csv',
      },
      fetch: DATA_FETCH_SPEC,
    },
    example: 'bitpredict data inspect BTCUSDT-1h-2025-01.csv --json',
  },
  keys: {
    summary: "the gateway's API keys",
    defaultSubcommand: 'list',
    subcommands: {
      create: {
        summary: 'a new key, printed once on stdout',
        flags: KEYS_CREATE_FLAGS,
        configKeys: REDIS,
        example: 'KEY=$(bitpredict keys create --name dashboard --scope read)',
      },
      list: { summary: 'every key: id, name, scope, created, revoked', configKeys: REDIS, example: 'bitpredict keys list' },
      revoke: { summary: 'refuse a key from now on', args: '<id>', positionals: true, configKeys: REDIS, example: 'bitpredict keys revoke 0123456789ab' },
    },
    example: 'bitpredict keys list',
  },
} as const satisfies Readonly<Record<string, CommandSpec>>;
