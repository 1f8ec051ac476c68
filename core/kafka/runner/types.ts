// The contract between the consumer runner and the code it runs: the record handler, the DLQ
// factory, the delivery mode and the per-partition state hooks. It sits apart from consumer.ts so
// that the runner's parts (core/kafka/runner/) can name these types without an import cycle;
// consumer.ts re-exports them, so importers keep one place to get them from.
import type { ErrorCode } from '../../errors.js';
import type { OutRecord, Producer, TransactionalProducer } from '../producer.js';
import type { InRecord } from '../records.js';

export interface HandlerContext {
  heartbeat(): Promise<void>;
}

/** Returns the records to produce for this input (possibly none). Throw to retry or dead-letter. */
export type RecordHandler = (record: InRecord, ctx: HandlerContext) => Promise<OutRecord[] | void>;

export interface Failure {
  code: ErrorCode;
  message: string;
  attempts: number;
}

/** Builds the DLQ record (encoded) for a failed input. */
export type DeadLetterFactory = (record: InRecord, failure: Failure, groupId: string) => Promise<OutRecord>;

export type DeliveryMode =
  | {
      kind: 'transactional';
      /** The transactional producer that owns this input partition (created on first use). */
      producerFor(topic: string, partition: number): Promise<TransactionalProducer>;
      /** Closes producers of partitions this member no longer owns. */
      retain?(assigned: Set<string>): Promise<void>;
      /** Drops the partition's producer (fenced by another instance); the next producerFor makes a new one. */
      discard?(topic: string, partition: number): Promise<void>;
    }
  | { kind: 'at-least-once'; producer: Producer };

/**
 * Hooks for processors that keep state per input partition (see core/kafka/partition-state.ts).
 * The runner tracks the offset each partition's in-memory state has reached; when a batch does not
 * start there (first batch after start or a rebalance, or a batch abandoned without a flush), it
 * calls ensure() before the first record, so state always matches what Kafka has committed.
 */
export interface PartitionHooks {
  /**
   * Bring this partition's state to `offset`, the offset the batch starts at (the committed one).
   * Returns the offset the state reflects: normally `offset`; larger only in at-least-once mode,
   * when a snapshot is ahead of the lazily committed offset, and the runner then skips the records
   * below it (their outputs were already sent before the snapshot was taken).
   */
  ensure(topic: string, partition: number, offset: string): Promise<string>;
  /** Just before the outputs and offsets up to `nextOffset` are produced and committed. */
  beforeFlush?(topic: string, partition: number, nextOffset: string): Promise<void>;
  /** After the outputs and offsets up to `nextOffset` are durable in Kafka. */
  afterFlush?(topic: string, partition: number, nextOffset: string): Promise<void>;
  /** Partitions this member no longer owns after a rebalance: drop their state. */
  revoked?(partitions: { topic: string; partition: number }[]): void;
}
