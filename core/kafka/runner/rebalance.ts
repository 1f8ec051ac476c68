// What this member owns and where each owned partition's in-memory state stands, kept in step with
// the group's joins and the driver's batch events. Per batch the runner asks two things of it: is
// this the partition's first batch since the join (then the previous owner must be fenced before
// anything is produced), and does the batch start where the state stands (if not, the state is
// rebuilt to the batch's first offset before the first record).
import type { PartitionHooks } from './types.js';

/** Key of a topic partition; delivery's retain() receives owned partitions in this form. */
export const tpKey = (topic: string, partition: number): string => `${topic}:${partition}`;

function fromTpKey(key: string): { topic: string; partition: number } {
  const i = key.lastIndexOf(':');
  return { topic: key.slice(0, i), partition: Number(key.slice(i + 1)) };
}

export interface RebalanceTracker {
  /** True once the consumer has joined its group, until it leaves. */
  readonly joined: boolean;
  readonly assignedPartitions: number;
  /**
   * A group join with this member's assignment: forgets the state offsets of the partitions lost,
   * tells the hooks they are revoked, and marks every owned partition's next batch as its first.
   * Returns the partitions owned now (tpKey form).
   */
  assign(assignment: Record<string, number[]>): Set<string>;
  /** The consumer has left its group. */
  left(): void;
  /** True once per owned partition after each join: for its first batch. */
  takeFirstBatch(key: string): boolean;
  /** The offset the partition's in-memory state has reached, if known. */
  stateAt(key: string): bigint | undefined;
  stateReached(key: string, offset: bigint): void;
  /** The state no longer stands at a known offset (abandoned batch, seek): the next batch rebuilds it. */
  stateLost(key: string): void;
  /**
   * Another instance took the partition's transactional id: the state is lost, and the next batch
   * here (if the partition stays or comes back) is a first batch again, so it takes the partition
   * over from the committed offset instead of continuing from this member's fetch position.
   */
  fenced(key: string): void;
  /** The driver starts a batch (onBatchStart). */
  batchStarted(key: string, first: bigint, last: bigint): void;
  /** The batch reached eachBatch, so it held data records. */
  batchDelivered(): void;
  /** The driver ends the batch (onBatchEnd). */
  batchEnded(): void;
}

export function createRebalanceTracker(hooks: PartitionHooks | undefined): RebalanceTracker {
  let joined = false;
  let owned = new Set<string>();
  // Partitions owned since the last join whose first batch has not been checked yet.
  const fresh = new Set<string>();
  // Offset each partition's in-memory state has reached (stateful processors).
  const stateAt = new Map<string, bigint>();
  // A batch the driver started; cleared by eachBatch, so if it is still set at the batch's end the
  // batch held only control records or aborted data (the driver skips eachBatch for those).
  let started: { key: string; first: bigint; last: bigint } | null = null;

  return {
    get joined() {
      return joined;
    },
    get assignedPartitions() {
      return owned.size;
    },
    assign(assignment) {
      joined = true;
      const now = new Set<string>();
      for (const [topic, parts] of Object.entries(assignment)) for (const p of parts) now.add(tpKey(topic, p));
      const lost = [...owned].filter((k) => !now.has(k));
      owned = now;
      fresh.clear();
      for (const k of now) fresh.add(k);
      for (const k of lost) stateAt.delete(k);
      if (lost.length > 0 && hooks?.revoked) hooks.revoked(lost.map(fromTpKey));
      return now;
    },
    left() {
      joined = false;
    },
    takeFirstBatch(key) {
      return fresh.delete(key);
    },
    stateAt: (key) => stateAt.get(key),
    stateReached(key, offset) {
      stateAt.set(key, offset);
    },
    stateLost(key) {
      stateAt.delete(key);
    },
    fenced(key) {
      stateAt.delete(key);
      if (owned.has(key)) fresh.add(key);
    },
    batchStarted(key, first, last) {
      started = { key, first, last };
    },
    batchDelivered() {
      started = null;
    },
    batchEnded() {
      // Control records (transaction markers) and aborted data occupy offsets without reaching the
      // handler; a state that stood just before them now stands just after them.
      if (started !== null && stateAt.get(started.key) === started.first) stateAt.set(started.key, started.last + 1n);
      started = null;
    },
  };
}
