// One fetched batch of one input partition, in order: on the first batch after a join, fence the
// partition's previous owner (exactly-once); bring the partition's state to where the batch starts;
// run the records through the handler in chunks of flushEvery, flushing outputs and offsets after
// each chunk and heartbeating so a long batch keeps the partition; flush the rest unless the
// partition was revoked meanwhile. A failure to fence, restore or flush stops the process (onFatal)
// so it restarts from the committed offsets, except a flush fenced by the partition's new owner,
// which only gives the partition up; any other error (a heartbeat refused by a rebalance)
// goes back to the driver, and the partition's state is rebuilt before its next batch.
import type { Logger } from '../../logger.js';
import type { BitPredictError } from '../../errors.js';
import { isBitPredictError } from '../../errors.js';
import type { KafkaClient } from '../client.js';
import { kafkaError } from '../client.js';
import type { BatchControls, DriverBatch } from '../driver.js';
import type { InRecord } from '../records.js';
import { bytesOf, type Flusher, type PendingOutputs } from './flush.js';
import { FlushAbandoned, FlushFailure } from './flush.js';
import type { RunnerMetrics } from './metrics.js';
import type { RebalanceTracker } from './rebalance.js';
import { tpKey } from './rebalance.js';
import type { RetryingHandler } from './retry.js';
import type { Takeover } from './takeover.js';
import type { PartitionHooks } from './types.js';

type Context = { topic: string; partition: number };

/** Records after the batch up to the partition's high watermark (never below 0). */
function lagAfter(batch: DriverBatch): number {
  const lag = BigInt(batch.highWatermark) - (BigInt(batch.lastOffset) + 1n);
  return Number(lag > 0n ? lag : 0n);
}

export interface BatchDeps {
  client: KafkaClient;
  hooks: PartitionHooks | undefined;
  tracker: RebalanceTracker;
  takeover: Takeover;
  flusher: Flusher;
  handle: RetryingHandler;
  metrics: RunnerMetrics;
  logger: Logger;
  flushEvery: number;
  /** Bytes of outputs (keys, values, headers) above which pending outputs are flushed before more are added. */
  maxFlushBytes: number;
  prepareBatch: ((records: InRecord[]) => Promise<void>) | undefined;
  /** Stops the process; only the first report counts. */
  reportFatal(err: BitPredictError, context: Record<string, unknown>, what: string): void;
  /** Drops the transactional producer of an input partition that another instance fenced. */
  discardProducer?(topic: string, partition: number): Promise<void>;
  /** The consumer's seek: the partition's next fetch starts at `offset`. */
  seek(topic: string, partition: number, offset: string): void;
}

