// Topic specs BitPredict creates, and the ONE table of their retention (docs/topics.md shows it,
// the Strimzi KafkaTopics copy it, and deployment/deployment.test.ts holds both to this code).
//
// Record timestamps carry event time (a 2017 candle has a 2017 timestamp) so offsets can be looked
// up by time for backtests. Kafka's time retention compares a segment's newest record timestamp
// with the broker's clock, so retention here is a horizon in EVENT time: a topic keeps the market
// time of the last `retentionDays`, and records older than that (a replay of older history
// included) are deleted by the broker within its retention check (log.retention.check.interval.ms,
// 5 min by default), a whole segment at a time. The horizons follow the readers:
// - the trainer's live retrain reads `features` over BITPREDICT_RETRAIN_TRAIN_DAYS (730) +
//   BITPREDICT_RETRAIN_VAL_DAYS (30) days, plus the 48-step windows' warm-up: 800 days;
// - rebuilding `features` (a new feature set) needs candles and scored texts over that same
//   window, and re-scoring texts (a new sentiment model) needs `text.raw`: the raw topics keep
//   three years, a year of backtest range beyond the trainer's window;
// - predictions and scores feed the live monitor (30-day windows) and dashboards: 90 days;
// - dead letters are for an operator to look at and replay soon: 30 days;
// - `models` is state keyed by model name: compacted (the latest announcement per name);
// - `model-artifacts` holds the bytes of published models (core/models/kafka-artifact.ts): raw
//   chunks, not Avro, so it is not one of the schema map's topics; compacted with a key per chunk
//   of each version, so every published version stays readable.
import { BitPredictError } from '../errors.js';
import { TOPICS, topicName, type LogicalTopic } from '../../schemas/index.js';
import type { TopicSpec } from './driver.js';

const DAY_MS = 86_400_000;

/** Retention in days of every non-compacted topic (-1: keep forever). Override with BITPREDICT_TOPIC_RETENTION_DAYS. */
export const RETENTION_DAYS: Readonly<Record<Exclude<LogicalTopic, 'models'>, number>> = {
  candles: 1095,
  trades: 30,
  textRaw: 1095,
  textScored: 800,
  features: 800,
  predictions: 90,
  scores: 90,
  dlq: 30,
};

