// A connection to one Kafka cluster through the driver BITPREDICT_KAFKA_CLIENT chooses
// (core/kafka/driver.ts), and the names of things in it. The Kafka client libraries stay inside
// core/kafka/drivers/; the rest of core/kafka uses the driver interface, and everything else sees
// BitPredict's own record and client types.
import { randomBytes } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from '../logger.js';
import { BitPredictError } from '../errors.js';
import { topicName, type LogicalTopic } from '../../schemas/index.js';
import { PLAINTEXT, type DriverAdmin, type DriverName, type DriverSettings, type KafkaDriver, type KafkaSecurity, type TopicSpec } from './driver.js';
import { createPlatformaticDriver } from './drivers/platformatic/index.js';
import { createKafkaJsDriver } from './drivers/kafkajs/index.js';
import { withAclResources } from './security.js';

export type { TopicSpec };

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** The Kafka client library (BITPREDICT_KAFKA_CLIENT; default kafkajs). */
  driver?: DriverName;
  /** TLS and SASL (default: a plaintext listener). */
  security?: KafkaSecurity;
  /** Connection retries; kept small so an unreachable broker is reported within seconds, not minutes. */
  connectRetries?: number;
  /** Environment prefix of every topic name (BITPREDICT_TOPIC_PREFIX; default empty). */
  topicPrefix?: string;
  /** Prefix of consumer group names (BITPREDICT_KAFKA_CLIENT_ID; default "bitpredict"). */
  groupPrefix?: string;
  /** This process instance in the names of its private groups (BITPREDICT_INSTANCE_ID, resolved). */
  instanceId?: string;
  /** Trace records through this client (core/kafka/tracing.ts); absent: tracing off, no tracing work at all. */
  tracer?: Tracer;
}

/**
 * A connection configuration to one Kafka cluster, and the names of things in it. Opaque
 * otherwise: readers, producers and admins are made by this folder's factories.
 */
export interface KafkaClient {
  readonly brokers: string[];
  readonly logger: Logger;
  /** The Kafka client library behind this client. */
  readonly driver: DriverName;
  /** Environment prefix of every topic name. */
  readonly topicPrefix: string;
  /** Full name of a logical topic (with the environment prefix). */
  topic(logical: LogicalTopic): string;
  /** The group of a processor, shared by all its instances: `<prefix>-<name>`. */
  groupId(name: string): string;
  /** A group of this process start alone, that nobody else joins: `<prefix>-<name>-<instance>-<unique>`. */
  privateGroupId(name: string): string;
}

const DRIVERS: Record<DriverName, (s: DriverSettings) => KafkaDriver> = {
  kafkajs: createKafkaJsDriver,
  platformatic: createPlatformaticDriver,
};

const drivers = new WeakMap<KafkaClient, KafkaDriver>();
const tracers = new WeakMap<KafkaClient, Tracer>();

/** The tracer of a client made with one (tracing on), for the modules of core/kafka only. */
export function tracerOf(client: KafkaClient): Tracer | undefined {
  return tracers.get(client);
}

/** The driver behind a client, for the modules of core/kafka only. */
export function driverOf(client: KafkaClient): KafkaDriver {
  const driver = drivers.get(client);
  if (!driver) throw new BitPredictError('ERR_KAFKA', 'not a Kafka client made by createKafkaClient');
  return driver;
}

/**
 * Any error of the client's driver as a BitPredictError, mapped in one place (the driver's):
 * connection failures become ERR_KAFKA_UNREACHABLE with the addresses tried, the client's own
 * retriable flag becomes ours.
 */
export function kafkaError(client: KafkaClient, err: unknown): BitPredictError {
  return driverOf(client).toError(err);
}