export function createBatchHandler(deps: BatchDeps): (batch: DriverBatch, controls: BatchControls) => Promise<void> {
  const { client, hooks, tracker, flusher, handle, logger, flushEvery, maxFlushBytes, reportFatal } = deps;

  /** False when the batch must be dropped: the consumer seeks to the committed offset instead. */
  async function takeOver(ctx: Context, first: string): Promise<boolean> {
    try {
      return await deps.takeover.takeOver(ctx.topic, ctx.partition, first);
    } catch (err) {
      const e = kafkaError(client, err);
      reportFatal(e, ctx, "could not take over the partition's transactional id; stopping so the process restarts");
      throw e;
    }
  }

  /** Brings the partition's state to `first`, where the batch starts, unless it stands there already. */
  async function ensureState(ctx: Context, key: string, first: string): Promise<void> {
    if (!hooks || tracker.stateAt(key) === BigInt(first)) return;
    try {
      tracker.stateReached(key, BigInt(await hooks.ensure(ctx.topic, ctx.partition, first)));
    } catch (err) {
      const e = isBitPredictError(err) ? err : kafkaError(client, err);
      reportFatal(e, ctx, 'could not restore the partition state; stopping so the process restarts');
      throw e;
    }
  }

  async function prepare(ctx: Context, chunk: InRecord[]): Promise<void> {
    if (!deps.prepareBatch) return;
    try {
      await deps.prepareBatch(chunk);
    } catch (err) {
      logger.warn({ ...ctx, err }, 'batch preparation failed; handling records one by one');
    }
  }

  /** Handles the batch's records, flushing every flushEvery; stops early once the consumer stops or the partition is revoked. */
  async function handleRecords(batch: DriverBatch, controls: BatchControls, ctx: Context, key: string, outputs: PendingOutputs): Promise<void> {
    const { heartbeat, isRunning, isStale } = controls;
    const records = batch.records;
    for (let i = 0; i < records.length; i += flushEvery) {
      if (!isRunning() || isStale()) break;
      const chunk = records.slice(i, i + flushEvery);
      await prepare(ctx, chunk);
      for (const rec of chunk) {
        if (!isRunning() || isStale()) break;
        const off = BigInt(rec.offset);
        const at = tracker.stateAt(key);
        if (hooks && at !== undefined && off < at) {
          // at-least-once: already reflected in the restored state and already produced.
          outputs.add(rec.offset, []);
          continue;
        }
        const out = await handle(rec, { heartbeat, isRunning, isStale });
        // Given up while waiting for a dependency (stopping or revoked): not done, read again later.
        if (out === null) return;
        // A flush stays below the broker's request size: a large output (a truncated DLQ record
        // near the limit) goes out after what is pending, on its own.
        if (outputs.count > 0 && outputs.bytes + bytesOf(out) > maxFlushBytes) await outputs.flush();
        outputs.add(rec.offset, out);
        if (hooks) tracker.stateReached(key, off + 1n);
        if (outputs.count >= flushEvery) {
          await outputs.flush();
          await heartbeat();
        }
      }
    }
  }

  return async function eachBatch(batch: DriverBatch, controls: BatchControls): Promise<void> {
    tracker.batchDelivered();
    const { resolveOffset, isStale, commitOffsetsIfNecessary } = controls;
    const key = tpKey(batch.topic, batch.partition);
    const ctx: Context = { topic: batch.topic, partition: batch.partition };
    const batchFirst = batch.firstOffset;
    logger.trace({ ...ctx, first: batchFirst, size: batch.records.length }, 'batch');
    if (tracker.takeFirstBatch(key) && !(await takeOver(ctx, batchFirst))) return;
    await ensureState(ctx, key, batchFirst);
    const { heartbeat, isRunning } = controls;
    const outputs = flusher.forBatch({ ...ctx, resolveOffset, commitOffsetsIfNecessary, controls: { heartbeat, isRunning, isStale } });
    try {
      await handleRecords(batch, controls, ctx, key, outputs);
      // A stale batch (partition revoked by a rebalance) must not commit: the new owner re-reads it.
      if (!isStale()) await outputs.flush();
      deps.metrics.lag(batch.topic, batch.partition, lagAfter(batch));
    } catch (err) {
      if (err instanceof FlushAbandoned) {
        // Stopping or revoked while waiting for a dependency before the flush: nothing of the
        // batch's rest is durable, so the partition's state no longer matches Kafka; whoever reads
        // the partition next starts from the committed offset.
        tracker.stateLost(key);
        return;
      }
      if (err instanceof FlushFailure) {
        const e = kafkaError(client, err.original);
        if (e.code === 'ERR_KAFKA_FENCED') {
          // Another instance took the partition's transactional id: a rebalance moved the partition
          // while this batch was flushing, or this member was dropped from the group and has not
          // noticed yet. Its takeover aborted this transaction, so nothing of it is visible and the
          // offset did not move. Not a reason to stop the process: drop the partition's state and
          // producer. A revoked partition is the new owner's now; one still assigned here is
          // fetched again from this batch on, and that next batch takes the partition over anew
          // (fence, then resume from the committed offset), so no record is left behind.
          logger.warn({ ...ctx, err: e }, 'transactional id taken over by another instance; dropping the partition state');
          tracker.fenced(key);
          await deps.discardProducer?.(batch.topic, batch.partition);
          if (!isStale()) deps.seek(batch.topic, batch.partition, batchFirst);
          return;
        }
        reportFatal(e, ctx, 'could not produce, dead-letter or commit; stopping so the process restarts from committed offsets');
        throw e;
      }
      // Heartbeat errors (a rebalance) go back to the driver, which rejoins; the unflushed records are
      // re-read by whoever owns the partition next, and this partition's state is rebuilt.
      tracker.stateLost(key);
      throw err;
    }
  };
}
