// The kafkajs admin behind DriverAdmin: topics, watermarks, offsets by time and a group's
// committed offsets. Every failure leaves as a BitPredictError.
import type { Kafka, ITopicConfig } from 'kafkajs';
import { errorMessage, type BitPredictError } from '../../../errors.js';
import type { DriverAdmin, TopicSpec } from '../../driver.js';

function toTopicConfig(s: TopicSpec): ITopicConfig {
  return {
    topic: s.name,
    numPartitions: s.partitions,
    replicationFactor: s.replicationFactor,
    configEntries: Object.entries({ ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}), ...(s.configs ?? {}) }).map(([name, value]) => ({ name, value })),
  };
}

export async function createKafkaJsAdmin(kafka: Kafka, toError: (err: unknown) => BitPredictError): Promise<DriverAdmin> {
  const admin = kafka.admin();
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toError(err);
    }
  };
  await wrap(() => admin.connect());
  return {
    createTopics: (specs) =>
      wrap(async () => {
        if (specs.length === 0) return;
        try {
          await admin.createTopics({ topics: specs.map(toTopicConfig), waitForLeaders: true });
        } catch (err) {
          // Another process may have created them in between; that is the state we want.
          const e = err as { type?: string };
          if (e.type !== 'TOPIC_ALREADY_EXISTS' && !/already exists/i.test(errorMessage(err))) throw err;
        }
      }),
    listTopics: () => wrap(() => admin.listTopics()),
    deleteTopics: (names) =>
      wrap(async () => {
        if (names.length > 0) await admin.deleteTopics({ topics: names, timeout: 10000 });
      }),
    watermarks: (topic) => wrap(async () => (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high }))),
    offsetsForTime: (topic, timestamp) =>
      wrap(async () => (await admin.fetchTopicOffsetsByTimestamp(topic, timestamp)).map((p) => ({ partition: p.partition, offset: p.offset }))),
    committedOffsets: (groupId, topic) =>
      wrap(async () => {
        const res = await admin.fetchOffsets({ groupId, topics: [topic] });
        return (res.find((r) => r.topic === topic)?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
      }),
    close: () => wrap(() => admin.disconnect()),
  };
}
