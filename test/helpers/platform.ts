// Shared helpers for integration and end-to-end tests against the real local stack. Every test
// gets its own topic prefix, consumer groups and Redis key prefix, so tests never see each other's
// records, and cleanup() deletes what the test created.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config, type ConfigKey } from '../../core/config.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas, type Platform } from '../../core/runtime.js';
import { createRedis, type Redis } from '../../core/redis.js';
import { createAdmin, type KafkaAdmin } from '../../core/kafka/client.js';
import { KEEP_ALL_RETENTION, topicSpecs } from '../../core/kafka/topics.js';
import { readTopicFromStart, type TopicReader } from '../../core/kafka/follow.js';
import { topicName, type LogicalTopic, type TopicValueMap } from '../../schemas/index.js';
import { HOURLY_MERGED, SHARED_DATA_DIR } from './shared-data.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
/** The real data sets (test/helpers/shared-data.ts: ../shared/data or TEST_SHARED_DATA_DIR). */
export const DATA_DIR = SHARED_DATA_DIR;
export { HOURLY_MERGED };

export interface TestPlatform {
  config: Config;
  logger: Logger;
  platform: Platform;
  redis: Redis;
  admin: KafkaAdmin;
  prefix: string;
  topic(logical: LogicalTopic): string;
  /** Reads every record of a topic from the beginning up to its current end (read_committed). */
  readAll<T extends LogicalTopic>(
    logical: T,
  ): Promise<{ key: string | null; value: TopicValueMap[T] | null; raw: Buffer | null; timestamp: number; partition: number; offset: string }[]>;
  cleanup(): Promise<void>;
}

export function uniqueId(label: string): string {
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export async function createTestPlatform(label: string, overrides: Partial<Record<ConfigKey, string>> = {}): Promise<TestPlatform> {
  const prefix = `t.${uniqueId(label)}.`;
  const config = loadConfig(process.env, {
    BITPREDICT_TOPIC_PREFIX: prefix,
    BITPREDICT_REDIS_KEY_PREFIX: `bp:test:${prefix}`,
    BITPREDICT_KAFKA_CLIENT_ID: `test-${label}`,
    BITPREDICT_DATA_DIR: DATA_DIR,
    BITPREDICT_LOG_LEVEL: process.env.BITPREDICT_LOG_LEVEL ?? 'error',
    BITPREDICT_RETRY_BACKOFF_MS: '20',
    // The tests replay history (2017..2026), most of it older than the production retention
    // horizons; the broker would delete it within its retention check (docs/topics.md).
    BITPREDICT_TOPIC_RETENTION_DAYS: KEEP_ALL_RETENTION,
    ...overrides,
  });
  const logger = createLogger({ level: config.logLevel, name: `test-${label}` });
  const platform = createPlatform({ config, logger, registry: createMetricsRegistry({ service: `test-${label}`, defaultMetrics: false }), clientId: label });
  await prepareTopicsAndSchemas(platform, config.kafka);
  const redis = await createRedis({ config: config.redis, logger });
  const admin = await createAdmin(platform.kafka);
  const topic = (logical: LogicalTopic): string => topicName(logical, prefix);
  return {
    config,
    logger,
    platform,
    redis,
    admin,
    prefix,
    topic,
    async readAll<T extends LogicalTopic>(logical: T) {
      const name = topic(logical);
      const ends = await admin.endOffsets(name);
      const want = new Map(ends.map((e) => [e.partition, BigInt(e.offset)]));
      const out: { key: string | null; value: TopicValueMap[T] | null; raw: Buffer | null; timestamp: number; partition: number; offset: string }[] = [];
      if ([...want.values()].every((v) => v === 0n)) return out;
      const seen = new Map<number, bigint>();
      let reader: Promise<TopicReader> | undefined;
      const done = new Promise<void>((resolveDone, reject) => {
        const timer = setTimeout(() => reject(new Error(`readAll(${name}) timed out`)), 30_000);
        reader = readTopicFromStart({
          client: platform.kafka,
          topic: name,
          groupId: uniqueId('reader'),
          onBatch: async (partition, records) => {
            for (const message of records) {
              const value: TopicValueMap[T] | null = message.value ? await platform.serde.decode(logical, message.value).catch(() => null) : null;
              out.push({ key: message.key?.toString() ?? null, value, raw: message.value, timestamp: message.timestamp, partition, offset: message.offset });
              seen.set(partition, BigInt(message.offset) + 1n);
              // Transaction markers take offsets too, so "caught up" means reaching the end or beyond.
              if ([...want.entries()].every(([p, end]) => end === 0n || (seen.get(p) ?? 0n) >= end - 1n)) {
                clearTimeout(timer);
                resolveDone();
              }
            }
          },
        });
        reader.catch(reject);
      });
      try {
        await done;
        // A short grace period so that the last records of a transaction batch are in.
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        // The reader may resolve after the records arrived: wait for it before stopping.
        await (await reader?.catch(() => undefined))?.stop();
      }
      return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
    },
    async cleanup() {
      const names = topicSpecs({ prefix, partitions: 1, replicationFactor: 1 }).map((t) => t.name);
      const keys = await redis.keys(`${config.redis.keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await admin.deleteTopics(names).catch(() => undefined);
      await admin.close();
      await redis.quit();
    },
  };
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
