// The consumer runner every processor uses. Per batch: each record goes through the handler; a
// failure because a dependency is down (Redis, the registry, Kafka) is retried with capped backoff
// until it is back (the partition waits, readiness is false), an unclassified one a few times, and
// a record that still fails (or is bad itself, like undecodable bytes) becomes a DLQ record, so a
// bad record never blocks its partition. The handler's outputs and the DLQ
// records are produced BEFORE the offsets move:
//   - 'transactional': outputs and offsets are committed in one Kafka transaction (exactly once
//     for read_committed readers);
//   - 'at-least-once': outputs are sent with the idempotent producer, then offsets are committed.
// If producing or committing fails after the Kafka client's own retries, the runner does not carry
// on with state that has moved past what Kafka holds: it reports a fatal error (onFatal) so the
// process shuts down and restarts from the committed offsets.
//
// This file wires the driver's consumer to the runner's parts in core/kafka/runner/: the rebalance
// tracker (what this member owns, where each partition's state stands), the takeover (fencing a
// partition's previous owner), retries then the DLQ, flush and delivery, the batch handler that
// runs them in order, and the metrics.
import type { Logger } from '../logger.js';
import type { Registry } from '../metrics.js';
import type { BitPredictError } from '../errors.js';
import type { KafkaClient } from './client.js';
import { driverOf, kafkaError, tracerOf } from './client.js';
import { withAclResources } from './security.js';
import type { DriverConsumer, DriverConsumerOptions } from './driver.js';
import type { InRecord } from './records.js';
import { createBatchHandler } from './runner/batch.js';
import { createFlusher } from './runner/flush.js';
import { createRunnerMetrics } from './runner/metrics.js';
import { createRebalanceTracker, tpKey } from './runner/rebalance.js';
import { createRetryingHandler } from './runner/retry.js';
import { createTakeover } from './runner/takeover.js';
import { createDependencyHold, createDependencyWaits, dependencyBackoff, type DependencyWait } from './runner/waits.js';
import { DEFAULT_DLQ_MAX_RECORD_BYTES } from './dlq.js';
import { createRecordTracing } from './tracing.js';
import type { DeadLetterFactory, DeliveryMode, PartitionHooks, RecordHandler } from './runner/types.js';

export type { InRecord };
export type { DeadLetterFactory, DeliveryMode, Failure, HandlerContext, PartitionHooks, RecordHandler } from './runner/types.js';
export { classifyError } from './runner/retry.js';
export type { DependencyWait } from './runner/waits.js';

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
  /**
   * While a dependency (Redis, the schema registry, Kafka) is down, the record is retried with a
   * backoff doubling from retryBackoffMs up to this (ms), until it answers; never dead-lettered.
   * Default 30 s.
   */
  dependencyBackoffMaxMs?: number;
  /** How often a wait for a dependency is logged again while it lasts (ms). Default 60 s. */
  stillWaitingLogMs?: number;
  /**
   * Outputs pending above this many bytes are flushed before more are added, so one flush stays
   * below the broker's request and message size (a DLQ record near the limit goes out alone).
   * Default DEFAULT_DLQ_MAX_RECORD_BYTES.
   */
  maxFlushBytes?: number;
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
  /** The oldest wait for a dependency in progress, or null: a service is not ready while one lasts. */
  dependencyWait(): DependencyWait | null;
}

type RunnerConsumerOptions = Pick<DriverConsumerOptions, 'eachBatch' | 'onAssigned' | 'onCrash' | 'onLeft' | 'onBatchStart' | 'onBatchEnd'>;

function createRunnerConsumer(opts: ConsumerRunnerOptions, autoCommitIntervalMs: number | null, events: RunnerConsumerOptions): DriverConsumer {
  const sessionTimeoutMs = opts.sessionTimeoutMs ?? 30000;
  return driverOf(opts.client).consumer({
    groupId: opts.groupId,
    topics: opts.topics,
    fromBeginning: opts.fromBeginning ?? true,
    sessionTimeoutMs,
    heartbeatIntervalMs: Math.min(3000, Math.floor(sessionTimeoutMs / 3)),
    // A fetch waits at most this long for data (kafkajs' default is 5 s, the Java client's 500 ms);
    // stopping waits for the fetch in flight, so this also bounds how long a stop takes.
    maxWaitMs: 500,
    autoCommitIntervalMs,
    ...events,
  });
}

