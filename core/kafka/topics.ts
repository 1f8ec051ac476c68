// Topic specs BitPredict creates. Record timestamps carry event time (a 2017 candle has a 2017
// timestamp) so offsets can be looked up by time for backtests; time-based retention would delete
// such records at once, so data topics keep everything (retention.ms=-1) and `models` is compacted.
import { TOPICS, topicName, type LogicalTopic } from '../../schemas/index.js';
import type { TopicSpec } from './client.js';

export function topicSpecs(opts: { prefix: string; partitions: number; replicationFactor: number }): TopicSpec[] {
  return (Object.keys(TOPICS) as LogicalTopic[]).map((logical): TopicSpec => {
    const spec = TOPICS[logical];
    const name = topicName(logical, opts.prefix);
    if (spec.compacted) {
      return { name, partitions: 1, replicationFactor: opts.replicationFactor, compacted: true, configs: { 'min.compaction.lag.ms': '0' } };
    }
    return { name, partitions: opts.partitions, replicationFactor: opts.replicationFactor, configs: { 'retention.ms': '-1' } };
  });
}
