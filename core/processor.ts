// A consume-transform-produce service from a record handler: the consumer runner with the
// configured delivery guarantee, the DLQ, readiness and an idempotent stop. Processors supply
// only their group, input topic and handler.
import type { BitPredictError } from './errors.js';
import type { Config } from './config.js';
import type { Platform } from './runtime.js';
import type { Service } from './service.js';
import { createConsumerRunner, type InRecord, type PartitionHooks, type RecordHandler } from './kafka/consumer.js';
import type { DependencyWait } from './kafka/runner/waits.js';
import { createDeadLetterFactory } from './kafka/dlq.js';
import { createDelivery } from './kafka/delivery.js';
import type { LogicalTopic } from '../schemas/index.js';

export interface ProcessorOptions {
  platform: Platform;
  /** Delivery guarantee, retries and group session of the consumer. */
  consumer: Config['consumer'];
  name: string;
  groupId: string;
  input: LogicalTopic;
  handler: RecordHandler;
  onFatal(err: BitPredictError): void;
  flushEvery?: number;
  /** Extra readiness checks (shown on /readyz). */
  checks?: () => Record<string, string>;
  /** Per-partition state (stateful processors). */
  hooks?: PartitionHooks;
  /** Batch preparation before per-record handling (batched inference). */
  prepareBatch?: (records: InRecord[]) => Promise<void>;
}

export async function createProcessor(opts: ProcessorOptions): Promise<Service> {
  const { platform, groupId, consumer } = opts;
  // Exactly-once: one transactional id per input partition, derived from the group (see
  // core/kafka/delivery.ts), so whoever takes a partition over fences its previous owner.
  const delivery = await createDelivery(platform.kafka, consumer.guarantee, groupId);
  const runner = createConsumerRunner({
    client: platform.kafka,
    groupId,
    topics: [platform.kafka.topic(opts.input)],
    handler: opts.handler,
    deadLetter: createDeadLetterFactory({ serde: platform.serde, topicPrefix: platform.kafka.topicPrefix, maxRecordBytes: consumer.dlqMaxRecordBytes }),
    delivery: delivery.mode,
    logger: platform.logger.child({ component: opts.name }),
    registry: platform.registry,
    maxAttempts: consumer.maxAttempts,
    retryBackoffMs: consumer.retryBackoffMs,
    sessionTimeoutMs: consumer.sessionTimeoutMs,
    dependencyBackoffMaxMs: consumer.dependencyBackoffMaxMs,
    maxFlushBytes: consumer.dlqMaxRecordBytes,
    ...(opts.flushEvery !== undefined ? { flushEvery: opts.flushEvery } : {}),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.prepareBatch ? { prepareBatch: opts.prepareBatch } : {}),
    onFatal: opts.onFatal,
  });
  let stopped = false;
  return {
    name: opts.name,
    start: () => runner.start(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await runner.stop();
      await delivery.close();
    },
    readiness: () => {
      // Not ready while a dependency is down: the partition waits for it (core/kafka/runner/retry.ts).
      const wait = runner.dependencyWait();
      const waiting = dependencyCheck(wait);
      return {
        ready: runner.joined && !stopped && wait === null,
        checks: { kafka: runner.joined ? 'joined' : 'not joined', ...waiting, ...(opts.checks?.() ?? {}) },
      };
    },
  };
}

/**
 * The `dependency` check of a consumer's readiness while partitions wait for a dependency (Kafka,
 * Redis, the registry), or no check: one wording for every service that runs a consumer.
 */
export function dependencyCheck(wait: DependencyWait | null): Record<string, string> {
  return wait ? { dependency: `waiting since ${new Date(wait.since).toISOString()} (${wait.code}) on ${wait.partitions.length} partition(s)` } : {};
}
