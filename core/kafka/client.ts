// The only module family that imports kafkajs. Everything else sees BitPredict's own record and
// client types, so another Kafka client could replace kafkajs inside core/kafka alone.
import kafkajs from 'kafkajs';
import type { Kafka as KafkaJs, LogEntry, logLevel as LogLevelEnum, ITopicConfig } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import { BitPredictError, errorMessage } from '../errors.js';
import { topicName, type LogicalTopic } from '../../schemas/index.js';

const { Kafka, logLevel } = kafkajs;

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** Connection retries; kept small so an unreachable broker is reported within seconds, not minutes. */
  connectRetries?: number;
  /** Environment prefix of every topic name (BITPREDICT_TOPIC_PREFIX; default empty). */
  topicPrefix?: string;
  /** Prefix of consumer group names (BITPREDICT_KAFKA_CLIENT_ID; default "bitpredict"). */
  groupPrefix?: string;
  /** This process instance in the names of its private groups (BITPREDICT_INSTANCE_ID, resolved). */
  instanceId?: string;
}

/**
 * A connection configuration to one Kafka cluster, and the names of things in it. Opaque
 * otherwise: readers, producers and admins are made by this folder's factories.
 */
export interface KafkaClient {
  readonly brokers: string[];
  readonly logger: Logger;
  /** Environment prefix of every topic name. */
  readonly topicPrefix: string;
  /** Full name of a logical topic (with the environment prefix). */
  topic(logical: LogicalTopic): string;
  /** The group of a processor, shared by all its instances: `<prefix>-<name>`. */
  groupId(name: string): string;
  /** A group of this process start alone, that nobody else joins: `<prefix>-<name>-<instance>-<unique>`. */
  privateGroupId(name: string): string;
}

const engines = new WeakMap<KafkaClient, KafkaJs>();

/** The kafkajs instance behind a client, for the modules of core/kafka only. */
export function kafkajsOf(client: KafkaClient): KafkaJs {
  const engine = engines.get(client);
  if (!engine) throw new BitPredictError('ERR_KAFKA', 'not a Kafka client made by createKafkaClient');
  return engine;
}

/** Routes kafkajs logs into pino, at the matching level, under the kafka component. */
function pinoLogCreator(logger: Logger) {
  return (_level: LogLevelEnum) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _ts, logger: _l, stack, ...extra } = log as { message: string; timestamp: string; logger?: string; stack?: string };
      // kafkajs attaches stack traces to expected conditions (a refused connection); keep them for debugging only.
      const fields = logger.isLevelEnabled('debug') && stack ? { kafkaNamespace: namespace, ...extra, stack } : { kafkaNamespace: namespace, ...extra };
      // kafkajs logs every error response at ERROR, including the retriable ones it handles
      // itself (coordinator loading, leader moved); the failures that matter reach us as
      // exceptions, so these stay at debug.
      const effective = namespace === 'Connection' && message.startsWith('Response ') ? logLevel.DEBUG : level;
      switch (effective) {
        case logLevel.ERROR:
          logger.error(fields, message);
          break;
        case logLevel.WARN:
          logger.warn(fields, message);
          break;
        case logLevel.INFO:
          logger.info(fields, message);
          break;
        default:
          logger.debug(fields, message);
      }
    };
}

function kafkaLogLevel(logger: Logger): LogLevelEnum {
  switch (logger.level) {
    case 'trace':
    case 'debug':
      return logLevel.DEBUG;
    case 'info':
      // kafkajs is chatty at INFO (every join/leave); keep it at WARN unless debugging.
      return logLevel.WARN;
    case 'silent':
      return logLevel.NOTHING;
    default:
      return logLevel.WARN;
  }
}

export function createKafkaClient(settings: KafkaSettings, logger: Logger): KafkaClient {
  const child = logger.child({ component: 'kafka' });
  const raw = new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: kafkaLogLevel(child),
    logCreator: pinoLogCreator(child),
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { retries: settings.connectRetries ?? 5, initialRetryTime: 300, maxRetryTime: 5000 },
  });
  const topicPrefix = settings.topicPrefix ?? '';
  const groupPrefix = settings.groupPrefix ?? 'bitpredict';
  const instance = settings.instanceId ?? String(process.pid);
  const client: KafkaClient = {
    brokers: settings.brokers,
    logger: child,
    topicPrefix,
    topic: (logical) => topicName(logical, topicPrefix),
    groupId: (name) => `${groupPrefix}-${name}`,
    privateGroupId: (name) => `${groupPrefix}-${name}-${instance}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`,
  };
  engines.set(client, raw);
  return client;
}

