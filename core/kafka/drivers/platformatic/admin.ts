// DriverAdmin on @platformatic/kafka's Admin: topics, watermarks, offsets for time, committed
// offsets. Offsets are listed read_committed (the last stable offset), as the kafkajs driver does,
// so "read to the end" never waits on a transaction still open.
import { Admin, ConfigResourceTypes, ConfigSources, FetchIsolationLevels, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { delay } from '../../../time.js';
import type { DriverAdmin, DriverSettings, TopicSpec } from '../../driver.js';
import { baseOptions, protocolErrorId, toError } from './base.js';

// ListOffsets special timestamps.
const EARLIEST = -2n;
const LATEST = -1n;

export async function createPlatformaticAdmin(settings: DriverSettings): Promise<DriverAdmin> {
  const admin = new Admin(baseOptions(settings, '-admin'));
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toError(err, settings.brokers);
    }
  };
  // Connect now, so an unreachable cluster is reported here as it is by the kafkajs driver.
  try {
    await admin.metadata({ topics: [] });
  } catch (err) {
    await admin.close().catch(() => undefined);
    throw toError(err, settings.brokers);
  }

  async function partitionsOf(topic: string): Promise<number> {
    const md = await admin.metadata({ topics: [topic], forceUpdate: true });
    const t = md.topics.get(topic);
    if (!t) throw new Error(`topic ${topic} does not exist`);
    return t.partitionsCount;
  }

  async function listOffsets(topic: string, timestamp: bigint): Promise<Map<number, bigint>> {
    const count = await partitionsOf(topic);
    const res = await admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }],
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    const out = new Map<number, bigint>();
    for (const t of res) for (const p of t.partitions) out.set(p.partitionIndex, p.offset);
    return out;
  }

  /** Waits until every partition of the topics has a leader (as kafkajs' waitForLeaders). */
  async function waitForLeaders(topics: string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const md = await admin.metadata({ topics, forceUpdate: true }).catch(() => null);
      const ready = md !== null && topics.every((t) => (md.topics.get(t)?.partitions ?? []).every((p) => p && p.leader >= 0));
      if (ready || Date.now() > deadline) return;
      await delay(100);
    }
  }

  return {
    createTopics: (specs: TopicSpec[]) =>
      wrap(async () => {
        for (const s of specs) {
          const configs = Object.entries({ ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}), ...(s.configs ?? {}) }).map(([name, value]) => ({
            name,
            value,
          }));
          try {
            await admin.createTopics({ topics: [s.name], partitions: s.partitions, replicas: s.replicationFactor, configs });
          } catch (err) {
            // Another process may have created it in between; that is the state we want.
            if (protocolErrorId(err) !== 'TOPIC_ALREADY_EXISTS') throw err;
          }
        }
        await waitForLeaders(specs.map((s) => s.name));
      }),
    listTopics: () => wrap(() => admin.listTopics()),
    deleteTopics: (names) =>
      wrap(async () => {
        if (names.length > 0) await admin.deleteTopics({ topics: names });
      }),
    watermarks: (topic) =>
      wrap(async () => {
        const [low, high] = [await listOffsets(topic, EARLIEST), await listOffsets(topic, LATEST)];
        return [...high.entries()].sort(([a], [b]) => a - b).map(([partition, h]) => ({ partition, low: String(low.get(partition) ?? 0n), high: String(h) }));
      }),
    offsetsForTime: (topic, timestamp) =>
      wrap(async () => {
        const [at, high] = [await listOffsets(topic, BigInt(timestamp)), await listOffsets(topic, LATEST)];
        // No record at or after the time: the partition's end, as kafkajs answers.
        return [...at.entries()].sort(([a], [b]) => a - b).map(([partition, o]) => ({ partition, offset: String(o >= 0n ? o : (high.get(partition) ?? o)) }));
      }),
    committedOffsets: (groupId, topic) =>
      wrap(async () => {
        const count = await partitionsOf(topic);
        const [group] = await admin.listConsumerGroupOffsets({
          groups: [{ groupId, topics: [{ name: topic, partitionIndexes: Array.from({ length: count }, (_, i) => i) }] }],
        });
        const parts = group?.topics.find((t) => t.name === topic)?.partitions ?? [];
        return Array.from({ length: count }, (_, partition) => {
          const c = parts.find((p) => p.partitionIndex === partition)?.committedOffset;
          return { partition, offset: c === undefined || c < 0n ? '-1' : String(c) };
        });
      }),
    topicConfigs: (topic) =>
      wrap(async () => {
        const res = await admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic }] });
        const out: Record<string, string> = {};
        for (const r of res) for (const c of r.configs) if (c.configSource === ConfigSources.TOPIC_CONFIG && typeof c.value === 'string') out[c.name] = c.value;
        return out;
      }),
    alterTopicConfigs: (topic, configs) =>
      wrap(() =>
        admin.incrementalAlterConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: topic,
              configs: Object.entries(configs).map(([name, value]) => ({ name, value, configOperation: IncrementalAlterConfigOperationTypes.SET })),
            },
          ],
        }),
      ),
    close: () => admin.close(),
  };
}
