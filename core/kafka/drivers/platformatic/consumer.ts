// DriverConsumer on @platformatic/kafka: its Consumer keeps the group membership (join, sync,
// heartbeats on their own timer, rejoin on a rebalance), and this module runs the fetch loop
// itself, because the runner needs what @platformatic/kafka's message stream does not give:
// batches per partition, seek, pause, a "stale" signal when a partition moves, and read_committed
// filtering that is exact (batches.ts).
//
// One batch is in eachBatch at a time. Positions are this member's: after every join each owned
// partition starts again from the group's committed offset (or the start/end without one), as
// with kafkajs; a batch whose partition was revoked, re-assigned or sought since it was fetched is
// stale, and its position does not move. @platformatic/kafka rejoins as soon as a heartbeat sees
// the rebalance, even while a batch is being handled (kafkajs first finishes the batch); the
// rebalance marks every batch in hand stale at once, so the runner stops handling and does not
// flush it, and exactly-once stays safe whichever way the race goes: a flush that was already on
// its way either commits before the next owner fences the transactional id (the next owner then
// sees the committed offset moved and seeks) or is fenced.
import { Consumer, ConnectionPool, FetchIsolationLevels, kOptions } from '@platformatic/kafka';
import { BitPredictError } from '../../../errors.js';
import { delay } from '../../../time.js';
import type { BatchControls, DriverBatch, DriverConsumer, DriverConsumerOptions, DriverSettings } from '../../driver.js';
import { baseOptions, protocolErrorId, toError } from './base.js';
import { committedSlice, type FetchedPartition } from './batches.js';

const EARLIEST = -2n;
const LATEST = -1n;
const MAX_BYTES = 10 * 1024 * 1024;

/**
 * read_committed on the wire, without @platformatic/kafka 1.35's own aborted-transaction filter.
 * That filter keeps one range per producer id, from the first offset of the producer's LAST aborted
 * transaction in the response's list to the producer's LAST abort marker in the records, and drops
 * every batch of the producer in it. An abort marker whose transaction wrote nothing to the
 * partition (it was added to the transaction, then aborted: a process killed between
 * AddPartitionsToTxn and its produce, a send the broker refused) has no entry in that list, so the
 * range runs from an earlier aborted transaction over the COMMITTED transactions between them:
 * they were silently skipped (found by features-sigkill: 338 committed vectors missing, 1 run in
 * 4 under load; test/integration/read-committed-layouts.test.ts builds that layout on purpose).
 * The library runs its filter only when the isolation level is `=== READ_COMMITTED`; a Number
 * object with the same value is written as the same INT8 (Buffer.writeInt8 coerces it), so the
 * broker still bounds the fetch at the last stable offset and lists the aborted transactions,
 * and committedSlice (batches.ts, the Java client's algorithm) is the only filter.
 */
const READ_COMMITTED_UNFILTERED = new Number(FetchIsolationLevels.READ_COMMITTED) as unknown as typeof FetchIsolationLevels.READ_COMMITTED;
const MAX_BYTES_PER_PARTITION = 1024 * 1024;

interface Owned {
  topic: string;
  partition: number;
  /** Next offset to fetch; -1 until known after a join. */
  next: bigint;
  /** Bumped by every seek: a batch fetched under an older epoch is stale. */
  epoch: number;
  paused: boolean;
  /** With auto-commit: the next offset after the last resolved one, and what was last committed. */
  resolved: bigint | null;
  committed: bigint | null;
}

const keyOf = (topic: string, partition: number): string => `${topic}:${partition}`;

