// The kafkajs admin behind DriverAdmin: topics, watermarks, offsets by time and a group's
// committed offsets. Every failure leaves as a BitPredictError.
import kafkajs from 'kafkajs';
import type { Kafka, ITopicConfig } from 'kafkajs';
import { errorMessage, type BitPredictError } from '../../../errors.js';
import type { DriverAdmin, TopicSpec } from '../../driver.js';

// kafkajs is CommonJS: its enums come from the default export under plain Node.
const { ConfigResourceTypes, ConfigSource } = kafkajs;

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
  async function topicLevelConfigs(topic: string): Promise<Record<string, string>> {
    const res = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
    const out: Record<string, string> = {};
    for (const r of res.resources) {
      if (r.errorCode !== 0) throw new Error(`describe configs of topic ${topic}: ${r.errorMessage} (error code ${r.errorCode})`);
      for (const e of r.configEntries) if (e.configSource === ConfigSource.TOPIC_CONFIG) out[e.configName] = e.configValue;
    }
    return out;
  }
  /**
   * Until every partition of the topics has a leader. kafkajs's own wait (waitForLeaders) retries
   * only LEADER_NOT_AVAILABLE; on a cluster of several brokers the metadata request may reach a
   * broker that has not yet seen the new topic, which answers UNKNOWN_TOPIC_OR_PARTITION, and
   * kafkajs gave up at once ("This server does not host this topic-partition"). Both are waited out.
   */
  async function waitForLeaders(topics: string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics });
        if (meta.length === topics.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (err) {
        const type = (err as { type?: string }).type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw err;
      }
      if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leader for every partition after ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    createTopics: (specs) =>
      wrap(async () => {
        if (specs.length === 0) return;
        try {
          await admin.createTopics({ topics: specs.map(toTopicConfig), waitForLeaders: false });
        } catch (err) {
          // Another process may have created them in between; that is the state we want.
          const e = err as { type?: string };
          if (e.type !== 'TOPIC_ALREADY_EXISTS' && !/already exists/i.test(errorMessage(err))) throw err;
        }
        await waitForLeaders(specs.map((s) => s.name));
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
    topicConfigs: (topic) => wrap(() => topicLevelConfigs(topic)),
    alterTopicConfigs: (topic, configs) =>
      wrap(async () => {
        // kafkajs has only the legacy AlterConfigs, which replaces the topic's whole set of
        // topic-level configs: send the current ones with the changes, so nothing else is reset.
        const merged = { ...(await topicLevelConfigs(topic)), ...configs };
        await admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: Object.entries(merged).map(([name, value]) => ({ name, value })) }],
        });
      }),
    close: () => wrap(() => admin.disconnect()),
  };
}
