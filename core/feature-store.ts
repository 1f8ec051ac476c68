// The Redis feature store: the latest feature vector per series (JSON) and a bounded, time-indexed
// history per series (sorted set, score = eventTime, member = the record's value exactly as in the
// features topic: Confluent-framed Avro), readable point in time ("the vectors known at t").
// Writers buffer a flush's vectors and write them in one MULTI before the Kafka commit, so Redis is
// never behind what Kafka has committed; rewriting the same event times after a crash replaces
// them (one member per event time), so a re-processed range leaves no duplicates. The history keeps
// the Avro bytes the processor has already encoded: a third of JSON's size and no serialisation.
// The same MULTI sets the latest closed candle of each series (JSON), the gateway's candle snapshot,
// and adds every candle to the series' bounded candle history (sorted set, score = openTime, member
// = Candle JSON, one member per open time), the backfill of GET /v1/candles and the dashboard.
import type { ChainableCommander, Redis } from './redis.js';
import type { Serde } from './serde/serde.js';
import { redisKeys } from './redis.js';
import type { Candle, FeatureVector } from '../schemas/types.js';
import { BitPredictError, errorMessage } from './errors.js';
import { seriesKey } from '../schemas/keys.js';

export interface FeatureStoreWriter {
  /**
   * `encoded`: the vector's value in the features topic (Confluent-framed Avro). `candle`: the
   * candle the vector was computed from; the newest one per series becomes its latest candle.
   */
  add(f: FeatureVector, encoded: Buffer, candle?: Candle): void;
  /** Writes everything added since the last flush (one round trip). Kept for the next attempt if it fails. */
  flush(): Promise<void>;
  readonly pending: number;
}

export interface FeatureStoreBounds {
  /** Feature vectors kept per series. */
  features: number;
  /** Closed candles kept per series. */
  candles: number;
}

export function createFeatureStoreWriter(redis: Redis, keyPrefix: string, bounds: FeatureStoreBounds): FeatureStoreWriter {
  const keys = redisKeys(keyPrefix);
  let bySeries = new Map<string, { symbol: string; interval: string; items: { t: number; f: FeatureVector; value: Buffer; candle: Candle | undefined }[] }>();
  let pending = 0;

  /** A failed flush's work goes back in front of what was added meanwhile: nothing is dropped. */
  function putBack(work: typeof bySeries, count: number): void {
    for (const [series, s] of bySeries) {
      const earlier = work.get(series);
      if (earlier) earlier.items.push(...s.items);
      else work.set(series, s);
    }
    bySeries = work;
    pending += count;
  }

  return {
    add(f, encoded, candle) {
      const series = seriesKey(f.symbol, f.interval);
      let s = bySeries.get(series);
      if (!s) {
        s = { symbol: f.symbol, interval: f.interval, items: [] };
        bySeries.set(series, s);
      }
      s.items.push({ t: f.eventTime, f, value: encoded, candle });
      pending++;
    },
    async flush() {
      if (pending === 0) return;
      const work = bySeries;
      const count = pending;
      bySeries = new Map();
      pending = 0;
      try {
        await write(work);
      } catch (err) {
        // The runner retries this flush while Redis is down (the records wait, their offsets are
        // not committed): the work must still be there then, or the retry writes nothing.
        putBack(work, count);
        throw err;
      }
    },
    get pending() {
      return pending;
    },
  };

  async function write(work: typeof bySeries): Promise<void> {
    const multi = redis.multi();
    for (const s of work.values()) {
      const hist = keys.featuresHistory(s.symbol, s.interval);
      let min = Infinity;
      let max = -Infinity;
      const args: (Buffer | number)[] = [];
      let latest = s.items[0];
      for (const it of s.items) {
        if (it.t < min) min = it.t;
        if (it.t > max) max = it.t;
        if (latest === undefined || it.t >= latest.t) latest = it;
        args.push(it.t, it.value);
      }
      // One member per event time: drop what an earlier attempt wrote for these times first.
      multi.zremrangebyscore(hist, min, max);
      multi.zadd(hist, ...args);
      multi.zremrangebyrank(hist, 0, -(bounds.features + 1));
      if (latest) multi.set(keys.featuresLatest(s.symbol, s.interval), JSON.stringify(latest.f));
      if (latest?.candle) multi.set(keys.candlesLatest(s.symbol, s.interval), JSON.stringify(latest.candle));
      addCandles(multi, keys.candlesHistory(s.symbol, s.interval), s.items, bounds.candles);
    }
    await execOrThrow(multi, 'writing the feature store');
  }
}

/**
 * Runs a MULTI; any failure is ERR_REDIS (a dependency: the runner waits and retries). A command
 * Redis refuses while queueing (READONLY on a replica during a failover, OOM) makes EXEC itself
 * fail (EXECABORT), with the reasons in `previousErrors`.
 */
async function execOrThrow(multi: ChainableCommander, what: string): Promise<void> {
  let res: [Error | null, unknown][] | null;
  try {
    res = await multi.exec();
  } catch (err) {
    const reasons = ((err as { previousErrors?: unknown[] }).previousErrors ?? [err]).map(errorMessage);
    throw new BitPredictError('ERR_REDIS', `${what} failed: ${[...new Set(reasons)].join('; ')}`, { cause: err });
  }
  const failed = res?.find(([err]) => err !== null);
  if (!res || failed) throw new BitPredictError('ERR_REDIS', `${what} failed: ${failed?.[0]?.message ?? 'transaction discarded'}`);
}

/** The candles of one flush into a series' candle history: one member per open time, bounded. */
function addCandles(multi: ChainableCommander, key: string, items: readonly { candle: Candle | undefined }[], bound: number): void {
  let min = Infinity;
  let max = -Infinity;
  const args: (number | string)[] = [];
  for (const { candle } of items) {
    if (!candle) continue;
    if (candle.openTime < min) min = candle.openTime;
    if (candle.openTime > max) max = candle.openTime;
    args.push(candle.openTime, JSON.stringify(candle));
  }
  if (args.length === 0) return;
  multi.zremrangebyscore(key, min, max);
  multi.zadd(key, ...args);
  multi.zremrangebyrank(key, 0, -(bound + 1));
}

/** The latest vector of a series, or null. */
export async function readLatestFeature(redis: Redis, keyPrefix: string, symbol: string, interval: string): Promise<FeatureVector | null> {
  const raw = await redis.get(redisKeys(keyPrefix).featuresLatest(symbol, interval));
  return raw === null ? null : (JSON.parse(raw) as FeatureVector);
}

/**
 * Point in time: the last `n` vectors of a series with eventTime <= t, oldest first. Only what was
 * known at t (vectors are keyed by their event time), bounded by the stored history.
 */
export async function readFeaturesAsOf(
  redis: Redis,
  serde: Serde,
  keyPrefix: string,
  symbol: string,
  interval: string,
  t: number,
  n: number,
): Promise<FeatureVector[]> {
  const raw = await redis.zrevrangebyscoreBuffer(redisKeys(keyPrefix).featuresHistory(symbol, interval), t, '-inf', 'LIMIT', 0, n);
  const out: FeatureVector[] = [];
  for (const b of raw.reverse()) out.push(await serde.decode('features', b));
  return out;
}
