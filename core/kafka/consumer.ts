// The consumer runner every processor uses. Per batch: each record goes through the handler with
// bounded retries; a record that still fails (or is not retryable, like undecodable bytes) becomes
// a DLQ record, so a bad record never blocks its partition. The handler's outputs and the DLQ
// records are produced BEFORE the offsets move:
//   - 'transactional': outputs and offsets are committed in one Kafka transaction (exactly once
//     for read_committed readers);
//   - 'at-least-once': outputs are sent with the idempotent producer, then offsets are committed.
// If producing or committing fails after kafkajs' own retries, the runner does not carry on with
// state that has moved past what Kafka holds: it reports a fatal error (onFatal) so the process
// shuts down and restarts from the committed offsets.
import { delay } from '../time.js';
import type { Admin, Consumer, EachBatchPayload } from 'kafkajs';
import type { Logger } from '../logger.js';
import type { Registry } from '../metrics.js';
import type { BitPredictError } from '../errors.js';
import { errorMessage, isBitPredictError, type ErrorCode } from '../errors.js';
import type { KafkaClient } from './client.js';
import { toKafkaError, kafkajsOf } from './client.js';
import type { OutRecord } from './producer.js';
import { toInRecord, type InRecord } from './records.js';
import { createRunnerMetrics } from './runner/metrics.js';
import { createRebalanceTracker, tpKey } from './runner/rebalance.js';
import { createFlusher, FlushFailure } from './runner/flush.js';
import type { DeadLetterFactory, DeliveryMode, PartitionHooks, RecordHandler } from './runner/types.js';

export type { InRecord };
export type { DeadLetterFactory, DeliveryMode, Failure, HandlerContext, PartitionHooks, RecordHandler } from './runner/types.js';

export interface ConsumerRunnerOptions {
  client: KafkaClient;
  groupId: string;
  topics: string[];
  fromBeginning?: boolean;
  handler: RecordHandler;
  deadLetter: DeadLetterFactory;
  delivery: DeliveryMode;
  logger: Logger;
  registry: Registry;
  maxAttempts: number;
  retryBackoffMs: number;
  /** Flush outputs and offsets after this many input records (bounds the work lost to a crash). */
  flushEvery?: number;
  /** at-least-once: commit resolved offsets at most this often (ms). */
  commitIntervalMs?: number;
  /** Per-partition state hooks (stateful processors). */
  hooks?: PartitionHooks;
  /** Group session timeout (ms): how long a dead member keeps its partitions. Default 30 s. */
  sessionTimeoutMs?: number;
  /**
   * Called with each chunk of records (up to flushEvery) before they go through the handler one by
   * one, for work that is cheaper in batches (model inference). Best effort: if it throws, the
   * error is logged and the handler still runs per record.
   */
  prepareBatch?: (records: InRecord[]) => Promise<void>;
  onFatal(err: BitPredictError): void;
}

export interface ConsumerRunner {
  start(): Promise<void>;
  /** Stops fetching, lets the batch in hand finish and flush, leaves the group. */
  stop(): Promise<void>;
  /** True once the consumer has joined its group. */
  readonly joined: boolean;
  readonly assignedPartitions: number;
}

export function classifyError(err: unknown): { code: ErrorCode; retryable: boolean; message: string } {
  if (isBitPredictError(err)) return { code: err.code, retryable: err.retryable, message: err.message };
  return { code: 'ERR_HANDLER', retryable: true, message: errorMessage(err) };
}


