// One fetched batch of one input partition, in order: on the first batch after a join, fence the
// partition's previous owner (exactly-once); bring the partition's state to where the batch starts;
// run the records through the handler in chunks of flushEvery, flushing outputs and offsets after
// each chunk and heartbeating so a long batch keeps the partition; flush the rest unless the
// partition was revoked meanwhile. A failure to fence, restore or flush stops the process (onFatal)
// so it restarts from the committed offsets, except two that the process recovers from by itself:
// a flush fenced by the partition's new owner, which only gives the partition up; and a Kafka or
// other dependency outage (a broker or the transaction coordinator gone, a controller moving, the
// whole cluster restarting), after which the partition's state and producer are dropped and the
// partition is read again from its committed offset after a backoff, as a restarted process would,
// with readiness false meanwhile. Any other error (a heartbeat refused by a rebalance) goes back to
// the driver, and the partition's state is rebuilt before its next batch.
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
import { classifyFailure } from './classify.js';
import { sleepHeld, type DependencyWaits } from './waits.js';
import { backoffMs, type BackoffPolicy } from '../../backoff.js';

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
  /** Where outages show (readiness, logs, metrics) while a partition waits to be read again. */
  waits: DependencyWaits;
  /** The wait before a partition is read again after the n-th consecutive outage. */
  outageBackoff: BackoffPolicy;
}

/** Thrown after a partition was given up for an outage: the batch ends, nothing of it is committed. */
class PartitionRecovering extends Error {}

export function createBatchHandler(deps: BatchDeps): (batch: DriverBatch, controls: BatchControls) => Promise<void> {
  const { client, hooks, tracker, flusher, handle, logger, flushEvery, maxFlushBytes, reportFatal, waits } = deps;
  // Consecutive outages per partition since its last successful flush: the backoff's exponent.
  const outages = new Map<string, number>();

  /**
   * A dependency outage hit the partition (Kafka itself, or what a hook needs): give the partition
   * up as a restarted process would (state and transactional producer dropped; its next batch
   * takes it over anew, fencing and reading the committed offset, and restores its state), wait a
   * backoff with readiness false, then fetch it again from `resumeAt`. Nothing is lost: what was
   * not committed is read again; exactly-once readers never see an uncommitted output.
   */
  async function recover(ctx: Context, key: string, controls: BatchControls, resumeAt: string, e: BitPredictError, what: string): Promise<void> {
    const n = (outages.get(key) ?? 0) + 1;
    outages.set(key, n);
    waits.failed(key, ctx, e.code, e);
    logger.warn(
      { ...ctx, err: e, attempt: n, resumeAt },
      `${what}: a dependency is unavailable; giving the partition up and reading it again from offset ${resumeAt} after a backoff`,
    );
    tracker.fenced(key);
    await deps.discardProducer?.(ctx.topic, ctx.partition).catch(() => undefined);
    let held = false;
    try {
      held = await sleepHeld(backoffMs(deps.outageBackoff, n), controls);
    } catch {
      // A heartbeat refused (the broker is away, or a rebalance took the partition): fetch again below.
      held = !controls.isStale() && controls.isRunning();
    }
    if (!controls.isStale()) deps.seek(ctx.topic, ctx.partition, resumeAt);
    if (!held) {
      outages.delete(key);
      waits.abandoned(key, ctx, controls.isRunning() ? 'the partition was revoked' : 'the consumer is stopping');
    }
  }

  /** True for a failure that a restart would only repeat until a dependency is back. */
  const isOutage = (e: BitPredictError): boolean => classifyFailure(e).kind === 'dependency';

  /** False when the batch must be dropped: the consumer seeks to the committed offset instead. */
  async function takeOver(ctx: Context, key: string, controls: BatchControls, first: string): Promise<boolean> {
    try {
      return await deps.takeover.takeOver(ctx.topic, ctx.partition, first);
    } catch (err) {
      const e = kafkaError(client, err);
      if (isOutage(e)) {
        await recover(ctx, key, controls, first, e, "could not take over the partition's transactional id");
        return false;
      }
      reportFatal(e, ctx, "could not take over the partition's transactional id; stopping so the process restarts");
      throw e;
    }
  }

  /** Brings the partition's state to `first`, where the batch starts, unless it stands there already. */
  async function ensureState(ctx: Context, key: string, controls: BatchControls, first: string): Promise<void> {
    if (!hooks || tracker.stateAt(key) === BigInt(first)) return;
    try {
      tracker.stateReached(key, BigInt(await hooks.ensure(ctx.topic, ctx.partition, first)));
    } catch (err) {
      const e = isBitPredictError(err) ? err : kafkaError(client, err);
      if (isOutage(e)) {
        await recover(ctx, key, controls, first, e, 'could not restore the partition state');
        throw new PartitionRecovering();
      }
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
    if (tracker.takeFirstBatch(key) && !(await takeOver(ctx, key, controls, batchFirst))) return;
    try {
      await ensureState(ctx, key, controls, batchFirst);
    } catch (err) {
      if (err instanceof PartitionRecovering) return;
      throw err;
    }
    const { heartbeat, isRunning } = controls;
    const outputs = flusher.forBatch({ ...ctx, resolveOffset, commitOffsetsIfNecessary, controls: { heartbeat, isRunning, isStale } });
    try {
      await handleRecords(batch, controls, ctx, key, outputs);
      // A stale batch (partition revoked by a rebalance) must not commit: the new owner re-reads it.
      if (!isStale()) await outputs.flush();
      deps.metrics.lag(batch.topic, batch.partition, lagAfter(batch));
      if (outages.delete(key)) waits.recovered(key, ctx);
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
        if (isOutage(e)) {
          // The transaction (or the send) failed or its outcome is unknown: the committed offset
          // says which. A new producer for the transactional id completes or aborts it, and the
          // takeover then resumes from that offset. At-least-once resumes after the last flush
          // that went through (what follows it may be produced twice: that mode's duplicates).
          await recover(ctx, key, controls, outputs.resumeAt ?? batchFirst, e, 'could not produce, dead-letter or commit');
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
