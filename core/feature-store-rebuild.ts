// Reads back from Kafka what the Redis feature store holds for a series, for a store whose Redis
// lost its data (core/feature-store.ts decides when): the newest vectors of the series from the
// `features` topic and its newest candles from `market.candles`, each within the store's bounds.
//
// Only the tail is read, in windows of time going back from the series' newest candle: the first
// window spans the bound's worth of intervals; while a series has fewer than its bound and the
// partitions hold older records, the next window reaches twice as far back (a gap in the candles
// makes the series sparser than its interval). Records are stamped with their event time
// (ListOffsets by time finds a window's start), and each window is read by offsets up to where the
// previous one began, so nothing is read twice. Memory is bounded by the bounds of the series being
// rebuilt, not by the topics: a series keeps at most twice its bound between trims.
//
// The store keeps one member per time. For vectors the later record wins (the normal path replaces
// what a redelivery rewrites); for candles the earlier (the indicator engine drops a redelivered
// open time as a duplicate), and a candle the engine would have refused is skipped: invalid, or
// older than or overlapping the candle before it in its partition. Candles after the newest one the
// processor has accepted are left for the flushes that reach them, as the normal path does.
import type { KafkaClient } from './kafka/client.js';
import { createAdmin } from './kafka/client.js';
import type { InRecord } from './kafka/records.js';
import { readRange } from './kafka/range.js';
import type { Serde } from './serde/serde.js';
import type { FeatureStoreBounds, RebuiltSeries, SeriesMark } from './feature-store.js';
import { validateCandle } from './domain/candle.js';
import { intervalMs } from './domain/intervals.js';
import { isBitPredictError } from './errors.js';
import { seriesKey } from '../schemas/keys.js';
import type { Candle } from '../schemas/types.js';

export interface FeatureStoreReaderDeps {
  client: KafkaClient;
  serde: Serde;
  /** The `features` and `market.candles` topics (with the prefix). */
  topics: { features: string; candles: string };
  /** As the feature processor validates candles (BITPREDICT_EVENTS_FUTURE_TOLERANCE_MS). */
  futureToleranceMs: number;
  now?: () => number;
}

/** What one topic's tail read wants of one series. */
interface Wanted {
  key: string;
  /** Records kept (the store's bound). */
  count: number;
  /** The newest time the store must hold: the first window starts `count` intervals before it. */
  newest: number;
  intervalMs: number;
}

/** A record kept for a series, by its time; `time` is also the member's score. */
type Taken<T> = { time: number; item: T } | null;

export function createFeatureStoreReader(
  deps: FeatureStoreReaderDeps,
): (series: readonly SeriesMark[], bounds: FeatureStoreBounds) => Promise<RebuiltSeries[]> {
  const now = deps.now ?? Date.now;
  return async (series, bounds) => {
    const featureWants = series.map((m) => ({
      key: seriesKey(m.symbol, m.interval),
      count: bounds.features,
      newest: m.closeTime,
      intervalMs: intervalMs(m.interval),
    }));
    const vectors = await readNewest<Buffer>(deps.client, deps.topics.features, featureWants, 'last', async (rec) => {
      const f = await decodeOrSkip(() => deps.serde.decode('features', rec.value));
      return f === null || rec.value === null ? null : { time: f.eventTime, item: rec.value };
    });
    const candleWants = series.map((m) => ({
      key: seriesKey(m.symbol, m.interval),
      count: bounds.candles,
      newest: m.openTime,
      intervalMs: intervalMs(m.interval),
    }));
    // Candles the processor has not reached yet are not in an uninterrupted run's store either:
    // the flush adds its own, and later flushes the rest.
    const reached = new Map(series.map((m) => [seriesKey(m.symbol, m.interval), m.openTime]));
    // Per key, the open and close time of the last candle accepted in this window (offset order).
    const lastAccepted = new Map<string, { openTime: number; closeTime: number }>();
    const candles = await readNewest<Candle>(
      deps.client,
      deps.topics.candles,
      candleWants,
      'first',
      async (rec, key) => {
        const c = await decodeOrSkip(() => deps.serde.decode('candles', rec.value));
        if (c === null || seriesKey(c.symbol, c.interval) !== key || validateCandle(c, now(), deps.futureToleranceMs) !== null) return null;
        const last = lastAccepted.get(key);
        if (last !== undefined && c.openTime !== last.openTime && (c.openTime < last.openTime || c.openTime < last.closeTime)) return null;
        lastAccepted.set(key, { openTime: c.openTime, closeTime: c.closeTime });
        return c.openTime > (reached.get(key) ?? Infinity) ? null : { time: c.openTime, item: c };
      },
      () => lastAccepted.clear(),
    );
    const out: RebuiltSeries[] = [];
    for (const m of series) {
      const key = seriesKey(m.symbol, m.interval);
      const v = sortedByTime(vectors.get(key)).map(({ time, item }) => ({ t: time, value: item }));
      const newest = v.at(-1);
      out.push({
        symbol: m.symbol,
        interval: m.interval,
        vectors: v,
        latest: newest === undefined ? null : await deps.serde.decode('features', newest.value),
        candles: sortedByTime(candles.get(key)).map(({ item }) => item),
      });
    }
    return out;
  };
}

