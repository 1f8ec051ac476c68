// Flush and delivery: the handler's outputs and DLQ records of a batch go out BEFORE its offsets
// move, so a crash can re-deliver inputs but never lose their outputs:
//   - 'transactional': outputs and the next offset are committed in one Kafka transaction, by the
//     transactional producer that owns the input partition (exactly once for read_committed readers);
//   - 'at-least-once': outputs are sent with the idempotent producer, then the offset is resolved
//     and committed lazily (at most every commitIntervalMs, and by the driver on rebalance and
//     disconnect).
// A produce (in transactional mode: with its offset commit) that fails after the Kafka client's own
// retries becomes a FlushFailure: in-memory state has moved past what Kafka holds, so the runner
// drops the partition's state and reads it again from the committed offset (an outage, batch.ts)
// or stops the process (anything else). An at-least-once commit refused later is not one: the outputs are
// durable already, and the partition's next owner re-reads at most the uncommitted records.
import type { Logger } from '../../logger.js';
import { errorMessage } from '../../errors.js';
import type { DriverConsumer } from '../driver.js';
import type { OutRecord } from '../records.js';
import type { RunnerMetrics } from './metrics.js';
import { tpKey } from './rebalance.js';
import type { DeliveryMode, PartitionHooks } from './types.js';
import type { DependencyHold, RecordControls } from './waits.js';

/** Outputs, a DLQ record or offsets could not be made durable: the process must restart from the committed offsets. */
export class FlushFailure extends Error {
  constructor(readonly original: unknown) {
    super(errorMessage(original));
  }
}

/**
 * The flush was given up while the beforeFlush hook waited for a dependency (the consumer is
 * stopping, or the partition was revoked): nothing was produced or committed, the records are read again.
 */
export class FlushAbandoned extends Error {
  constructor() {
    super('flush given up while waiting for a dependency');
  }
}

/** The input partition of a batch, with the batch's offset controls from the driver. */
export interface FlushTarget {
  topic: string;
  partition: number;
  /** The batch's controls, for a beforeFlush hook that waits for a dependency. */
  controls: RecordControls;
  resolveOffset(offset: string): void;
  commitOffsetsIfNecessary(): Promise<void>;
}

/** What a batch has handled since its last flush. */
export interface PendingOutputs {
  /** Input records handled (or skipped) since the last flush. */
  readonly count: number;
  /** Bytes (keys, values, headers) of the records pending since the last flush. */
  readonly bytes: number;
  /** The input record at `offset` is done; `records` (its outputs, or its DLQ record) go out with its offset. */
  add(offset: string, records: OutRecord[]): void;
  /** Produces and commits everything added since the last flush; nothing when nothing was added. */
  flush(): Promise<void>;
  /** The offset after the batch's last flush that went through, or null before the first one. */
  readonly resumeAt: string | null;
}

export interface Flusher {
  forBatch(target: FlushTarget): PendingOutputs;
  /** A group join: offsets of partitions this member may no longer own must not be committed by the idle timer. */
  forgetCommits(): void;
  /** at-least-once: commit resolved offsets every commitIntervalMs while no batch does. */
  startIdleCommits(): void;
  stopIdleCommits(): void;
}

export interface FlusherDeps {
  groupId: string;
  delivery: DeliveryMode;
  hooks: PartitionHooks | undefined;
  consumer: Pick<DriverConsumer, 'commitOffsets'>;
  commitIntervalMs: number;
  metrics: RunnerMetrics;
  logger: Logger;
  /** Waits out a dependency the beforeFlush hook needs (Redis for the predictor's queued writes). */
  hold: DependencyHold;
}

