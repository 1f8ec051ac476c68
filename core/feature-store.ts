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
//
// Redis may lose what was written (a restart without persistence, FLUSHALL, failover to an empty or
// lagging replica) while Kafka keeps it. With a recovery (the feature processor's), every flush
// first checks, in one pipelined round trip, that Redis still holds the newest vector and candle of
// each series the processor owns (the newest candle its indicator engine accepted before this
// flush); a series that lacks them is rebuilt from the topics before the flush writes (see
// core/feature-store-rebuild.ts), so the next reader sees the store an uninterrupted run would have.
import type { ChainableCommander, Redis } from './redis.js';
import type { Serde } from './serde/serde.js';
import { redisKeys } from './redis.js';
import type { Candle, FeatureVector } from '../schemas/types.js';
import { BitPredictError, errorMessage } from './errors.js';
import type { Logger } from './logger.js';
import { counter, histogram, type Registry } from './metrics.js';
import { seriesKey } from '../schemas/keys.js';

/** The times of a candle the store must hold, with the vector computed from it (eventTime = closeTime). */
export interface CandleTimes {
  openTime: number;
  closeTime: number;
}

/** A series and the newest candle of it that the store must hold. */
export interface SeriesMark extends CandleTimes {
  symbol: string;
  interval: string;
}

/** What the store holds for a series in an uninterrupted run, read back from Kafka. */
export interface RebuiltSeries {
  symbol: string;
  interval: string;
  /** The newest vectors (at most the bound), as the features topic holds them: eventTime and value. */
  vectors: { t: number; value: Buffer }[];
  /** The newest of them, decoded; null when the topic holds none. */
  latest: FeatureVector | null;
  /** The newest closed candles (at most the bound). */
  candles: Candle[];
}

/** How a writer notices that Redis lost what it wrote, and gets it back. */
export interface FeatureStoreRecovery {
  /** Every series of the partitions the writer's processor owns, with the newest candle it accepted. */
  owned(): Iterable<SeriesMark>;
  /** The newest vectors and candles of these series (within the bounds), read from Kafka. */
  read(series: readonly SeriesMark[], bounds: FeatureStoreBounds): Promise<RebuiltSeries[]>;
  logger: Logger;
  registry: Registry;
}

export interface FeatureStoreWriter {
  /**
   * `encoded`: the vector's value in the features topic (Confluent-framed Avro). `candle`: the
   * candle the vector was computed from; the newest one per series becomes its latest candle.
   * `previous`: the series' candle before this one, whose vector and candle the store must already
   * hold (null for a series' first candle); only read with a recovery.
   */
  add(f: FeatureVector, encoded: Buffer, candle?: Candle, previous?: CandleTimes | null): void;
  /** Writes everything added since the last flush (one round trip; two with a recovery). Kept for the next attempt if it fails. */
  flush(): Promise<void>;
  readonly pending: number;
}

export interface FeatureStoreBounds {
  /** Feature vectors kept per series. */
  features: number;
  /** Closed candles kept per series. */
  candles: number;
}

interface Item {
  t: number;
  f: FeatureVector;
  value: Buffer;
  candle: Candle | undefined;
}

interface SeriesWork {
  symbol: string;
  interval: string;
  items: Item[];
}

/**
 * Per series, the newest candle whose vector and candle Redis must hold: the newest this writer
 * wrote, or before its first write of the series the `previous` of its first add (null: a new
 * series, nothing yet). Series absent here are checked at their engine's last candle.
 */
type Expected = Map<string, SeriesMark | null>;

