// The Kafka client driver: everything BitPredict needs from a Kafka client, as one interface with
// two implementations (core/kafka/drivers/kafkajs and core/kafka/drivers/platformatic), chosen by
// BITPREDICT_KAFKA_CLIENT. The rest of core/kafka (the consumer runner, readers, admin, producers)
// is written against this interface only, and code outside core/kafka sees neither the interface
// nor the drivers: it gets BitPredict's own record and client types.
//
// Semantics every driver must keep (the integration suite checks them on both):
// - producers are idempotent (acks=all, no reordering on retry) and never give up on a batch by
//   themselves;
// - a transactional producer sends records and commits consumer offsets in one transaction, with
//   the pre-KIP-447 fencing: its transactional id is fenced by the next producer that initialises
//   it, and its offset commits carry no group generation;
// - consumers read committed data only (read_committed): no record of an aborted or open
//   transaction ever reaches a batch, and control records never do;
// - a batch is the records of one partition from one fetch, in offset order; onBatchEnd also
//   reports batches that held only control records or aborted data, so a reader can tell that a
//   partition ending in a transaction marker has been read to its end;
// - offsets are decimal strings (Kafka offsets are 64-bit);
// - errors leave a driver as BitPredictError (toError), with the codes and retryable flags of
//   schemas/errors.ts.
import type { BitPredictError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { InRecord, OutRecord } from './records.js';

export const DRIVER_NAMES = ['kafkajs', 'platformatic'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];
/** The driver when BITPREDICT_KAFKA_CLIENT is unset (docs/benchmarks.md says why this one). */
export const DEFAULT_DRIVER: DriverName = 'kafkajs';
/** The driver the CI's second integration pass runs on: the one that is not the default. */
export const OTHER_DRIVER: DriverName = DRIVER_NAMES.find((d) => d !== DEFAULT_DRIVER)!;

/**
 * How to reach a secured cluster: one description for both drivers (core/kafka/security.ts reads
 * it from the configuration and its files; each driver maps it onto its own client options).
 */
export interface KafkaSecurity {
  /** TLS to the brokers; null: plaintext. PEM contents, not paths. */
  tls: null | {
    /** CA bundle to trust; absent: the system's CAs. */
    ca?: string;
    /** Client certificate and key for mutual TLS. */
    cert?: string;
    key?: string;
    /** Check the broker's certificate and host name (default true; false only for tests). */
    rejectUnauthorized: boolean;
  };
  /** SASL authentication; null: none. */
  sasl:
    | null
    | { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }
    /** OAUTHBEARER: `token()` returns a current bearer token (read again at each (re)authentication). */
    | { mechanism: 'oauthbearer'; token: () => Promise<string> };
  /**
   * The settings this description came from, in words (keys, values and file paths; never a
   * secret), so that a refused login or a failed handshake can name what to check.
   */
  origin?: { tls?: string; sasl?: string };
}

export const PLAINTEXT: KafkaSecurity = { tls: null, sasl: null };

export interface DriverSettings {
  brokers: string[];
  clientId: string;
  /** Connection retries before an unreachable broker is reported (kept small: seconds, not minutes). */
  connectRetries: number;
  /** TLS and SASL; `{ tls: null, sasl: null }` for a plaintext listener. */
  security: KafkaSecurity;
  logger: Logger;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  compacted?: boolean;
  /** Extra topic configs (strings, as Kafka takes them). */
  configs?: Record<string, string>;
}

export interface PartitionWatermarks {
  partition: number;
  /** The log start offset. */
  low: string;
  /** The high watermark (the offset the next record will get). */
  high: string;
}

export interface DriverAdmin {
  /** Creates the topics (waiting for their leaders); a topic that exists already is not an error. */
  createTopics(specs: TopicSpec[]): Promise<void>;
  listTopics(): Promise<string[]>;
  deleteTopics(names: string[]): Promise<void>;
  watermarks(topic: string): Promise<PartitionWatermarks[]>;
  /** Per partition, the offset of the first record stamped at or after `timestamp`; the high watermark when there is none. */
  offsetsForTime(topic: string, timestamp: number): Promise<{ partition: number; offset: string }[]>;
  /** The group's committed offset per partition of the topic; '-1' where it has none. */
  committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]>;
  /** The topic's configs as set on the topic itself (not broker defaults): name -> value. */
  topicConfigs(topic: string): Promise<Record<string, string>>;
  /** Sets these configs on the topic, leaving its other topic-level configs as they are. */
  alterTopicConfigs(topic: string, configs: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export interface OffsetCommit {
  consumerGroupId: string;
  topic: string;
  partition: number;
  /** The next offset to read (the last handled offset + 1). */
  offset: string;
}

export interface DriverProducer {
  /** Sends the records (idempotent, acks=all); resolves once every record is acknowledged. */
  send(records: OutRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface DriverTransactionalProducer {
  /** Sends the records and commits the offsets in one transaction; aborts it on any failure and throws. */
  sendWithOffsets(records: OutRecord[], offsets: OffsetCommit[]): Promise<void>;
  close(): Promise<void>;
}

/** One fetched batch of one partition. */
export interface DriverBatch {
  topic: string;
  partition: number;
  /** The data records, in offset order (no control records, no aborted data). Not empty when handed to eachBatch. */
  records: InRecord[];
  /**
   * The first offset the batch covers, control records and aborted data included: the first record
   * at or after the fetch position (a batch fetched from a committed offset starts there, even when
   * that offset holds a transaction marker); for a batch without records, where it starts.
   */
  firstOffset: string;
  /** The last offset the batch covers, control records and aborted data included. */
  lastOffset: string;
  /** The partition's high watermark as the broker reported it with this batch. */
  highWatermark: string;
}

/** What eachBatch may do while it holds a batch. */
export interface BatchControls {
  /** Keeps the group membership alive through a long batch; throws once a rebalance has taken the partition. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping. */
  isRunning(): boolean;
  /** True once the partition was revoked or sought since the batch was fetched: its records must not be committed. */
  isStale(): boolean;
  /** Marks `offset` handled: the consumer's position (and an auto-commit) moves past it. */
  resolveOffset(offset: string): void;
  /** With auto-commit: commits the resolved offsets if the commit interval has passed. */
  commitOffsetsIfNecessary(): Promise<void>;
}

export interface DriverConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a partition without a committed offset starts: its beginning (true) or its end. */
  fromBeginning: boolean;
  /** Group session timeout (ms). */
  sessionTimeoutMs: number;
  /** Heartbeat interval (ms). */
  heartbeatIntervalMs: number;
  /** Longest wait of one fetch on an idle partition (ms); also bounds how long stop() waits. */
  maxWaitMs: number;
  /** Commit resolved offsets at most this often, and on rebalance and stop (ms); null: the consumer never commits by itself. */
  autoCommitIntervalMs: number | null;
  /** Records of one partition from one fetch; only called with at least one record. */
  eachBatch(batch: DriverBatch, controls: BatchControls): Promise<void>;
  /** After every group join (start and each rebalance): this member's partitions per topic. */
  onAssigned?(assignment: Record<string, number[]>): void;
  /** Before eachBatch, for every fetched batch (also one that eachBatch will not see). */
  onBatchStart?(batch: Omit<DriverBatch, 'records'>): void;
  /** After eachBatch, for every fetched batch, including those that held only control records or aborted data. */
  onBatchEnd?(batch: Omit<DriverBatch, 'records'>): void;
  /** The consumer failed; `restarting` says whether the driver recovers by itself. */
  onCrash?(err: BitPredictError, restarting: boolean): void;
  /**
   * The consumer left its group and will join again (kafkajs restarting it after a crash): not a
   * member until the next onAssigned. A driver that retries a batch without leaving does not call it.
   */
  onLeft?(): void;
}

export interface DriverConsumer {
  /** Connects, subscribes and starts fetching; resolves once running (the group join may still be in progress). */
  start(): Promise<void>;
  /** Stops fetching, lets the batch in hand finish, commits resolved offsets (with auto-commit) and leaves the group. */
  stop(): Promise<void>;
  /** The next fetch of the partition starts at `offset`; a batch in hand becomes stale. */
  seek(topic: string, partition: number, offset: string): void;
  /** Stops fetching the partitions until the consumer stops. */
  pause(topic: string, partitions: number[]): void;
  /** Commits offsets (next offset to read) for the group, outside any transaction. */
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
}

export interface KafkaDriver {
  readonly name: DriverName;
  admin(): Promise<DriverAdmin>;
  producer(): Promise<DriverProducer>;
  transactionalProducer(transactionalId: string): Promise<DriverTransactionalProducer>;
  consumer(opts: DriverConsumerOptions): DriverConsumer;
  /** Any error of this driver's client as a BitPredictError (unchanged when it is one already). */
  toError(err: unknown): BitPredictError;
}
