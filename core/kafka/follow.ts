// Reading a topic from its beginning, for state every process rebuilds by itself on start: the
// predictor's champion and the gateway's model registry view follow the `models` topic, and every
// feature processor reads all of `text.scored` into its point-in-time index. A consumer group of
// its own per process start that never commits (the next start reads from the beginning again),
// so it cannot disturb any other reader. Records reach the caller as BitPredict's InRecord, never
// as the Kafka client's types.
import type { Logger } from '../logger.js';
import type { KafkaClient } from './client.js';
import { createAdmin, driverOf, kafkaError } from './client.js';
import { withAclResources } from './security.js';
import type { InRecord } from './records.js';

export interface TopicReaderOptions {
  client: KafkaClient;
  topic: string;
  /** A group id unique to this process start. */
  groupId: string;
  /** Longest wait of one fetch on an idle topic (ms, default 250): bounds how long stop() takes. */
  maxWaitMs?: number;
  /** The records of one fetched batch of one partition, in offset order. */
  onBatch(partition: number, records: InRecord[]): Promise<void>;
  /**
   * After every batch, also one that held only transaction markers or aborted records: `next` is
   * the offset after the batch, `highWatermark` the partition's end as the broker reported it.
   */
  onProgress?(partition: number, next: bigint, highWatermark: bigint): void;
  /**
   * Start at the first record stamped at or after this time (ms) in each partition instead of the
   * beginning: offsets by time (ListOffsets), sought on assignment. A partition with no record that
   * late starts at its end.
   */
  fromTime?: number;
}

export interface TopicReader {
  /** Where each partition starts (with fromTime: the offsets by time; else empty: the beginning). */
  readonly startOffsets: ReadonlyMap<number, bigint>;
  stop(): Promise<void>;
}

/** Starts reading `topic` from its beginning (or from `fromTime`); resolves once the consumer runs. */
export async function readTopicFromStart(o: TopicReaderOptions): Promise<TopicReader> {
  const onProgress = o.onProgress;
  const startOffsets = new Map<number, bigint>();
  if (o.fromTime !== undefined) {
    const admin = await createAdmin(o.client);
    try {
      for (const p of await admin.offsetsForTime(o.topic, o.fromTime)) startOffsets.set(p.partition, BigInt(p.offset));
    } finally {
      await admin.close();
    }
  }
  const consumer = driverOf(o.client).consumer({
    groupId: o.groupId,
    topics: [o.topic],
    fromBeginning: true,
    sessionTimeoutMs: 30000,
    heartbeatIntervalMs: 3000,
    maxWaitMs: o.maxWaitMs ?? 250,
    // Read from the beginning by every process start; offsets are never needed again.
    autoCommitIntervalMs: null,
    // The group is new and commits nothing, so an assignment starts at the beginning: move the
    // partitions that have a start by time there before the fetch (on every assignment: a rejoin
    // without committed offsets would start from the beginning again; re-read records are
    // duplicates to the caller, as after a restart).
    onAssigned:
      startOffsets.size === 0
        ? undefined
        : (assignment) => {
            for (const p of assignment[o.topic] ?? []) {
              const at = startOffsets.get(p);
              if (at !== undefined) consumer.seek(o.topic, p, at.toString());
            }
          },
    eachBatch: async (batch, controls) => {
      await o.onBatch(batch.partition, batch.records);
      // Nothing is committed: resolving only moves the fetch position past the batch.
      controls.resolveOffset(batch.lastOffset);
    },
    // The driver skips eachBatch for a batch emptied by filtering (only control records), but still
    // reports its end: the only way to see that a topic ending in a commit marker was read to its end.
    onBatchEnd: onProgress ? (b) => onProgress(b.partition, BigInt(b.lastOffset) + 1n, BigInt(b.highWatermark)) : undefined,
  });
  try {
    await consumer.start();
  } catch (err) {
    await consumer.stop().catch(() => undefined);
    throw withAclResources(kafkaError(o.client, err), `group ${o.groupId}, topic ${o.topic}`);
  }
  return { startOffsets, stop: () => consumer.stop() };
}

export interface FollowOptions {
  client: KafkaClient;
  topic: string;
  /** A group id unique to this process start. */
  groupId: string;
  logger: Logger;
  /** How long start waits for the catch-up before going on with what has been read (default 15 s). */
  catchUpMs?: number;
  /** Each record, in partition order; the catch-up bookkeeping runs after it, even if it throws. */
  onMessage(record: InRecord): Promise<void>;
  /** Once, when every partition has been read up to the end it had at start (not on the timeout). */
  onCaughtUp?(): void;
}

export interface Follower {
  stop(): Promise<void>;
}

/** Follows a (compacted) topic record by record; resolves once it has been read to the end it had at start, or after `catchUpMs`. */
export async function followFromStart(o: FollowOptions): Promise<Follower> {
  const admin = await createAdmin(o.client);
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.endOffsets(o.topic)).map((e) => [e.partition, BigInt(e.offset)]));
  } finally {
    await admin.close();
  }
  const pending = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  let caughtUp = false;
  let markCaughtUp: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    markCaughtUp = () => {
      if (caughtUp) return;
      caughtUp = true;
      o.onCaughtUp?.();
      resolve();
    };
  });
  if (pending.size === 0) markCaughtUp();
  const { stop } = await readTopicFromStart({
    client: o.client,
    topic: o.topic,
    groupId: o.groupId,
    onBatch: async (partition, records) => {
      for (const record of records) {
        try {
          await o.onMessage(record);
        } finally {
          const end = ends.get(partition);
          if (end !== undefined && BigInt(record.offset) + 1n >= end - 1n) {
            // Transaction markers take offsets too: the end minus one counts as caught up.
            pending.delete(partition);
            if (pending.size === 0) markCaughtUp();
          }
        }
      }
    },
  });
  const timeout = o.catchUpMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    done,
    new Promise<void>(
      (resolve) =>
        (timer = setTimeout(() => {
          o.logger.warn({ topic: o.topic, timeoutMs: timeout }, `${o.topic} not read to its end in time; going on with what has been read`);
          resolve();
        }, timeout)),
    ),
  ]);
  clearTimeout(timer);
  return { stop };
}