/** Approximate bytes of records on the wire: keys, values and headers. */
export function bytesOf(records: readonly OutRecord[]): number {
  let n = 0;
  for (const r of records) {
    n += (r.key === null ? 0 : Buffer.byteLength(r.key)) + (r.value?.length ?? 0);
    for (const [k, v] of Object.entries(r.headers ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  return n;
}

export function createFlusher(deps: FlusherDeps): Flusher {
  const { groupId, delivery, hooks, metrics, logger } = deps;
  // at-least-once: next offsets produced-and-resolved per partition, and what was last committed.
  const toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  const committed = new Map<string, string>();
  let commitTimer: NodeJS.Timeout | null = null;

  async function commitIdle(): Promise<void> {
    const pending = [...toCommit.entries()].filter(([k, o]) => committed.get(k) !== o.offset);
    if (pending.length === 0) return;
    try {
      await deps.consumer.commitOffsets(pending.map(([, o]) => o));
      for (const [k, o] of pending) committed.set(k, o.offset);
    } catch (err) {
      // A rebalance in progress refuses the commit; the next owner re-reads at most these records.
      logger.debug({ err }, 'idle offset commit refused');
    }
  }

  /** Produces the outputs (with the offset, in transactional mode); anything failing here is a FlushFailure. */
  async function produce(t: FlushTarget, records: OutRecord[], next: string): Promise<void> {
    const before = hooks?.beforeFlush;
    if (before) {
      // Before any transaction begins, so a long wait cannot time one out.
      let ok: boolean;
      try {
        ok = await deps.hold(tpKey(t.topic, t.partition), { topic: t.topic, partition: t.partition, next }, t.controls, () =>
          before(t.topic, t.partition, next),
        );
      } catch (err) {
        throw new FlushFailure(err);
      }
      if (!ok) throw new FlushAbandoned();
    }
    const stop = metrics.flushTimer(delivery.kind);
    try {
      if (delivery.kind === 'transactional') {
        const producer = await delivery.producerFor(t.topic, t.partition);
        await producer.sendWithOffsets(records, [{ consumerGroupId: groupId, topic: t.topic, partition: t.partition, offset: next }]);
      } else {
        await delivery.producer.send(records);
      }
    } catch (err) {
      throw new FlushFailure(err);
    }
    stop();
  }

  /** Moves the partition's offset past `last`, whose outputs are durable now. */
  async function resolve(t: FlushTarget, last: string, next: string): Promise<void> {
    t.resolveOffset(last);
    if (delivery.kind === 'at-least-once') {
      // Outputs are durable, so the offset may move. Committing on every flush would put a
      // broker round trip in front of every next record; offsets are committed at most every
      // commitIntervalMs (here while busy, by the timer when idle) and always on rebalance and
      // disconnect. A crash in between re-delivers at most that interval's records:
      // at-least-once, by design.
      toCommit.set(tpKey(t.topic, t.partition), { topic: t.topic, partition: t.partition, offset: next });
      await t.commitOffsetsIfNecessary();
    }
  }

  async function afterFlush(t: FlushTarget, next: string): Promise<void> {
    try {
      await hooks?.afterFlush?.(t.topic, t.partition, next);
    } catch (err) {
      // Snapshots are an optimisation (restore replays from an older one); never fatal.
      logger.warn({ topic: t.topic, partition: t.partition, err }, 'after-flush hook failed');
    }
  }

  function forBatch(t: FlushTarget): PendingOutputs {
    const pending: OutRecord[] = [];
    let lastOffset: string | null = null;
    let count = 0;
    let bytes = 0;
    let resumeAt: string | null = null;
    return {
      get resumeAt() {
        return resumeAt;
      },
      get count() {
        return count;
      },
      get bytes() {
        return bytes;
      },
      add(offset, records) {
        pending.push(...records);
        lastOffset = offset;
        count++;
        bytes += bytesOf(records);
      },
      async flush() {
        const last = lastOffset;
        if (last === null) return;
        const next = (BigInt(last) + 1n).toString();
        await produce(t, pending, next);
        await resolve(t, last, next);
        resumeAt = next;
        pending.length = 0;
        lastOffset = null;
        count = 0;
        bytes = 0;
        await afterFlush(t, next);
      },
    };
  }

  return {
    forBatch,
    forgetCommits() {
      toCommit.clear();
      committed.clear();
    },
    startIdleCommits() {
      commitTimer = setInterval(() => void commitIdle(), deps.commitIntervalMs);
      commitTimer.unref();
    },
    stopIdleCommits() {
      if (commitTimer) clearInterval(commitTimer);
    },
  };
}