export function createKafkaClient(settings: KafkaSettings, logger: Logger): KafkaClient {
  const child = logger.child({ component: 'kafka' });
  const driverName = settings.driver ?? 'kafkajs';
  const factory = Object.hasOwn(DRIVERS, driverName) ? DRIVERS[driverName] : undefined;
  if (!factory) {
    throw new BitPredictError(
      'ERR_CONFIG_INVALID',
      `BITPREDICT_KAFKA_CLIENT=${String(driverName)} is not a Kafka client driver; use one of: ${Object.keys(DRIVERS).join(', ')}`,
    );
  }
  const driver = factory({
    brokers: settings.brokers,
    clientId: settings.clientId,
    connectRetries: settings.connectRetries ?? 5,
    security: settings.security ?? PLAINTEXT,
    logger: child,
  });
  const topicPrefix = settings.topicPrefix ?? '';
  const groupPrefix = settings.groupPrefix ?? 'bitpredict';
  const instance = settings.instanceId ?? String(process.pid);
  const client: KafkaClient = {
    brokers: settings.brokers,
    logger: child,
    driver: driverName,
    topicPrefix,
    topic: (logical) => topicName(logical, topicPrefix),
    groupId: (name) => `${groupPrefix}-${name}`,
    privateGroupId: (name) => `${groupPrefix}-${name}-${instance}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
  };
  drivers.set(client, driver);
  if (settings.tracer) tracers.set(client, settings.tracer);
  return client;
}

export interface KafkaAdmin {
  /** Creates the topics that do not exist yet; existing topics are left as they are. Returns the names created. */
  ensureTopics(specs: TopicSpec[]): Promise<string[]>;
  listTopics(): Promise<string[]>;
  deleteTopics(names: string[]): Promise<void>;
  /** Latest offsets (high watermarks) per partition. */
  endOffsets(topic: string): Promise<{ partition: number; offset: string }[]>;
  /** Offsets of the first record at or after a timestamp, per partition. */
  offsetsForTime(topic: string, timestamp: number): Promise<{ partition: number; offset: string }[]>;
  /** The topic's own configs (not broker defaults): name -> value. */
  topicConfigs(topic: string): Promise<Record<string, string>>;
  /** Sets these configs on the topic, leaving its other topic-level configs as they are. */
  alterTopicConfigs(topic: string, configs: Record<string, string>): Promise<void>;
  /** Committed offsets of a group on a topic, and lag per partition. */
  groupLag(groupId: string, topic: string): Promise<{ partition: number; committed: string; end: string; lag: number }[]>;
  close(): Promise<void>;
}

export async function createAdmin(client: KafkaClient): Promise<KafkaAdmin> {
  let admin: DriverAdmin;
  try {
    admin = await driverOf(client).admin();
  } catch (err) {
    throw kafkaError(client, err);
  }
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw kafkaError(client, err);
    }
  };
  return {
    ensureTopics: (specs) =>
      wrap(async () => {
        const existing = new Set(await admin.listTopics());
        const missing = specs.filter((s) => !existing.has(s.name));
        if (missing.length === 0) return [];
        // Another process may create some of them in between; the driver takes that as done.
        try {
          await admin.createTopics(missing);
        } catch (err) {
          throw withAclResources(kafkaError(client, err), `topics ${missing.map((s) => s.name).join(', ')}`);
        }
        return missing.map((s) => s.name);
      }),
    listTopics: () => wrap(() => admin.listTopics()),
    deleteTopics: (names) => wrap(() => admin.deleteTopics(names)),
    endOffsets: (topic) => wrap(async () => (await admin.watermarks(topic)).map((p) => ({ partition: p.partition, offset: p.high }))),
    offsetsForTime: (topic, timestamp) => wrap(() => admin.offsetsForTime(topic, timestamp)),
    topicConfigs: (topic) => wrap(() => admin.topicConfigs(topic)),
    alterTopicConfigs: (topic, configs) => wrap(() => admin.alterTopicConfigs(topic, configs)),
    groupLag: (groupId, topic) =>
      wrap(async () => {
        const committed = await admin.committedOffsets(groupId, topic);
        const ends = await admin.watermarks(topic);
        return ends.map((end) => {
          const c = committed.find((p) => p.partition === end.partition)?.offset ?? '-1';
          const low = BigInt(end.low);
          const committedN = c === '-1' ? low : BigInt(c);
          return { partition: end.partition, committed: c, end: end.high, lag: Number(BigInt(end.high) - committedN) };
        });
      }),
    close: () => admin.close(),
  };
}
