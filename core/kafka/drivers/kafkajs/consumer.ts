// The kafkajs consumer behind DriverConsumer: read_committed, one eachBatch per fetched batch of a
// partition (eachBatchAutoResolve off: the caller resolves what it has handled), auto-commit of
// resolved offsets when asked for, and kafkajs' instrumentation events as the driver's hooks.
import type { Batch, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { BitPredictError } from '../../../errors.js';
import type { DriverBatch, DriverConsumer, DriverConsumerOptions } from '../../driver.js';
import { toInRecord } from './records.js';

type ToError = (err: unknown) => BitPredictError;
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

/** kafkajs' group and batch events as the options' hooks. */
function listen(consumer: Consumer, opts: DriverConsumerOptions, toError: ToError): void {
  const { onAssigned, onCrash, onBatchStart, onBatchEnd } = opts;
  if (onAssigned) consumer.on(consumer.events.GROUP_JOIN, (e) => onAssigned(e.payload.memberAssignment));
  if (onCrash) consumer.on(consumer.events.CRASH, (e) => onCrash(toError(e.payload.error), e.payload.restart));
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
  listen(consumer, opts, toError);

  // The controls are kafkajs' own: an error from heartbeat() must reach kafkajs unchanged when
  // eachBatch rethrows it, so that kafkajs recognises a rebalance and rejoins.
  const eachBatch = async ({ batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> =>
    opts.eachBatch(toDriverBatch(batch), { heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary: () => commitOffsetsIfNecessary() });

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
        const autoCommit = opts.autoCommitIntervalMs !== null;
        await consumer.run({ autoCommit, autoCommitInterval: opts.autoCommitIntervalMs, autoCommitThreshold: null, eachBatchAutoResolve: false, eachBatch });
      }),
    stop: () => wrap(() => consumer.disconnect()),
    seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset }),
    pause: (topic, partitions) => consumer.pause([{ topic, partitions }]),
    commitOffsets: (offsets) => wrap(() => consumer.commitOffsets(offsets)),
  };
}