export function createConsumerRunner(opts: ConsumerRunnerOptions): ConsumerRunner {
  const { client, groupId, handler, deadLetter, delivery, registry, maxAttempts, retryBackoffMs, hooks } = opts;
  const logger = opts.logger.child({ component: 'consumer', groupId });
  const flushEvery = opts.flushEvery ?? 500;
  const consumer: Consumer = kafkajsOf(client).consumer({
    groupId,
    sessionTimeout: opts.sessionTimeoutMs ?? 30000,
    heartbeatInterval: Math.min(3000, Math.floor((opts.sessionTimeoutMs ?? 30000) / 3)),
    // read_committed: never see records of aborted upstream transactions.
    readUncommitted: false,
    allowAutoTopicCreation: false,
    // A fetch waits at most this long for data (kafkajs' default is 5 s, the Java client's 500 ms);
    // disconnect waits for the fetch in flight, so this also bounds how long a stop takes.
    maxWaitTimeInMs: 500,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10000 },
  });
  const metrics = createRunnerMetrics(registry, groupId);
  const tracker = createRebalanceTracker(hooks);
  let fatal = false;
  const commitIntervalMs = opts.commitIntervalMs ?? 1000;
  const flusher = createFlusher({ groupId, delivery, hooks, consumer, commitIntervalMs, metrics, logger });
  let admin: Admin | null = null;

  function reportFatal(err: BitPredictError, context: Record<string, unknown>, what: string): void {
    if (fatal) return;
    fatal = true;
    logger.error({ err, code: err.code, ...context }, what);
    opts.onFatal(err);
  }

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    metrics.groupJoined();
    flusher.forgetCommits();
    const owned = tracker.assign(e.payload.memberAssignment);
    if (delivery.kind === 'transactional' && delivery.retain) {
      delivery.retain(owned).catch((err: unknown) => logger.warn({ err }, 'closing producers of revoked partitions failed'));
    }
    logger.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    const err = toKafkaError(e.payload.error, client.brokers);
    if (!e.payload.restart) reportFatal(err, {}, 'consumer crashed and will not restart');
    else logger.warn({ err }, 'consumer crashed; kafkajs restarts it');
  });
  consumer.on(consumer.events.START_BATCH_PROCESS, (e) => {
    tracker.batchStarted(tpKey(e.payload.topic, e.payload.partition), BigInt(e.payload.firstOffset), BigInt(e.payload.lastOffset));
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, () => tracker.batchEnded());

  async function committedOffset(topic: string, partition: number): Promise<string | null> {
    admin ??= kafkajsOf(client).admin();
    await admin.connect();
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    const o = res.find((r) => r.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset;
    return o === undefined || o === '-1' ? null : o;
  }

  async function processOne(rec: InRecord, heartbeat: () => Promise<void>): Promise<OutRecord[]> {
    for (let attempt = 1; ; attempt++) {
      const stop = metrics.handlerTimer();
      try {
        const out = (await handler(rec, { heartbeat })) ?? [];
        stop();
        metrics.handled();
        return out;
      } catch (err) {
        stop();
        const c = classifyError(err);
        if (c.retryable && attempt < maxAttempts) {
          metrics.retried();
          logger.warn({ topic: rec.topic, partition: rec.partition, offset: rec.offset, attempt, code: c.code, err }, 'handler failed; retrying');
          await delay(retryBackoffMs * 2 ** (attempt - 1));
          await heartbeat();
          continue;
        }
        metrics.deadLettered(c.code);
        logger.warn({ topic: rec.topic, partition: rec.partition, offset: rec.offset, attempts: attempt, code: c.code, err }, 'record sent to the DLQ');
        try {
          return [await deadLetter(rec, { code: c.code, message: c.message, attempts: attempt }, groupId)];
        } catch (dlqErr) {
          // Neither handled nor dead-lettered: the record must not be skipped, so stop (restart
          // re-reads it from the committed offset).
          throw new FlushFailure(dlqErr);
        }
      }
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    tracker.batchDelivered();
    const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary } = payload;
    const key = tpKey(batch.topic, batch.partition);
    const context = { topic: batch.topic, partition: batch.partition };
    const batchFirst = batch.firstOffset();
    logger.trace({ ...context, first: batchFirst, size: batch.messages.length }, 'batch');
    if (batchFirst === null) return;
    if (tracker.takeFirstBatch(key)) {
      if (delivery.kind === 'transactional') {
        // Taking over the partition's transactional id fences a previous owner and waits for its
        // open transaction to end. Only then is the committed offset final: if it is not where
        // this batch starts (a zombie committed in between), start again from it.
        try {
          logger.debug(context, 'taking over the transactional id of the partition');
          await delivery.producerFor(batch.topic, batch.partition);
          const c = await committedOffset(batch.topic, batch.partition);
          logger.debug({ ...context, committed: c, fetched: batchFirst }, 'took over the transactional id');
          if (c !== null && c !== batchFirst) {
            logger.info({ ...context, fetched: batchFirst, committed: c }, 'committed offset moved while taking over the partition; seeking');
            tracker.stateLost(key);
            consumer.seek({ topic: batch.topic, partition: batch.partition, offset: c });
            return;
          }
        } catch (err) {
          const e = toKafkaError(err, client.brokers);
          reportFatal(e, context, 'could not take over the partition\'s transactional id; stopping so the process restarts');
          throw e;
        }
      }
    }
    if (hooks && tracker.stateAt(key) !== BigInt(batchFirst)) {
      try {
        tracker.stateReached(key, BigInt(await hooks.ensure(batch.topic, batch.partition, batchFirst)));
      } catch (err) {
        const e = isBitPredictError(err) ? err : toKafkaError(err, client.brokers);
        reportFatal(e, context, 'could not restore the partition state; stopping so the process restarts');
        throw e;
      }
    }
    const outputs = flusher.forBatch({ topic: batch.topic, partition: batch.partition, resolveOffset, commitOffsetsIfNecessary });
    try {
      const messages = batch.messages;
      for (let i = 0; i < messages.length; i += flushEvery) {
        if (!isRunning() || isStale()) break;
        const chunk = messages.slice(i, i + flushEvery).map((m) => toInRecord(batch.topic, batch.partition, m));
        if (opts.prepareBatch) {
          try {
            await opts.prepareBatch(chunk);
          } catch (err) {
            logger.warn({ ...context, err }, 'batch preparation failed; handling records one by one');
          }
        }
        for (const rec of chunk) {
          if (!isRunning() || isStale()) break;
          const off = BigInt(rec.offset);
          const at = tracker.stateAt(key);
          if (hooks && at !== undefined && off < at) {
            // at-least-once: already reflected in the restored state and already produced.
            outputs.add(rec.offset, []);
            continue;
          }
          outputs.add(rec.offset, await processOne(rec, heartbeat));
          if (hooks) tracker.stateReached(key, off + 1n);
          if (outputs.count >= flushEvery) {
            await outputs.flush();
            await heartbeat();
          }
        }
      }
      // A stale batch (partition revoked by a rebalance) must not commit: the new owner re-reads it.
      if (!isStale()) await outputs.flush();
      metrics.lag(batch.topic, batch.partition, Number(batch.offsetLag()));
    } catch (err) {
      if (err instanceof FlushFailure) {
        const e = toKafkaError(err.original, client.brokers);
        reportFatal(e, context, 'could not produce, dead-letter or commit; stopping so the process restarts from committed offsets');
        throw e;
      }
      // Heartbeat errors (a rebalance) go back to kafkajs, which rejoins; the unflushed records are
      // re-read by whoever owns the partition next, and this partition's state is rebuilt.
      tracker.stateLost(key);
      throw err;
    }
  }

  return {
    async start() {
      try {
        await consumer.connect();
        for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? true });
        // Transactions commit offsets themselves; at-least-once lets kafkajs commit resolved offsets.
        const autoCommit = delivery.kind === 'at-least-once';
        await consumer.run({ autoCommit, autoCommitInterval: autoCommit ? commitIntervalMs : null, autoCommitThreshold: null, eachBatchAutoResolve: false, eachBatch });
        if (autoCommit) flusher.startIdleCommits();
      } catch (err) {
        throw toKafkaError(err, client.brokers);
      }
    },
    async stop() {
      flusher.stopIdleCommits();
      await consumer.disconnect();
      if (admin) await admin.disconnect().catch(() => undefined);
      tracker.left();
    },
    get joined() {
      return tracker.joined;
    },
    get assignedPartitions() {
      return tracker.assignedPartitions;
    },
  };
}
