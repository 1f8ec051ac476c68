// Topic specs BitPredict creates. Record timestamps carry event time (a 2017 candle has a 2017
// timestamp) so offsets can be looked up by time for backtests; time-based retention would delete
// such records at once, so data topics keep everything (retention.ms=-1) and `models` is compacted.
// `model-artifacts` holds the bytes of published models (core/models/kafka-artifact.ts): raw
// chunks, not Avro, so it is not one of the schema map's topics; compacted with a key per chunk of
// each version, so every published version stays readable.
import { TOPICS, topicName, type LogicalTopic } from '../../schemas/index.js';
import type { TopicSpec } from './client.js';

/** Base name of the topic that carries model artifact bytes (take the environment prefix in front). */
export const ARTIFACTS_TOPIC = 'model-artifacts';

export function topicSpecs(opts: { prefix: string; partitions: number; replicationFactor: number }): TopicSpec[] {
  const artifacts: TopicSpec = {
    name: opts.prefix + ARTIFACTS_TOPIC,
    // One partition: a loader reads one log, and the chunks of a version stay in order.
    partitions: 1,
    replicationFactor: opts.replicationFactor,
    compacted: true,
    configs: { 'min.compaction.lag.ms': '0' },
  };
  return [...schemaTopicSpecs(opts), artifacts];
}

function schemaTopicSpecs(opts: { prefix: string; partitions: number; replicationFactor: number }): TopicSpec[] {
  return (Object.keys(TOPICS) as LogicalTopic[]).map((logical): TopicSpec => {
    const spec = TOPICS[logical];
    const name = topicName(logical, opts.prefix);
    if (spec.compacted) {
      return { name, partitions: 1, replicationFactor: opts.replicationFactor, compacted: true, configs: { 'min.compaction.lag.ms': '0' } };
    }
    return { name, partitions: opts.partitions, replicationFactor: opts.replicationFactor, configs: { 'retention.ms': '-1' } };
  });
}