/**
 * Maps any kafkajs error onto a BitPredictError in one place: connection failures become
 * ERR_KAFKA_UNREACHABLE with the addresses tried; kafkajs' own `retriable` flag becomes ours.
 */
export function toKafkaError(err: unknown, brokers: string[]): BitPredictError {
  if (err instanceof BitPredictError) return err;
  const e = err as { name?: string; retriable?: boolean; message?: string; originalError?: unknown };
  const name = e?.name ?? '';
  const message = errorMessage(err);
  const connection =
    name === 'KafkaJSConnectionError' ||
    (name === 'KafkaJSNonRetriableError' && /connect|ECONNREFUSED|Connection/i.test(message + errorMessage(e.originalError))) ||
    (name === 'KafkaJSNumberOfRetriesExceeded' && /ECONNREFUSED|Connection|connect/i.test(errorMessage(e.originalError) + message)) ||
    /ECONNREFUSED|Connection timeout|Failed to connect/i.test(message);
  if (connection) {
    return new BitPredictError('ERR_KAFKA_UNREACHABLE', `no Kafka broker answered at ${brokers.join(', ')} (is the stack up? run: npm run stack:up)`, {
      cause: err,
    });
  }
  if (e?.retriable) return new BitPredictError('ERR_KAFKA_RETRIABLE', message, { cause: err });
  return new BitPredictError('ERR_KAFKA', message, { cause: err });
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  compacted?: boolean;
  /** Extra topic configs (strings, as Kafka takes them). */
  configs?: Record<string, string>;
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
  /** Committed offsets of a group on a topic, and lag per partition. */
  groupLag(groupId: string, topic: string): Promise<{ partition: number; committed: string; end: string; lag: number }[]>;
  close(): Promise<void>;
}

export async function createAdmin(client: KafkaClient): Promise<KafkaAdmin> {
  const admin = kafkajsOf(client).admin();
  try {
    await admin.connect();
  } catch (err) {
    throw toKafkaError(err, client.brokers);
  }
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toKafkaError(err, client.brokers);
    }
  };
  return {
    ensureTopics: (specs) =>
      wrap(async () => {
        const existing = new Set(await admin.listTopics());
        const missing = specs.filter((s) => !existing.has(s.name));
        if (missing.length === 0) return [];
        const topics: ITopicConfig[] = missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor,
          configEntries: Object.entries({ ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}), ...(s.configs ?? {}) }).map(([name, value]) => ({
            name,
            value,
          })),
        }));
        try {
          await admin.createTopics({ topics, waitForLeaders: true });
        } catch (err) {
          // Another process may have created them in between; that is the state we want.
          const e = err as { type?: string; name?: string };
          if (e.type !== 'TOPIC_ALREADY_EXISTS' && !/already exists/i.test(errorMessage(err))) throw err;
        }
        return missing.map((s) => s.name);
      }),
    listTopics: () => wrap(() => admin.listTopics()),
    deleteTopics: (names) =>
      wrap(async () => {
        if (names.length > 0) await admin.deleteTopics({ topics: names, timeout: 10000 });
      }),
    endOffsets: (topic) => wrap(async () => (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }))),
    offsetsForTime: (topic, timestamp) =>
      wrap(async () => (await admin.fetchTopicOffsetsByTimestamp(topic, timestamp)).map((p) => ({ partition: p.partition, offset: p.offset }))),
    groupLag: (groupId, topic) =>
      wrap(async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const ends = await admin.fetchTopicOffsets(topic);
        return ends.map((end) => {
          const c = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
          const low = BigInt(end.low);
          const committedN = c === '-1' ? low : BigInt(c);
          return { partition: end.partition, committed: c, end: end.high, lag: Number(BigInt(end.high) - committedN) };
        });
      }),
    close: () => admin.disconnect(),
  };
}
