// The kafkajs consumer behind DriverConsumer: read_committed, one eachBatch per fetched batch of a
// partition (eachBatchAutoResolve off: the caller resolves what it has handled), auto-commit of
// resolved offsets when asked for, and kafkajs' instrumentation events as the driver's hooks.
//
// Auto-commit is ours, not kafkajs': kafkajs' autoCommit commits the resolved offsets after EVERY
// batch (an OffsetCommit round trip before the next fetch, whatever autoCommitInterval says), which
// put a commit in front of every live record at every hop (issue 15: the gateway's four-topic
// consumer spent most of the e2e median waiting on its own commits). kafkajs runs with autoCommit
// off; resolved offsets are committed by commitOffsetsIfNecessary once autoCommitIntervalMs has
// passed (kafkajs still honours the interval there), when a heartbeat reports a rebalance (as
// kafkajs did), at the end of the batch in hand when the consumer stops, and by stop() itself.
import type { Batch, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { BitPredictError } from '../../../errors.js';
import type { DriverBatch, DriverConsumer, DriverConsumerOptions } from '../../driver.js';
import { toInRecord } from './records.js';
import { BROKERS_AWAY_ERRORS } from './errors.js';

type ToError = (err: unknown) => BitPredictError;

/** kafkajs' own test for a heartbeat or commit refused because the group is rebalancing (errors.js isRebalancing). */
const isRebalancing = (err: unknown): boolean => {
  const type = (err as { type?: unknown } | null)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'NOT_COORDINATOR_FOR_GROUP' || type === 'ILLEGAL_GENERATION';
};
type BatchEvent = { topic: string; partition: number; firstOffset: string | null; lastOffset: string; highWatermark: string };

/** A batch's bounds; a batch without any record at or after the fetch position starts where it ends (kafkajs then reports the fetch offset as its last). */
function boundsOf(b: BatchEvent): Omit<DriverBatch, 'records'> {
  return { topic: b.topic, partition: b.partition, firstOffset: b.firstOffset ?? b.lastOffset, lastOffset: b.lastOffset, highWatermark: b.highWatermark };
}

function toDriverBatch(batch: Batch): DriverBatch {
  return {
    ...boundsOf({
      topic: batch.topic,
      partition: batch.partition,
      firstOffset: batch.firstOffset(),
      lastOffset: batch.lastOffset(),
      highWatermark: batch.highWatermark,
    }),
    records: batch.messages.map((m) => toInRecord(batch.topic, batch.partition, m)),
  };
}

/** Errors after which the cluster, not the request, was the problem: the consumer is relaunched. */
const INFRASTRUCTURE_ERRORS: ReadonlySet<string> = new Set([...BROKERS_AWAY_ERRORS, 'KafkaJSNumberOfRetriesExceeded']);

/** Whether a crash came from brokers being away (any error in its cause chain), not from a bad request. */
export function isInfrastructureCrash(err: unknown): boolean {
  for (let e = err as { name?: string; cause?: unknown; retriable?: boolean } | undefined, depth = 0; e && depth < 10; e = e.cause as typeof e, depth++) {
    if (typeof e.name === 'string' && INFRASTRUCTURE_ERRORS.has(e.name)) return true;
  }
  return false;
}

/** Delay before relaunch attempt n (1, 2, ...) of a crashed consumer: 1 s doubling to 30 s. */
export const relaunchDelayMs = (attempt: number): number => Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1));

/** kafkajs' group and batch events as the options' hooks. */
function listen(consumer: Consumer, opts: DriverConsumerOptions, toError: ToError, relaunch: (err: unknown) => boolean): void {
  const { onAssigned, onCrash, onBatchStart, onBatchEnd } = opts;
  if (onAssigned) consumer.on(consumer.events.GROUP_JOIN, (e) => onAssigned(e.payload.memberAssignment));
  consumer.on(consumer.events.CRASH, (e) => {
    // kafkajs restarts itself only after a retriable error; a broker that stays away longer than
    // its retries (a restart of the whole cluster) ends in a non-retriable "group coordinator not
    // found" or connection error and a consumer that never comes back. Those are relaunched here.
    const relaunching = !e.payload.restart && relaunch(e.payload.error);
    // Either way kafkajs' consumer has left the group; the restarted one joins again (GROUP_JOIN).
    if (e.payload.restart || relaunching) opts.onLeft?.();
    onCrash?.(toError(e.payload.error), e.payload.restart || relaunching);
  });
  if (onBatchStart) consumer.on(consumer.events.START_BATCH_PROCESS, (e) => onBatchStart(boundsOf(e.payload)));
  // kafkajs skips eachBatch for a batch emptied by filtering (only control records or aborted
  // data), but still emits this event: the hook sees those batches too.
  if (onBatchEnd) consumer.on(consumer.events.END_BATCH_PROCESS, (e) => onBatchEnd(boundsOf(e.payload)));
}

