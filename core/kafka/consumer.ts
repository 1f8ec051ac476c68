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
//
// This file wires the kafkajs consumer to the runner's parts in core/kafka/runner/: the rebalance
// tracker (what this member owns, where each partition's state stands), the takeover (fencing a
// partition's previous owner), retries then the DLQ, flush and delivery, the batch handler that
// runs them in order, and the metrics.
import type { Consumer } from 'kafkajs';
import type { Logger } from '../logger.js';
import type { Registry } from '../metrics.js';
import type { BitPredictError } from '../errors.js';
import type { KafkaClient } from './client.js';
import { toKafkaError, kafkajsOf } from './client.js';
import type { InRecord } from './records.js';
import { createBatchHandler } from './runner/batch.js';
import { createFlusher } from './runner/flush.js';
import { createRunnerMetrics } from './runner/metrics.js';
import { createRebalanceTracker, tpKey } from './runner/rebalance.js';
import { createRetryingHandler } from './runner/retry.js';
import { createTakeover } from './runner/takeover.js';
import type { DeadLetterFactory, DeliveryMode, PartitionHooks, RecordHandler } from './runner/types.js';

export type { InRecord };
export type { DeadLetterFactory, DeliveryMode, Failure, HandlerContext, PartitionHooks, RecordHandler } from './runner/types.js';
export { classifyError } from './runner/retry.js';

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

function createKafkaConsumer(client: KafkaClient, groupId: string, sessionTimeoutMs: number): Consumer {
  return kafkajsOf(client).consumer({
    groupId,
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: Math.min(3000, Math.floor(sessionTimeoutMs / 3)),
    // read_committed: never see records of aborted upstream transactions.
    readUncommitted: false,
    allowAutoTopicCreation: false,
    // A fetch waits at most this long for data (kafkajs' default is 5 s, the Java client's 500 ms);
    // disconnect waits for the fetch in flight, so this also bounds how long a stop takes.
    maxWaitTimeInMs: 500,
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10000 },
  });
}

export function createConsumerRunner(opts: ConsumerRunnerOptions): ConsumerRunner {
  const { client, groupId, delivery, hooks } = opts;
  const logger = opts.logger.child({ component: 'consumer', groupId });
  const consumer = createKafkaConsumer(client, groupId, opts.sessionTimeoutMs ?? 30000);
  const metrics = createRunnerMetrics(opts.registry, groupId);
  const tracker = createRebalanceTracker(hooks);
  const commitIntervalMs = opts.commitIntervalMs ?? 1000;
  const flusher = createFlusher({ groupId, delivery, hooks, consumer, commitIntervalMs, metrics, logger });
  const takeover = createTakeover({ client, groupId, delivery, consumer, tracker, logger });
  const handle = createRetryingHandler({
    groupId,
    handler: opts.handler,
    deadLetter: opts.deadLetter,
    maxAttempts: opts.maxAttempts,
    retryBackoffMs: opts.retryBackoffMs,
    metrics,
    logger,
  });
  let fatal = false;

  function reportFatal(err: BitPredictError, context: Record<string, unknown>, what: string): void {
    // The first fatal error stops the process; later ones are its echoes.
    if (fatal) return;
    fatal = true;
    logger.error({ err, code: err.code, ...context }, what);
    opts.onFatal(err);
  }

  const eachBatch = createBatchHandler({
    client,
    hooks,
    tracker,
    takeover,
    flusher,
    handle,
    metrics,
    logger,
    flushEvery: opts.flushEvery ?? 500,
    prepareBatch: opts.prepareBatch,
    reportFatal,
  });

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

  return {
    async start() {
      try {
        await consumer.connect();
        for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning ?? true });
        // Transactions commit offsets themselves; at-least-once lets kafkajs commit resolved offsets.
        const autoCommit = delivery.kind === 'at-least-once';
        await consumer.run({
          autoCommit,
          autoCommitInterval: autoCommit ? commitIntervalMs : null,
          autoCommitThreshold: null,
          eachBatchAutoResolve: false,
          eachBatch,
        });
        if (autoCommit) flusher.startIdleCommits();
      } catch (err) {
        throw toKafkaError(err, client.brokers);
      }
    },
    async stop() {
      flusher.stopIdleCommits();
      await consumer.disconnect();
      await takeover.close();
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
