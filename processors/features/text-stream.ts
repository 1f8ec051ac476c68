// The text side of the feature join: every feature instance reads ALL of text.scored (texts are
// not keyed by symbol, so each candle partition may need any of them), like a global table, into
// an in-memory point-in-time index. It tracks, per text partition, how far it has read and the
// latest publication time seen, which gives the join its watermark:
//   covered(t) = every text partition has either been read to its end (as of a recent look at the
//   end offsets) or has shown a text published after t + lateness.
// A candle at t waits (bounded) until covered(t), so when texts are already in the topic the join
// is deterministic: the same inputs give the same sentiment whatever the timing of the two streams.
//
// Memory is bounded whatever the topic holds (core/features/text-bound.ts): texts behind the
// newest candles' windows (less a margin) are evicted, a hard cap drops the oldest beyond it, and a
// start reads the topic from a time (offsets by time) instead of from its beginning.
import type { Platform } from '../../core/runtime.js';
import { counter, gauge } from '../../core/metrics.js';
import { createAdmin, type KafkaAdmin } from '../../core/kafka/client.js';
import { readTopicFromStart, type TopicReader } from '../../core/kafka/follow.js';
import type { InRecord } from '../../core/kafka/records.js';
import { delay } from '../../core/time.js';
import { textIndexItemOf, type TextIndex } from '../../core/features/text-index.js';
import { createBoundedTextIndex, type EvictReason } from '../../core/features/text-bound.js';

export interface TextStream {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly index: TextIndex;
  /** True once the texts that were in the topic at start have been read. */
  readonly caughtUpOnce: boolean;
  covered(t: number): boolean;
  /**
   * Waits until covered(t) or maxWaitMs; returns whether it was covered. Calls `heartbeat`
   * while waiting so a long wait does not cost the candle consumer its group membership.
   */
  waitCovered(t: number, maxWaitMs: number, heartbeat: () => Promise<void>): Promise<boolean>;
  /** The smallest, over text partitions with data, of the latest publication time read; null before any. */
  watermark(): number | null;
  /** Event time through which features have been emitted; a text published at or before it arrives late. */
  noteEmitted(t: number): void;
  /** A vector of `series` at `t` has been emitted: the index may evict the texts no later vector can use. */
  noteCandle(series: string, t: number): void;
  /** Texts published at or before this are not held (null: none evicted by time yet). */
  readonly horizon: number | null;
}

/** How the index is bounded (BITPREDICT_FEATURES_TEXT_INDEX_MAX, BITPREDICT_FEATURES_TEXT_RETAIN_MARGIN_MS). */
export interface TextBound {
  windowMs: number;
  marginMs: number;
  maxTexts: number;
}

/** A burst of cap evictions is logged once; a new burst starts after this long without one. */
const CAP_BURST_QUIET_MS = 60_000;

/**
 * How far the text stream has been read, per text.scored partition: the position reached, the
 * partition's end as last seen, and the latest publication time read. Pure bookkeeping, so the
 * watermark rule is in one place:
 *   covered(t) = every partition has either been read to its end or shown a text published after
 *   t + lateness.
 */
export function createTextCoverage(latenessMs: number) {
  const position = new Map<number, bigint>();
  const ends = new Map<number, bigint>();
  const maxPublished = new Map<number, number>();
  return {
    /** After a batch: the offset after it and the partition's high watermark. */
    progress(partition: number, next: bigint, highWatermark: bigint): void {
      if (next > (position.get(partition) ?? 0n)) position.set(partition, next);
      if (highWatermark > (ends.get(partition) ?? 0n)) ends.set(partition, highWatermark);
    },
    /** The partition's end, from the admin's end offsets. */
    end(partition: number, end: bigint): void {
      ends.set(partition, end);
    },
    published(partition: number, publishedAt: number): void {
      const prev = maxPublished.get(partition);
      if (prev === undefined || publishedAt > prev) maxPublished.set(partition, publishedAt);
    },
    /** Every partition read to its (last seen) end. */
    caughtUp(): boolean {
      if (ends.size === 0) return false;
      for (const [p, end] of ends) if ((position.get(p) ?? 0n) < end) return false;
      return true;
    },
    covered(t: number): boolean {
      if (ends.size === 0) return false;
      for (const [p, end] of ends) {
        if ((position.get(p) ?? 0n) >= end) continue;
        const mp = maxPublished.get(p);
        if (mp === undefined || mp - latenessMs < t) return false;
      }
      return true;
    },
    watermark(): number | null {
      let w: number | null = null;
      for (const mp of maxPublished.values()) if (w === null || mp < w) w = mp;
      return w;
    },
  };
}