export function createKafkaJsConsumer(kafka: Kafka, opts: DriverConsumerOptions, toError: ToError): DriverConsumer {
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs,
    heartbeatInterval: opts.heartbeatIntervalMs,
    // read_committed: never see records of aborted upstream transactions.
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: opts.maxWaitMs,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10000 },
  });
  let running = false;
  let relaunchTimer: NodeJS.Timeout | null = null;
  let relaunchAttempt = 0;
  const runOptions = (): Parameters<Consumer['run']>[0] => ({
    autoCommit: false,
    autoCommitInterval: opts.autoCommitIntervalMs,
    autoCommitThreshold: null,
    eachBatchAutoResolve: false,
    eachBatch,
  });
  /** After a crash kafkajs does not restart from: connect and run again, with backoff, while started. */
  const relaunch = (err: unknown): boolean => {
    if (!running || !isInfrastructureCrash(err)) return false;
    const attempt = ++relaunchAttempt;
    relaunchTimer = setTimeout(() => {
      relaunchTimer = null;
      if (!running) return;
      // The subscriptions survive the crash (kafkajs keeps them); connect and run build the group anew.
      consumer
        .connect()
        .then(() => consumer.run(runOptions()))
        .then(
          () => {
            relaunchAttempt = 0;
          },
          (e: unknown) => {
            // Still away: the next attempt, later (a crash of the new run comes through CRASH instead).
            if (!relaunch(e)) opts.onCrash?.(toError(e), false);
          },
        );
    }, relaunchDelayMs(attempt));
    return true;
  };
  listen(consumer, opts, toError, relaunch);

  const autoCommit = opts.autoCommitIntervalMs !== null;
  // With auto-commit: the next offset to read of every partition resolved since the last join (stop() commits them).
  const resolved = new Map<string, { topic: string; partition: number; offset: string }>();
  if (autoCommit) consumer.on(consumer.events.GROUP_JOIN, () => resolved.clear());

  // The controls are kafkajs' own: an error from heartbeat() must reach kafkajs unchanged when
  // eachBatch rethrows it, so that kafkajs recognises a rebalance and rejoins.
  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary, uncommittedOffsets } = payload;
    if (!autoCommit) {
      return opts.eachBatch(toDriverBatch(batch), { heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary: () => commitOffsetsIfNecessary() });
    }
    // Every resolved offset not committed yet, now (the membership still holds).
    const commitResolved = (): Promise<void> => commitOffsetsIfNecessary(uncommittedOffsets());
    await opts.eachBatch(toDriverBatch(batch), {
      heartbeat: async () => {
        try {
          await heartbeat();
        } catch (err) {
          // A rebalance: commit what was handled before the partitions move, as kafkajs' autoCommit did.
          if (isRebalancing(err)) await commitResolved().catch(() => undefined);
          throw err;
        }
      },
      isRunning,
      isStale,
      resolveOffset: (offset) => {
        resolveOffset(offset);
        resolved.set(`${batch.topic}:${batch.partition}`, { topic: batch.topic, partition: batch.partition, offset: (BigInt(offset) + 1n).toString() });
      },
      commitOffsetsIfNecessary: () => commitOffsetsIfNecessary(),
    });
    // Stopping: kafkajs waits for this batch, then leaves the group; commit its offsets first.
    if (!isRunning()) await commitResolved();
  };

  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toError(err);
    }
  };

  return {
    start: () =>
      wrap(async () => {
        await consumer.connect();
        for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning });
        // autoCommit off (see the top of this file); the interval still drives commitOffsetsIfNecessary.
        await consumer.run(runOptions());
        running = true;
      }),
    stop: () =>
      wrap(async () => {
        running = false;
        if (relaunchTimer) clearTimeout(relaunchTimer);
        relaunchTimer = null;
        // Resolved offsets of batches already done; a batch still in hand commits its own as it ends.
        if (resolved.size > 0) await consumer.commitOffsets([...resolved.values()]).catch(() => undefined);
        await consumer.disconnect();
      }),
    seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset }),
    pause: (topic, partitions) => consumer.pause([{ topic, partitions }]),
    commitOffsets: (offsets) => wrap(() => consumer.commitOffsets(offsets)),
  };
}