/**
 * A record that can never decode (the live path dead-lettered it) is skipped; a registry that does
 * not answer is an outage, thrown for the runner to wait out.
 */
async function decodeOrSkip<T>(decode: () => Promise<T>): Promise<T | null> {
  try {
    return await decode();
  } catch (err) {
    if (isBitPredictError(err) && !err.retryable) return null;
    throw err;
  }
}

function sortedByTime<T>(byTime: Map<number, T> | undefined): { time: number; item: T }[] {
  if (byTime === undefined) return [];
  return [...byTime].sort(([a], [b]) => a - b).map(([time, item]) => ({ time, item }));
}

/** Keeps the newest `count` times of a series' map. */
function trim<T>(byTime: Map<number, T>, count: number): void {
  if (byTime.size <= count) return;
  const times = [...byTime.keys()].sort((a, b) => b - a);
  for (const t of times.slice(count)) byTime.delete(t);
}

/**
 * The newest `count` records of each wanted key of a topic, by time, read window by window back
 * from the end (see the header). `keep`: which of two records with the same time stays, the one
 * later in the partition ('last') or the earlier ('first'). `take` maps a record of a wanted key to
 * its time and what to keep (null: skip it); `onWindow` runs before each window's records.
 */
async function readNewest<T>(
  client: KafkaClient,
  topic: string,
  wants: readonly Wanted[],
  keep: 'first' | 'last',
  take: (rec: InRecord, key: string) => Promise<Taken<T>>,
  onWindow?: () => void,
): Promise<Map<string, Map<number, T>>> {
  const kept = new Map(wants.map((w) => [w.key, new Map<number, T>()]));
  const countOf = new Map(wants.map((w) => [w.key, w.count]));
  if (wants.length === 0) return kept;
  const admin = await createAdmin(client);
  try {
    // Each window reads a partition up to where the previous (newer) one started.
    const upTo = new Map((await admin.endOffsets(topic)).map((e) => [e.partition, BigInt(e.offset)]));
    // The log start (the first record at or after time 0); -1 when the partition holds none.
    const lows = new Map(
      (await admin.offsetsForTime(topic, 0)).map((p) => [p.partition, BigInt(p.offset) < 0n ? (upTo.get(p.partition) ?? 0n) : BigInt(p.offset)]),
    );
    const newest = Math.max(...wants.map((w) => w.newest));
    let span = Math.max(...wants.map((w) => (w.count + 1) * w.intervalMs));
    for (;;) {
      // Not below 0: negative times are ListOffsets' "latest" and "earliest".
      const starts = await admin.offsetsForTime(topic, Math.max(0, newest - span));
      onWindow?.();
      const window = new Map(wants.map((w) => [w.key, new Map<number, T>()]));
      const reads: Promise<number>[] = [];
      for (const { partition, offset } of starts) {
        const end = upTo.get(partition) ?? 0n;
        const low = lows.get(partition) ?? 0n;
        // -1: no record that late in the partition; read nothing of it in this window.
        const from = BigInt(offset) < 0n ? end : BigInt(offset) < low ? low : BigInt(offset);
        upTo.set(partition, from);
        if (from >= end) continue;
        reads.push(
          readRange(client, topic, partition, from, end, async (rec) => {
            const key = rec.key?.toString('utf8');
            const mine = key === undefined ? undefined : window.get(key);
            if (key === undefined || mine === undefined) return;
            const got = await take(rec, key);
            if (got === null) return;
            if (keep === 'last' || !mine.has(got.time)) mine.set(got.time, got.item);
            if (mine.size > 2 * (countOf.get(key) ?? 0)) trim(mine, countOf.get(key) ?? 0);
          }),
        );
      }
      await Promise.all(reads);
      // The window lies before everything kept so far: what is kept already is later in its partition.
      for (const [key, fromWindow] of window) {
        const all = kept.get(key);
        if (all === undefined) continue;
        for (const [time, item] of fromWindow) if (keep === 'first' || !all.has(time)) all.set(time, item);
        trim(all, countOf.get(key) ?? 0);
      }
      const enough = wants.every((w) => (kept.get(w.key)?.size ?? 0) >= w.count);
      const atStart = [...upTo].every(([partition, at]) => at <= (lows.get(partition) ?? 0n));
      if (enough || atStart) return kept;
      span *= 2;
    }
  } finally {
    await admin.close();
  }
}