export function createFeatureStoreWriter(redis: Redis, keyPrefix: string, bounds: FeatureStoreBounds, recovery?: FeatureStoreRecovery): FeatureStoreWriter {
  const keys = redisKeys(keyPrefix);
  let bySeries = new Map<string, SeriesWork>();
  let pending = 0;
  const expected: Expected = new Map();
  const check = recovery === undefined ? null : createLossCheck(redis, keys, bounds, recovery, expected);
  // One flush at a time: a check must not see another flush's vectors between its check and its
  // writes as lost, nor a rebuild overwrite a latest vector written meanwhile.
  let inTurn: Promise<void> = Promise.resolve();

  /** A failed flush's work goes back in front of what was added meanwhile: nothing is dropped. */
  function putBack(work: Map<string, SeriesWork>, count: number): void {
    for (const [series, s] of bySeries) {
      const earlier = work.get(series);
      if (earlier) earlier.items.push(...s.items);
      else work.set(series, s);
    }
    bySeries = work;
    pending += count;
  }

  return {
    add(f, encoded, candle, previous) {
      const series = seriesKey(f.symbol, f.interval);
      let s = bySeries.get(series);
      if (!s) {
        s = { symbol: f.symbol, interval: f.interval, items: [] };
        bySeries.set(series, s);
      }
      if (previous !== undefined && !expected.has(series)) expected.set(series, previous && { symbol: f.symbol, interval: f.interval, ...previous });
      s.items.push({ t: f.eventTime, f, value: encoded, candle });
      pending++;
    },
    flush() {
      const run = inTurn.then(flushNow);
      inTurn = run.catch(() => undefined);
      return run;
    },
    get pending() {
      return pending;
    },
  };

  async function flushNow(): Promise<void> {
    if (pending === 0) return;
    const work = bySeries;
    const count = pending;
    bySeries = new Map();
    pending = 0;
    try {
      // Before the writes: a rebuild goes under them, as if Redis had never lost anything.
      if (check) await check(work);
      await write(work);
    } catch (err) {
      // The runner retries this flush while Redis is down (the records wait, their offsets are
      // not committed): the work must still be there then, or the retry writes nothing.
      putBack(work, count);
      throw err;
    }
    for (const s of work.values()) {
      const newest = s.items.reduce<Candle | undefined>(
        (n, it) => (it.candle && (n === undefined || it.candle.openTime > n.openTime) ? it.candle : n),
        undefined,
      );
      const before = expected.get(seriesKey(s.symbol, s.interval));
      if (newest && (!before || newest.openTime > before.openTime)) {
        expected.set(seriesKey(s.symbol, s.interval), { symbol: s.symbol, interval: s.interval, openTime: newest.openTime, closeTime: newest.closeTime });
      }
    }
  }

  async function write(work: Map<string, SeriesWork>): Promise<void> {
    const multi = redis.multi();
    for (const s of work.values()) {
      const latest = addVectors(multi, keys.featuresHistory(s.symbol, s.interval), s.items, bounds.features);
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

/**
 * Finds the series whose newest vector or candle Redis no longer holds and rebuilds them from
 * Kafka. Checked: every series of the owned partitions and of this flush, at its `expected` candle,
 * or for an owned series this writer has not seen since it started, at the newest candle its
 * engine accepted (the state restore rebuilt it from Kafka; its vector was written before the
 * commit). A series whose expected vector is not in Kafka either (a candle the engine took whose
 * vector was dead-lettered) is not rebuilt again for the same candle.
 */
function createLossCheck(
  redis: Redis,
  keys: ReturnType<typeof redisKeys>,
  bounds: FeatureStoreBounds,
  recovery: FeatureStoreRecovery,
  expected: Expected,
): (work: ReadonlyMap<string, SeriesWork>) => Promise<void> {
  const logger = recovery.logger.child({ component: 'feature-store' });
  const rebuilds = counter(
    recovery.registry,
    'bitpredict_features_store_rebuilds_total',
    'Series of the Redis feature store rebuilt from Kafka after Redis lost them',
  );
  const rebuildSeconds = histogram(
    recovery.registry,
    'bitpredict_features_store_rebuild_seconds',
    'Time to rebuild the lost series of one flush from Kafka',
    [],
    [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  const notInKafka = new Map<string, number>();

  async function lost(work: ReadonlyMap<string, SeriesWork>): Promise<SeriesMark[]> {
    const marks = new Map<string, SeriesMark | null>();
    for (const m of recovery.owned()) {
      const series = seriesKey(m.symbol, m.interval);
      marks.set(series, expected.has(series) ? (expected.get(series) ?? null) : m);
    }
    for (const series of work.keys()) marks.set(series, expected.get(series) ?? null);
    const list = [...marks].flatMap(([series, m]) => (m === null || notInKafka.get(series) === m.closeTime ? [] : [m]));
    if (list.length === 0) return [];
    const pipe = redis.pipeline();
    for (const m of list) {
      pipe.zcount(keys.featuresHistory(m.symbol, m.interval), m.closeTime, '+inf');
      pipe.zcount(keys.candlesHistory(m.symbol, m.interval), m.openTime, '+inf');
      pipe.exists(keys.featuresLatest(m.symbol, m.interval), keys.candlesLatest(m.symbol, m.interval));
    }
    const res = await pipe.exec();
    const failed = res?.find(([err]) => err !== null);
    if (!res || failed) throw new BitPredictError('ERR_REDIS', `checking the feature store failed: ${failed?.[0]?.message ?? 'pipeline discarded'}`);
    return list.filter((_, i) => {
      const [vectors, candles, latest] = res.slice(3 * i, 3 * i + 3).map(([, v]) => v);
      return vectors === 0 || candles === 0 || latest !== 2;
    });
  }

  return async (work) => {
    const missing = await lost(work);
    if (missing.length === 0) return;
    const stop = rebuildSeconds.startTimer();
    const started = Date.now();
    const rebuilt = await recovery.read(missing, bounds);
    const multi = redis.multi();
    let vectors = 0;
    let candles = 0;
    for (const r of rebuilt) {
      const hist = keys.featuresHistory(r.symbol, r.interval);
      addVectors(multi, hist, r.vectors, bounds.features);
      if (r.latest) multi.set(keys.featuresLatest(r.symbol, r.interval), JSON.stringify(r.latest));
      const newest = r.candles.at(-1);
      if (newest) multi.set(keys.candlesLatest(r.symbol, r.interval), JSON.stringify(newest));
      addCandles(
        multi,
        keys.candlesHistory(r.symbol, r.interval),
        r.candles.map((candle) => ({ candle })),
        bounds.candles,
      );
      vectors += r.vectors.length;
      candles += r.candles.length;
    }
    await execOrThrow(multi, 'rebuilding the feature store');
    for (const m of missing) {
      const r = rebuilt.find((x) => x.symbol === m.symbol && x.interval === m.interval);
      const newest = r?.vectors.at(-1)?.t ?? -Infinity;
      if (newest < m.closeTime) notInKafka.set(seriesKey(m.symbol, m.interval), m.closeTime);
    }
    rebuilds.inc(missing.length);
    stop();
    logger.warn(
      { series: missing.map((m) => seriesKey(m.symbol, m.interval)), vectors, candles, ms: Date.now() - started },
      'Redis had lost feature-store series this processor wrote; rebuilt them from Kafka before writing on',
    );
  };
}

/**
 * Vectors into a series' history: one member per event time (what an earlier attempt wrote for
 * these times is dropped first), bounded. Returns the newest item.
 */
function addVectors<T extends { t: number; value: Buffer }>(multi: ChainableCommander, key: string, items: readonly T[], bound: number): T | undefined {
  let min = Infinity;
  let max = -Infinity;
  let latest: T | undefined;
  const args: (Buffer | number)[] = [];
  for (const it of items) {
    if (it.t < min) min = it.t;
    if (it.t > max) max = it.t;
    if (latest === undefined || it.t >= latest.t) latest = it;
    args.push(it.t, it.value);
  }
  if (args.length === 0) return undefined;
  multi.zremrangebyscore(key, min, max);
  multi.zadd(key, ...args);
  multi.zremrangebyrank(key, 0, -(bound + 1));
  return latest;
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
