// Trainer data loading (I/O glue): feature vectors from the features topic over a time range.
// Candles and texts from files come from core/data/load.ts.
import type { Platform } from '../core/runtime.js';
import { createAdmin } from '../core/kafka/client.js';
import { rangesSince, readRange, type PartitionRange } from '../core/kafka/range.js';
import { BitPredictError } from '../core/errors.js';
import type { FeatureVector } from '../schemas/types.js';
import { seriesKey } from '../schemas/keys.js';
import { topicSource, type TopicSource } from '../core/models/lineage.js';

export interface FeatureRangeQuery {
  symbol: string;
  interval: string;
  /** Inclusive start of eventTime (ms). */
  from: number;
  /** Exclusive end of eventTime (ms). */
  to: number;
  /** Per-partition read timeout (default 120 s). */
  timeoutMs?: number;
}

/**
 * The feature vectors of one series with from <= eventTime < to in the features topic, sorted by
 * eventTime, one per eventTime (the last written wins: a recomputed vector replaces an older one).
 * Start offsets come from the record timestamps (= eventTime) via offsetsForTime; every partition
 * is read from there to its current end with a throwaway consumer group that never commits
 * (records of other series may interleave with older timestamps, so the end is not looked up by
 * time). Only committed records are read (read_committed).
 */
export async function readFeaturesFromTopic(platform: Platform, q: FeatureRangeQuery): Promise<FeatureVector[]> {
  return (await readFeaturesWithSource(platform, q)).series;
}

/**
 * readFeaturesFromTopic, with the lineage of what it returns: per partition, the first and last
 * offset and the event-time range of the records kept (a vector replaced by a later one for the
 * same eventTime does not count).
 */
export async function readFeaturesWithSource(platform: Platform, q: FeatureRangeQuery): Promise<{ series: FeatureVector[]; source: TopicSource }> {
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to) || q.from >= q.to) {
    throw new BitPredictError(
      'ERR_VALIDATION',
      `readFeaturesFromTopic: from/to must be safe integers (ms) with from < to, got ${String(q.from)}..${String(q.to)}`,
    );
  }
  const topic = platform.kafka.topic('features');
  const key = seriesKey(q.symbol, q.interval);
  const admin = await createAdmin(platform.kafka);
  let ranges: PartitionRange[];
  try {
    ranges = await rangesSince(admin, topic, q.from);
  } finally {
    await admin.close();
  }
  const byTime = new Map<number, { f: FeatureVector; partition: number; offset: bigint }>();
  for (const { partition, from, to } of ranges) {
    if (from >= to) continue;
    await readRange(
      platform.kafka,
      topic,
      partition,
      from,
      to,
      async (rec) => {
        if (rec.value === null) return;
        if (rec.key !== null && rec.key.toString('utf8') !== key) return;
        if (rec.timestamp >= q.to && rec.key !== null) return;
        const f = await platform.serde.decode('features', rec.value);
        if (f.symbol !== q.symbol || f.interval !== q.interval) return;
        if (f.eventTime < q.from || f.eventTime >= q.to) return;
        byTime.set(f.eventTime, { f, partition, offset: BigInt(rec.offset) });
      },
      { timeoutMs: q.timeoutMs },
    );
  }
  const kept = [...byTime.values()].sort((a, b) => a.f.eventTime - b.f.eventTime);
  return {
    series: kept.map((k) => k.f),
    source: topicSource(
      topic,
      'features',
      kept.map((k) => ({ partition: k.partition, offset: k.offset, time: k.f.eventTime })),
    ),
  };
}
