// Per-partition state for stateful processors, kept consistent with Kafka's committed offsets.
//
// The state of an input partition is a pure function of its records up to an offset. After every
// successful flush (outputs and offsets committed) the state at that offset may be snapshotted to
// Redis, tagged with the offset; snapshots are written only AFTER the commit, so in exactly-once
// mode a snapshot never runs ahead of the committed offset. Whenever the consumer runner finds that
// a batch does not start where the in-memory state stopped (start, rebalance, a batch abandoned
// without a flush), ensure() rebuilds the state: load the snapshot, then re-apply the input records
// between the snapshot's offset and the committed one (read from the topic, no outputs). With no
// usable snapshot the whole partition is re-read. Either way the state equals the state of an
// uninterrupted run, so the next outputs are identical.
import type { Logger } from '../logger.js';
import type { Registry } from '../metrics.js';
import { counter, histogram } from '../metrics.js';
import type { Redis } from '../redis.js';
import type { KafkaClient } from './client.js';
import type { InRecord, PartitionHooks } from './consumer.js';
import { readRange } from './range.js';

export const PARTITION_SNAPSHOT_VERSION = 1;

export interface PartitionStateOptions<S> {
  /** Processor name, used in logs and metrics. */
  name: string;
  groupId: string;
  client: KafkaClient;
  redis: Redis;
  keyPrefix: string;
  logger: Logger;
  registry: Registry;
  /** Shortest time between snapshots of one partition (0: after every flush). */
  snapshotIntervalMs: number;
  /** at-least-once: a snapshot ahead of the committed offset is used, and the records below it skipped. */
  allowAhead: boolean;
  empty(): S;
  toJSON(s: S): unknown;
  /** Throws (ERR_VALIDATION) on anything this processor could not have written. */
  fromJSON(v: unknown): S;
  /** Re-applies one input record to the state without producing anything. */
  replay(s: S, rec: InRecord): Promise<void> | void;
}

export interface PartitionStates<S> {
  /** The state of a partition the runner has ensured. */
  get(topic: string, partition: number): S;
  readonly hooks: PartitionHooks;
  /** Writes a snapshot of every partition whose state is exactly at its last commit (clean shutdown). */
  persistAll(): Promise<void>;
  /** Every partition state held now. */
  entries(): Iterable<[string, S]>;
}

export function snapshotKey(keyPrefix: string, groupId: string, topic: string, partition: number): string {
  return `${keyPrefix}state:${groupId}:${topic}:${partition}`;
}

interface Stored {
  v: number;
  groupId: string;
  topic: string;
  partition: number;
  nextOffset: string;
  savedAt: number;
  state: unknown;
}