export function createPlatformaticConsumer(settings: DriverSettings, opts: DriverConsumerOptions): DriverConsumer {
  const logger = settings.logger.child({ driver: 'platformatic', groupId: opts.groupId });
  const base = baseOptions(settings, '-consumer');
  const consumer = new Consumer({
    ...base,
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs,
    heartbeatInterval: opts.heartbeatIntervalMs,
    rebalanceTimeout: Math.max(opts.sessionTimeoutMs, 30_000),
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    maxWaitTime: opts.maxWaitMs,
    minBytes: 1,
    maxBytes: MAX_BYTES,
    autocommit: false,
    // kafkajs' round-robin protocol name (both encode the standard consumer protocol), so members of
    // both drivers can share a group: a fleet can move from one driver to the other instance by instance.
    protocols: [{ name: 'RoundRobinAssigner', version: 0 }],
  });
  // Fetches long-poll; they get their own connections so heartbeats and commits never queue behind them.
  const fetchPool = new ConnectionPool(`${base.clientId}-fetch`, { ...base });
  let owned = new Map<string, Owned>();
  const pausedKeys = new Set<string>();
  let generation = 0;
  let ready = false;
  let running = false;
  let wake: (() => void) | null = null;
  let loopDone: Promise<void> = Promise.resolve();
  let lastCommit = Date.now();

  const notify = (): void => {
    wake?.();
    wake = null;
  };
  const idle = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  async function commitResolved(): Promise<void> {
    const pending = [...owned.values()].filter((s) => s.resolved !== null && s.resolved !== s.committed);
    if (pending.length === 0) return;
    try {
      await consumer.commit({ offsets: pending.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.resolved!, leaderEpoch: -1 })) });
      for (const s of pending) s.committed = s.resolved;
      lastCommit = Date.now();
    } catch (err) {
      // A rebalance in progress refuses the commit; the next owner re-reads at most these records.
      logger.debug({ err }, 'offset commit refused');
    }
  }

  /** Where each owned partition without a known position starts: its committed offset, else its start or end. */
  async function initPositions(gen: number): Promise<void> {
    if (opts.autoCommitIntervalMs !== null) await commitResolved();
    const unknown = [...owned.values()].filter((s) => s.next < 0n);
    const byTopic = new Map<string, number[]>();
    for (const s of unknown) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition]);
    if (byTopic.size === 0) return;
    const committed = await consumer.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
    const missing = new Map<string, number[]>();
    for (const s of unknown) {
      const c = committed.get(s.topic)?.[s.partition];
      if (gen !== generation || s.next >= 0n) continue;
      if (c !== undefined && c >= 0n) s.next = c;
      else missing.set(s.topic, [...(missing.get(s.topic) ?? []), s.partition]);
    }
    if (missing.size === 0) return;
    const ends = await consumer.listOffsets({
      topics: [...missing.keys()],
      partitions: Object.fromEntries(missing),
      timestamp: opts.fromBeginning ? EARLIEST : LATEST,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    for (const s of unknown) {
      if (gen !== generation || s.next >= 0n) continue;
      const o = ends.get(s.topic)?.[s.partition];
      if (o !== undefined) s.next = o;
    }
  }

  function onJoin(assignments: { topic: string; partitions: number[] }[] | undefined): void {
    const gen = ++generation;
    ready = false;
    const previous = owned;
    owned = new Map();
    const assignment: Record<string, number[]> = {};
    for (const { topic, partitions } of assignments ?? []) {
      if (!opts.topics.includes(topic)) continue;
      assignment[topic] = [...partitions];
      for (const partition of partitions) {
        const key = keyOf(topic, partition);
        const old = previous.get(key);
        owned.set(key, {
          topic,
          partition,
          next: -1n,
          epoch: (old?.epoch ?? 0) + 1,
          paused: pausedKeys.has(key),
          resolved: old?.resolved ?? null,
          committed: old?.committed ?? null,
        });
      }
    }
    opts.onAssigned?.(assignment);
    const attempt = async (): Promise<void> => {
      for (let tries = 1; gen === generation && running; tries++) {
        try {
          await initPositions(gen);
          if (gen === generation) {
            ready = true;
            notify();
          }
          return;
        } catch (err) {
          logger.warn({ err: toError(err, settings.brokers), tries }, 'could not read the committed offsets after joining; retrying');
          await delay(Math.min(5000, 200 * 2 ** tries));
        }
      }
    };
    void attempt();
  }

  consumer.on('consumer:group:join', (payload) => onJoin(payload.assignments));
  consumer.on('consumer:group:rebalance', () => {
    // Everything in hand is stale from now on; positions are read again after the join.
    generation++;
    ready = false;
  });
  consumer.on('consumer:heartbeat:error', (payload) => logger.debug({ err: payload.error }, 'heartbeat failed'));
  consumer.on('error', (err: unknown) => {
    if (!running) return;
    opts.onCrash?.(toError(err, settings.brokers), false);
  });

  interface Target {
    state: Owned;
    offset: bigint;
    epoch: number;
  }

  /** One fetch from every leader of the targets; the partitions of the responses, each with its target. */
  async function fetchOnce(targets: Target[]): Promise<{ target: Target; response: FetchedPartition }[]> {
    const topics = [...new Set(targets.map((t) => t.state.topic))];
    const md = await consumer.metadata({ topics });
    const byLeader = new Map<number, Map<string, { topicId: string; partitions: Target[] }>>();
    const idToTopic = new Map<string, string>();
    for (const t of targets) {
      const tm = md.topics.get(t.state.topic);
      const leader = tm?.partitions[t.state.partition]?.leader;
      if (tm === undefined || leader === undefined || leader < 0) continue;
      idToTopic.set(tm.id, t.state.topic);
      const perTopic = byLeader.get(leader) ?? new Map<string, { topicId: string; partitions: Target[] }>();
      byLeader.set(leader, perTopic);
      const entry = perTopic.get(t.state.topic) ?? { topicId: tm.id, partitions: [] };
      perTopic.set(t.state.topic, entry);
      entry.partitions.push(t);
    }
    const results = await Promise.all(
      [...byLeader].map(async ([node, perTopic]) => {
        const response = await consumer.fetch({
          node,
          connectionPool: fetchPool,
          maxWaitTime: opts.maxWaitMs,
          minBytes: 1,
          maxBytes: MAX_BYTES,
          isolationLevel: READ_COMMITTED_UNFILTERED,
          topics: [...perTopic.values()].map(({ topicId, partitions }) => ({
            topicId,
            partitions: partitions.map((t) => ({
              partition: t.state.partition,
              fetchOffset: t.offset,
              partitionMaxBytes: MAX_BYTES_PER_PARTITION,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            })),
          })),
        });
        const out: { target: Target; response: FetchedPartition }[] = [];
        for (const tr of response.responses) {
          const topic = idToTopic.get(tr.topicId);
          const wanted = topic === undefined ? undefined : perTopic.get(topic);
          if (!wanted) continue;
          for (const p of tr.partitions) {
            const target = wanted.partitions.find((t) => t.state.partition === p.partitionIndex);
            if (target) out.push({ target, response: p });
          }
        }
        return out;
      }),
    );
    return results.flat();
  }

  /** A fetch failed: an offset out of range restarts the partitions from their start or end; anything else waits and retries. */
  async function recover(err: unknown, targets: Target[]): Promise<void> {
    const id = protocolErrorId(err);
    if (id === 'OFFSET_OUT_OF_RANGE') {
      logger.warn(
        { partitions: targets.map((t) => keyOf(t.state.topic, t.state.partition)) },
        'fetch offset out of range (records deleted by retention?); restarting from the log start or end',
      );
      for (const t of targets) if (t.state.epoch === t.epoch) t.state.next = -1n;
      await initPositions(generation).catch(() => undefined);
      return;
    }
    consumer.clearMetadata();
    const e = toError(err, settings.brokers);
    logger.warn({ err: e, code: e.code }, 'fetch failed; retrying');
    if (!e.retryable) opts.onCrash?.(e, true);
    await idle(1000);
  }

  async function deliver(target: Target, response: FetchedPartition, gen: number): Promise<boolean> {
    const { state } = target;
    const slice = committedSlice(state.topic, response, target.offset);
    if (slice.last === null || slice.first === null) return true;
    const info: Omit<DriverBatch, 'records'> = {
      topic: state.topic,
      partition: state.partition,
      firstOffset: String(slice.first),
      lastOffset: String(slice.last),
      highWatermark: String(response.highWatermark),
    };
    const stale = (): boolean => gen !== generation || state.epoch !== target.epoch || owned.get(keyOf(state.topic, state.partition)) !== state;
    opts.onBatchStart?.(info);
    if (slice.records.length > 0) {
      const controls: BatchControls = {
        heartbeat: async () => {
          if (stale()) throw new BitPredictError('ERR_KAFKA_RETRIABLE', `partition ${info.topic}[${info.partition}] was revoked by a rebalance`);
        },
        isRunning: () => running,
        isStale: stale,
        resolveOffset: (offset) => {
          if (!stale()) state.resolved = BigInt(offset) + 1n;
        },
        commitOffsetsIfNecessary: async () => {
          if (opts.autoCommitIntervalMs !== null && Date.now() - lastCommit >= opts.autoCommitIntervalMs) await commitResolved();
        },
      };
      try {
        await opts.eachBatch({ ...info, records: slice.records }, controls);
      } catch (err) {
        if (stale() || !running) return false;
        const e = toError(err, settings.brokers);
        logger.warn({ err: e, topic: info.topic, partition: info.partition }, 'batch handler failed; fetching the batch again');
        opts.onCrash?.(e, true);
        await idle(1000);
        return false;
      }
    }
    if (stale() || !running) return false;
    state.next = slice.last + 1n;
    opts.onBatchEnd?.(info);
    return true;
  }

  async function loop(): Promise<void> {
    while (running) {
      if (!ready) {
        await idle(opts.maxWaitMs);
        continue;
      }
      const gen = generation;
      const targets: Target[] = [...owned.values()].filter((s) => !s.paused && s.next >= 0n).map((s) => ({ state: s, offset: s.next, epoch: s.epoch }));
      if (targets.length === 0) {
        await idle(opts.maxWaitMs);
        continue;
      }
      let fetched: { target: Target; response: FetchedPartition }[];
      try {
        fetched = await fetchOnce(targets);
      } catch (err) {
        if (!running) break;
        await recover(err, targets);
        continue;
      }
      for (const { target, response } of fetched) {
        if (!running || gen !== generation) break;
        if (target.state.epoch !== target.epoch || target.state.next !== target.offset) continue;
        if (!(await deliver(target, response, gen))) break;
      }
    }
  }

  return {
    async start() {
      consumer.topics.trackAll(...opts.topics);
      running = true;
      try {
        await consumer.joinGroup({});
      } catch (err) {
        running = false;
        await consumer.close().catch(() => undefined);
        await fetchPool.close().catch(() => undefined);
        throw toError(err, settings.brokers);
      }
      // Connected: from now on ride out broker hiccups as the kafkajs consumer does (8 retries, backoff up to 5 s).
      (consumer as unknown as Record<symbol, { retries: number }>)[kOptions]!.retries = 8;
      loopDone = loop().catch((err: unknown) => {
        if (running) opts.onCrash?.(toError(err, settings.brokers), false);
      });
    },
    async stop() {
      if (!running) return;
      running = false;
      notify();
      await loopDone;
      if (opts.autoCommitIntervalMs !== null) await commitResolved();
      await consumer.leaveGroup.call(consumer).catch((err: unknown) => logger.debug({ err }, 'leaving the group failed'));
      await consumer.close().catch(() => undefined);
      await fetchPool.close().catch(() => undefined);
    },
    seek(topic, partition, offset) {
      const s = owned.get(keyOf(topic, partition));
      if (!s) return;
      s.next = BigInt(offset);
      s.epoch++;
      notify();
    },
    pause(topic, partitions) {
      for (const p of partitions) {
        const key = keyOf(topic, p);
        pausedKeys.add(key);
        const s = owned.get(key);
        if (s) s.paused = true;
      }
    },
    async commitOffsets(offsets) {
      try {
        await consumer.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
      } catch (err) {
        throw toError(err, settings.brokers);
      }
    },
  };
}