/** The topic configs a compacted topic is created with. */
const COMPACTED_CONFIGS = { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0' } as const;

/**
 * Parses BITPREDICT_TOPIC_RETENTION_DAYS: comma-separated `topic=days` (topic as named in Kafka
 * without the prefix, e.g. `market.candles=1825,predictions=-1`); -1 keeps forever. Throws
 * ERR_CONFIG_INVALID naming the key and the bad entry.
 */
export function parseRetentionOverrides(text: string): Partial<Record<LogicalTopic, number>> {
  const out: Partial<Record<LogicalTopic, number>> = {};
  const byName = new Map((Object.keys(TOPICS) as LogicalTopic[]).map((l) => [TOPICS[l].name as string, l]));
  for (const entry of text.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const bad = (why: string): BitPredictError => new BitPredictError('ERR_CONFIG_INVALID', `BITPREDICT_TOPIC_RETENTION_DAYS: "${entry}" ${why}`);
    const m = /^([a-z.]+)=(-1|[1-9]\d{0,5})$/.exec(entry);
    if (!m) throw bad('is not topic=days (days a whole number from 1 to 999999, or -1 to keep forever)');
    const logical = byName.get(m[1] as string);
    if (logical === undefined) throw bad(`names no BitPredict topic (one of: ${[...byName.keys()].join(', ')})`);
    if (TOPICS[logical].compacted) throw bad('is a compacted topic; it keeps the latest record per key and takes no retention');
    if (out[logical] !== undefined) throw bad('repeats a topic');
    out[logical] = Number(m[2]);
  }
  return out;
}

/** The topic configs BitPredict wants for one logical topic (what it creates, and what `topics check` compares). */
export function topicConfigs(logical: LogicalTopic, overrides: Partial<Record<LogicalTopic, number>> = {}): Record<string, string> {
  if (logical === 'models' || TOPICS[logical].compacted) return { ...COMPACTED_CONFIGS };
  const days = overrides[logical] ?? RETENTION_DAYS[logical];
  return { 'cleanup.policy': 'delete', 'retention.ms': days === -1 ? '-1' : String(days * DAY_MS) };
}

/** Base name of the topic that carries model artifact bytes (take the environment prefix in front). */
export const ARTIFACTS_TOPIC = 'model-artifacts';

type TopicSpecOptions = { prefix: string; partitions: number; replicationFactor: number; retentionDays?: string };

export function topicSpecs(opts: TopicSpecOptions): TopicSpec[] {
  const artifacts: TopicSpec = {
    name: opts.prefix + ARTIFACTS_TOPIC,
    // One partition: a loader reads one log, and the chunks of a version stay in order.
    partitions: 1,
    replicationFactor: opts.replicationFactor,
    compacted: true,
    configs: { ...COMPACTED_CONFIGS },
  };
  return [...schemaTopicSpecs(opts), artifacts];
}

function schemaTopicSpecs(opts: TopicSpecOptions): TopicSpec[] {
  const overrides = parseRetentionOverrides(opts.retentionDays ?? '');
  return (Object.keys(TOPICS) as LogicalTopic[]).map((logical): TopicSpec => {
    const spec = TOPICS[logical];
    const name = topicName(logical, opts.prefix);
    const configs = topicConfigs(logical, overrides);
    if (spec.compacted) return { name, partitions: 1, replicationFactor: opts.replicationFactor, compacted: true, configs };
    return { name, partitions: opts.partitions, replicationFactor: opts.replicationFactor, configs };
  });
}

/** One topic config that differs from what BitPredict wants. */
export interface TopicConfigDrift {
  topic: string;
  key: string;
  want: string;
  /** The topic's current value; null when the topic lacks it (never set, or not reported). */
  have: string | null;
}

/** The wanted configs that existing topics do not have (missing topics are not drift: `create` makes them). */
export function topicConfigDrift(specs: TopicSpec[], current: Map<string, Record<string, string>>): TopicConfigDrift[] {
  const out: TopicConfigDrift[] = [];
  for (const s of specs) {
    const have = current.get(s.name);
    if (!have) continue;
    for (const [key, want] of Object.entries(s.configs ?? {})) {
      const value = have[key] ?? null;
      if (value !== want) out.push({ topic: s.name, key, want, have: value });
    }
  }
  return out;
}

/**
 * BITPREDICT_TOPIC_RETENTION_DAYS that keeps every topic forever: for topics that are fed
 * history older than the horizons above (the demo's and the tests' replays of 2017.. candles),
 * which the broker would otherwise delete within minutes.
 */
export const KEEP_ALL_RETENTION = (Object.keys(RETENTION_DAYS) as (keyof typeof RETENTION_DAYS)[]).map((l) => `${TOPICS[l].name}=-1`).join(',');

/**
 * The shared consumer groups (`<prefix>-<name>`, one per processor, all its instances in it) and the
 * topics each reads: what `bitpredict topics list` shows lag for, and what the broker-side lag alert
 * and exporters select (deployment/prometheus/rules.yaml, the kafka-exporter filters). Per-process
 * private groups (the gateway, whole-topic readers) are not in it: nobody else resumes their offsets.
 */
export const SHARED_CONSUMERS: readonly { readonly group: string; readonly topics: readonly LogicalTopic[] }[] = [
  { group: 'sentiment', topics: ['textRaw'] },
  { group: 'features', topics: ['candles'] },
  { group: 'predictor', topics: ['features'] },
  { group: 'trainer-monitor', topics: ['predictions', 'features'] },
];