export function createTextStream(deps: {
  platform: Platform;
  latenessMs: number;
  bound: TextBound;
  endRefreshMs?: number;
  /**
   * Where start() reads text.scored from: called once at start; a time (ms) reads from the first
   * record stamped at or after it (and texts at or before it are not held), null from the beginning.
   */
  restoreFrom?: () => Promise<number | null>;
}): TextStream {
  const { platform } = deps;
  const { registry, serde } = platform;
  const logger = platform.logger.child({ component: 'text-stream' });
  const topic = platform.kafka.topic('textScored');
  const evicted = counter(
    registry,
    'bitpredict_features_text_index_evicted_total',
    'Texts dropped from the sentiment window index: time (behind every window still to come) or cap (BITPREDICT_FEATURES_TEXT_INDEX_MAX reached, oldest first)',
    ['reason'],
  );
  let capBurst = { count: 0, last: 0 };
  const bounded = createBoundedTextIndex({
    ...deps.bound,
    onEvict(reason: EvictReason, count: number) {
      evicted.inc({ reason }, count);
      if (reason !== 'cap') return;
      const now = Date.now();
      if (now - capBurst.last > CAP_BURST_QUIET_MS) {
        // Once per burst: a topic far larger than the cap would otherwise log on every batch.
        logger.warn(
          { maxTexts: deps.bound.maxTexts, previousBurstDropped: capBurst.count },
          'text index full (BITPREDICT_FEATURES_TEXT_INDEX_MAX): dropping the oldest texts; windows reaching back to them count fewer texts',
        );
        capBurst = { count: 0, last: now };
      }
      capBurst.count += count;
      capBurst.last = now;
    },
  });
  const index = bounded.index;
  const coverage = createTextCoverage(deps.latenessMs);
  let emittedThrough = -Infinity;
  let caughtUpOnce = false;
  let reader: TopicReader | null = null;
  let admin: KafkaAdmin | null = null;
  let timer: NodeJS.Timeout | null = null;
  const textsTotal = counter(registry, 'bitpredict_features_texts_total', 'Scored texts read by the feature join, by outcome', ['outcome']);
  const lateTotal = counter(
    registry,
    'bitpredict_features_late_texts_total',
    'Texts that arrived after a feature whose window they belong to was emitted (not merged into it)',
  );
  const indexSize = gauge(registry, 'bitpredict_features_text_index_size', 'Texts held in the sentiment window index');

  /** Called whenever positions or ends move: the first time every partition is read to its end. */
  function noteCaughtUp(): void {
    if (caughtUpOnce || !coverage.caughtUp()) return;
    caughtUpOnce = true;
    logger.info({ texts: index.size }, 'text stream caught up');
  }

  async function refreshEnds(): Promise<void> {
    if (!admin) return;
    try {
      for (const e of await admin.endOffsets(topic)) coverage.end(e.partition, BigInt(e.offset));
      noteCaughtUp();
    } catch (err) {
      logger.warn({ err }, 'could not read text.scored end offsets');
    }
  }

  /** One batch of text.scored into the index; an unreadable record is counted and skipped. */
  async function indexBatch(partition: number, records: InRecord[]): Promise<void> {
    for (const m of records) {
      try {
        const scored = await serde.decode('textScored', m.value);
        const outcome = bounded.add(textIndexItemOf(scored));
        textsTotal.inc({ outcome });
        if (outcome === 'added') {
          if (scored.publishedAt <= emittedThrough) lateTotal.inc();
          coverage.published(partition, scored.publishedAt);
        } else if (outcome === 'expired') {
          // Read, so it moves the watermark like any text; behind every window still to come, so not held.
          coverage.published(partition, scored.publishedAt);
        }
      } catch (err) {
        // text.scored is written by the sentiment processor, which dead-letters bad input; a
        // record that still does not decode here is counted and skipped (every feature
        // instance reads this topic, so it is not dead-lettered once per instance).
        textsTotal.inc({ outcome: 'invalid' });
        logger.warn({ partition, offset: m.offset, err }, 'skipping an unreadable text.scored record');
      }
    }
    indexSize.set(index.size);
  }

  const self: TextStream = {
    index,
    get caughtUpOnce() {
      return caughtUpOnce;
    },
    async start() {
      admin = await createAdmin(platform.kafka);
      await refreshEnds();
      const from = deps.restoreFrom ? await deps.restoreFrom() : null;
      if (from !== null) bounded.setFloor(from);
      // Its own group per process and start: it commits nothing and reads from the restore time
      // (offsets by time) or, without one, from the beginning.
      reader = await readTopicFromStart({
        client: platform.kafka,
        topic,
        groupId: platform.kafka.privateGroupId('features-text'),
        maxWaitMs: 500,
        ...(from === null ? {} : { fromTime: from + 1 }),
        onProgress: (partition, next, highWatermark) => {
          coverage.progress(partition, next, highWatermark);
          noteCaughtUp();
        },
        onBatch: indexBatch,
      });
      // A partition with nothing after the restore time is read to its end already.
      for (const [partition, offset] of reader.startOffsets) coverage.progress(partition, offset, 0n);
      noteCaughtUp();
      logger.info(
        {
          from: from === null ? 'beginning' : new Date(from + 1).toISOString(),
          startOffsets: Object.fromEntries([...reader.startOffsets].map(([p, o]) => [p, String(o)])),
        },
        'reading text.scored',
      );
      timer = setInterval(() => void refreshEnds(), deps.endRefreshMs ?? 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await reader?.stop();
      await admin?.close();
    },
    covered: (t) => coverage.covered(t),
    async waitCovered(t, maxWaitMs, heartbeat) {
      const deadline = Date.now() + maxWaitMs;
      let lastBeat = Date.now();
      while (!coverage.covered(t)) {
        if (Date.now() >= deadline) return false;
        await delay(10);
        if (Date.now() - lastBeat > 1000) {
          await heartbeat();
          lastBeat = Date.now();
        }
      }
      return true;
    },
    watermark: () => coverage.watermark(),
    noteEmitted(t) {
      if (t > emittedThrough) emittedThrough = t;
    },
    noteCandle(series, t) {
      if (bounded.noteCandle(series, t) > 0) indexSize.set(index.size);
    },
    get horizon() {
      return bounded.horizon;
    },
  };
  return self;
}
