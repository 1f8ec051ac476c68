// The topic <-> schema map. The .avsc files in ./avro are the contract; this module names the
// topic, key and record of each logical topic and loads the schema JSON on demand. Importing it
// reads nothing: the build copies schemas/avro next to the compiled module and loadSchema() reads
// from there the first time a schema is asked for.
import { readFileSync } from 'node:fs';
import { BitPredictError, messageOf } from './errors.js';
import type { Candle, DeadLetter, FeatureVector, ModelAnnouncement, Prediction, Score, ScoredText, TextItem, Trade } from './types.js';

export type * from './types.js';

export interface TopicSpec {
  /** Topic name without the environment prefix. */
  readonly name: string;
  /** File in schemas/avro holding the value schema. */
  readonly schemaFile: string;
  /** Full Avro name of the value record. */
  readonly recordName: string;
  /** How the record key is formed. */
  readonly key: string;
  /** Log compaction (latest record per key wins) instead of deletion by retention. */
  readonly compacted: boolean;
  readonly doc: string;
}

export const TOPICS = {
  candles: {
    name: 'market.candles',
    schemaFile: 'candle.avsc',
    recordName: 'io.bitpredict.market.Candle',
    key: 'symbol:interval',
    compacted: false,
    doc: 'One closed OHLCV candle; event time = closeTime.',
  },
  trades: {
    name: 'market.trades',
    schemaFile: 'trade.avsc',
    recordName: 'io.bitpredict.market.Trade',
    key: 'exchange:symbol',
    compacted: false,
    doc: 'One public trade (optional topic); event time = eventTime.',
  },
  textRaw: {
    name: 'text.raw',
    schemaFile: 'text-item.avsc',
    recordName: 'io.bitpredict.text.TextItem',
    key: 'id',
    compacted: false,
    doc: 'One tweet or news item; event time = publishedAt.',
  },
  textScored: {
    name: 'text.scored',
    schemaFile: 'scored-text.avsc',
    recordName: 'io.bitpredict.text.ScoredText',
    key: 'id',
    compacted: false,
    doc: 'Sentiment scores of one text.raw item; event time = publishedAt.',
  },
  features: {
    name: 'features',
    schemaFile: 'feature-vector.avsc',
    recordName: 'io.bitpredict.features.FeatureVector',
    key: 'symbol:interval',
    compacted: false,
    doc: 'One feature vector at candle close time t, built only from data with event time <= t.',
  },
  predictions: {
    name: 'predictions',
    schemaFile: 'prediction.avsc',
    recordName: 'io.bitpredict.predictions.Prediction',
    key: 'symbol:interval',
    compacted: false,
    doc: 'One prediction made at t for t + horizon.',
  },
  scores: {
    name: 'scores',
    schemaFile: 'score.avsc',
    recordName: 'io.bitpredict.scores.Score',
    key: 'symbol:interval',
    compacted: false,
    doc: 'The live skill of one model or baseline at one horizon over a rolling window.',
  },
  models: {
    name: 'models',
    schemaFile: 'model-announcement.avsc',
    recordName: 'io.bitpredict.models.ModelAnnouncement',
    key: 'model name',
    compacted: true,
    doc: 'The current champion of each model name.',
  },
  dlq: {
    name: 'dlq',
    schemaFile: 'dead-letter.avsc',
    recordName: 'io.bitpredict.dlq.DeadLetter',
    key: 'original topic or source',
    compacted: false,
    doc: 'Records that could not be processed, with original bytes and reason.',
  },
} as const satisfies Record<string, TopicSpec>;

export type LogicalTopic = keyof typeof TOPICS;

/** Value type of each logical topic, for typed producers and consumers. */
export interface TopicValueMap {
  candles: Candle;
  trades: Trade;
  textRaw: TextItem;
  textScored: ScoredText;
  features: FeatureVector;
  predictions: Prediction;
  scores: Score;
  models: ModelAnnouncement;
  dlq: DeadLetter;
}

export const LOGICAL_TOPICS = Object.keys(TOPICS) as LogicalTopic[];

function specOf(logical: LogicalTopic): TopicSpec {
  if (!Object.hasOwn(TOPICS, logical)) {
    throw new BitPredictError('ERR_VALIDATION', `unknown logical topic "${String(logical)}"; known: ${LOGICAL_TOPICS.join(', ')}`);
  }
  return TOPICS[logical];
}

/** Full topic name: the environment prefix (BITPREDICT_TOPIC_PREFIX) followed by the base name. */
export function topicName(logical: LogicalTopic, prefix = ''): string {
  return prefix + specOf(logical).name;
}

/** Registry subject of a topic's values (Confluent TopicNameStrategy). */
export function subjectFor(topic: string): string {
  return `${topic}-value`;
}

const SCHEMA_DIR = new URL('./avro/', import.meta.url);
const cache = new Map<LogicalTopic, Record<string, unknown>>();

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function fullNameOf(schema: Record<string, unknown>): string {
  const name = typeof schema.name === 'string' ? schema.name : '';
  if (name.includes('.') || typeof schema.namespace !== 'string' || schema.namespace === '') return name;
  return `${schema.namespace}.${name}`;
}

/**
 * Parsed .avsc JSON of a topic's value schema. Read once per process and frozen, because every
 * caller shares the cached object.
 */
export function loadSchema(logical: LogicalTopic): Record<string, unknown> {
  const cached = cache.get(logical);
  if (cached) return cached;
  const spec = specOf(logical);
  const url = new URL(spec.schemaFile, SCHEMA_DIR);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(url, 'utf8'));
  } catch (err) {
    // A missing or broken .avsc is a packaging defect, not a transient condition.
    throw new BitPredictError('ERR_SERDE_UNKNOWN_SCHEMA', `cannot load schema ${spec.schemaFile} of topic ${spec.name}: ${messageOf(err)}`, {
      cause: err,
      retryable: false,
      details: { file: url.pathname },
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || fullNameOf(parsed as Record<string, unknown>) !== spec.recordName) {
    throw new BitPredictError('ERR_SERDE_UNKNOWN_SCHEMA', `schema ${spec.schemaFile} of topic ${spec.name} is not the record ${spec.recordName}`, {
      retryable: false,
      details: { file: url.pathname },
    });
  }
  const schema = deepFreeze(parsed as Record<string, unknown>);
  cache.set(logical, schema);
  return schema;
}

/** Every topic's value schema, in the order of TOPICS. */
export function allSchemas(): Record<LogicalTopic, Record<string, unknown>> {
  const out = {} as Record<LogicalTopic, Record<string, unknown>>;
  for (const logical of LOGICAL_TOPICS) out[logical] = loadSchema(logical);
  return out;
}