export function createConsumerRunner(opts: ConsumerRunnerOptions): ConsumerRunner {
  const { client, groupId, delivery, hooks } = opts;
  const logger = opts.logger.child({ groupId });
  const metrics = createRunnerMetrics(opts.registry, groupId);
  const tracker = createRebalanceTracker(hooks);
  const commitIntervalMs = opts.commitIntervalMs ?? 1000;
  // Transactions commit offsets themselves; at-least-once lets the driver commit resolved offsets.
  const autoCommit = delivery.kind === 'at-least-once';
  let fatal = false;
  const tracer = tracerOf(client);

  function reportFatal(err: BitPredictError, context: Record<string, unknown>, what: string): void {
    // The first fatal error stops the process; later ones are its echoes.
    if (fatal) return;
    fatal = true;
    logger.error({ err, code: err.code, ...context }, what);
    opts.onFatal(err);
  }

  const consumer = createRunnerConsumer(opts, autoCommit ? commitIntervalMs : null, {
    // eachBatch is built below from parts that need this consumer (to commit and to seek).
    eachBatch: (batch, controls) => eachBatch(batch, controls),
    onAssigned(assignment) {
      metrics.groupJoined();
      flusher.forgetCommits();
      const owned = tracker.assign(assignment);
      metrics.owned(owned);
      waits.retain(owned);
      if (delivery.kind === 'transactional' && delivery.retain) {
        delivery.retain(owned).catch((err: unknown) => logger.warn({ err }, 'closing producers of revoked partitions failed'));
      }
      logger.info({ assignment }, 'joined consumer group');
    },
    onCrash(err, restarting) {
      if (!restarting) reportFatal(err, {}, 'consumer crashed and will not restart');
      else logger.warn({ err }, 'consumer crashed; the driver restarts it');
    },
    onLeft() {
      // Not a member until the restarted consumer joins again (onAssigned): readiness says so, so a
      // probe sees an outage of the brokers even while this service has nothing to process.
      tracker.left();
    },
    onBatchStart: (b) => tracker.batchStarted(tpKey(b.topic, b.partition), BigInt(b.firstOffset), BigInt(b.lastOffset)),
    onBatchEnd: () => tracker.batchEnded(),
  });
  const waits = createDependencyWaits({ metrics, logger, stillWaitingLogMs: opts.stillWaitingLogMs ?? 60_000 });
  const dependencyBackoffMaxMs = opts.dependencyBackoffMaxMs ?? 30_000;
  const hold = createDependencyHold({ waits, metrics, policy: dependencyBackoff(opts.retryBackoffMs, dependencyBackoffMaxMs) });
  const flusher = createFlusher({ groupId, delivery, hooks, consumer, commitIntervalMs, metrics, logger, hold });
  const takeover = createTakeover({ client, groupId, delivery, consumer, tracker, logger });
  const handle = createRetryingHandler({
    groupId,
    handler: opts.handler,
    deadLetter: opts.deadLetter,
    maxAttempts: opts.maxAttempts,
    retryBackoffMs: opts.retryBackoffMs,
    dependencyBackoffMaxMs,
    waits,
    metrics,
    logger,
    ...(tracer ? { tracing: createRecordTracing(tracer, opts.registry) } : {}),
  });
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
    maxFlushBytes: opts.maxFlushBytes ?? DEFAULT_DLQ_MAX_RECORD_BYTES,
    prepareBatch: opts.prepareBatch,
    reportFatal,
    seek: (topic, partition, offset) => consumer.seek(topic, partition, offset),
    waits,
    // A partition given up for an outage is read again after 0.5 s, doubling to 10 s (or the dependency cap when lower).
    outageBackoff: dependencyBackoff(Math.max(opts.retryBackoffMs, 500), Math.min(dependencyBackoffMaxMs, 10_000)),
    discardProducer: delivery.kind === 'transactional' ? (topic, partition) => delivery.discard?.(topic, partition) ?? Promise.resolve() : undefined,
  });

  return {
    async start() {
      try {
        await consumer.start();
        if (autoCommit) flusher.startIdleCommits();
      } catch (err) {
        throw withAclResources(kafkaError(client, err), `group ${groupId}, topics ${opts.topics.join(', ')}`);
      }
    },
    async stop() {
      flusher.stopIdleCommits();
      await consumer.stop();
      await takeover.close();
      tracker.left();
      metrics.stopped();
    },
    get joined() {
      return tracker.joined;
    },
    get assignedPartitions() {
      return tracker.assignedPartitions;
    },
    dependencyWait: () => waits.current(),
  };
}