export function createPartitionStates<S>(o: PartitionStateOptions<S>): PartitionStates<S> {
  const logger = o.logger.child({ component: 'partition-state', processor: o.name });
  const states = new Map<string, S>();
  // Partitions whose state is exactly at `next`, their last commit, and when they were last saved.
  const clean = new Map<string, { topic: string; partition: number; next: string }>();
  const savedAt = new Map<string, number>();
  const restores = counter(o.registry, 'bitpredict_state_restores_total', 'Partition state restores, by how', ['processor', 'how']);
  const replayed = counter(o.registry, 'bitpredict_state_replayed_records_total', 'Input records re-applied while restoring state', ['processor']);
  const snapshots = counter(o.registry, 'bitpredict_state_snapshots_total', 'State snapshots written to Redis', ['processor']);
  const restoreSeconds = histogram(o.registry, 'bitpredict_state_restore_seconds', 'Time to restore one partition state', ['processor']);
  const k = (topic: string, partition: number): string => `${topic}:${partition}`;

  async function load(topic: string, partition: number): Promise<{ state: S; next: bigint } | null> {
    const raw = await o.redis.get(snapshotKey(o.keyPrefix, o.groupId, topic, partition));
    if (raw === null) return null;
    try {
      const stored = JSON.parse(raw) as Stored;
      if (stored.v !== PARTITION_SNAPSHOT_VERSION || stored.topic !== topic || stored.partition !== partition || typeof stored.nextOffset !== 'string') {
        throw new Error(`snapshot header does not match (version ${String(stored.v)}, ${String(stored.topic)}[${String(stored.partition)}])`);
      }
      return { state: o.fromJSON(stored.state), next: BigInt(stored.nextOffset) };
    } catch (err) {
      // A snapshot this code cannot read (older feature set, corruption) is not trusted: re-read the topic.
      logger.warn({ topic, partition, err }, 'ignoring an unusable state snapshot; rebuilding from the topic');
      restores.inc({ processor: o.name, how: 'snapshot_unusable' });
      return null;
    }
  }

  async function save(topic: string, partition: number, next: string): Promise<void> {
    const s = states.get(k(topic, partition));
    if (s === undefined) return;
    const stored: Stored = { v: PARTITION_SNAPSHOT_VERSION, groupId: o.groupId, topic, partition, nextOffset: next, savedAt: Date.now(), state: o.toJSON(s) };
    await o.redis.set(snapshotKey(o.keyPrefix, o.groupId, topic, partition), JSON.stringify(stored));
    savedAt.set(k(topic, partition), Date.now());
    snapshots.inc({ processor: o.name });
  }

  const hooks: PartitionHooks = {
    async ensure(topic, partition, offset) {
      const stop = restoreSeconds.startTimer({ processor: o.name });
      const key = k(topic, partition);
      clean.delete(key);
      const target = BigInt(offset);
      const snap = await load(topic, partition);
      let state: S;
      let from: bigint;
      let how: string;
      if (snap !== null && snap.next > target && o.allowAhead) {
        states.set(key, snap.state);
        restores.inc({ processor: o.name, how: 'snapshot_ahead' });
        logger.info(
          { topic, partition, committed: offset, snapshot: snap.next.toString() },
          'state restored from a snapshot ahead of the committed offset; skipping the records in between',
        );
        stop();
        return snap.next.toString();
      }
      if (snap !== null && snap.next <= target) {
        state = snap.state;
        from = snap.next;
        how = from === target ? 'snapshot' : 'snapshot_and_replay';
      } else {
        state = o.empty();
        from = 0n;
        how = 'replay';
      }
      let n = 0;
      if (from < target) {
        n = await readRange(o.client, topic, partition, from, target, (rec) => o.replay(state, rec));
        replayed.inc({ processor: o.name }, n);
      }
      states.set(key, state);
      restores.inc({ processor: o.name, how });
      const seconds = stop();
      logger.info({ topic, partition, offset, how, replayedRecords: n, seconds }, 'partition state ready');
      return offset;
    },
    async afterFlush(topic, partition, next) {
      const key = k(topic, partition);
      clean.set(key, { topic, partition, next });
      const last = savedAt.get(key) ?? 0;
      if (Date.now() - last >= o.snapshotIntervalMs) await save(topic, partition, next);
    },
    revoked(partitions) {
      for (const { topic, partition } of partitions) {
        const key = k(topic, partition);
        const c = clean.get(key);
        // Best effort: a fresh snapshot shortens the new owner's replay; an older one is still correct.
        if (c) save(topic, partition, c.next).catch((err: unknown) => logger.warn({ topic, partition, err }, 'snapshot on revoke failed'));
        clean.delete(key);
        states.delete(key);
      }
    },
  };

  return {
    get(topic, partition) {
      const key = k(topic, partition);
      const s = states.get(key);
      if (s === undefined) throw new Error(`state of ${key} used before it was restored`);
      // The handler is about to move it past its last commit.
      clean.delete(key);
      return s;
    },
    hooks,
    async persistAll() {
      await Promise.all([...clean.values()].map((c) => save(c.topic, c.partition, c.next)));
    },
    entries: () => states.entries(),
  };
}
