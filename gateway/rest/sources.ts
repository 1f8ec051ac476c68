// Read side of the Redis store for the gateway: the REST routes and the WebSocket snapshots read
// the same keys through these functions (key layout in core/redis.ts). Writers are the predictor
// (latest prediction, the board of every forecaster's latest, history), the feature processor
// (latest feature vector and candle) and the trainer's monitor (latest live scores).
// Every Redis failure surfaces as a retryable ERR_REDIS (the routes answer 503); a value that is
// not the JSON the writers store is a server defect (ERR_INTERNAL), never silently dropped.
import type { Redis } from '../../core/redis.js';
import { redisKeys } from '../../core/redis.js';
import { BitPredictError, errorMessage, isBitPredictError } from '../../core/errors.js';
import type { Candle, FeatureVector, Prediction, Score } from '../../schemas/types.js';

/** The intervals the store is asked for when a caller does not name one (one MGET for all). */
export const CANDIDATE_INTERVALS = ['1m', '5m', '15m', '1h', '4h', '1d'] as const;
export type CandidateInterval = (typeof CANDIDATE_INTERVALS)[number];

export interface RedisSources {
  /** The latest prediction of a symbol (any interval), or null when there is none yet. */
  latestPrediction(symbol: string): Promise<Prediction | null>;
  /**
   * Predictions of a symbol with from <= eventTime < to, oldest first, at most `limit`.
   * `from` null: the newest `limit` before `to` (still oldest first); `to` null: no upper bound.
   */
  predictionHistory(symbol: string, from: number | null, to: number | null, limit: number): Promise<Prediction[]>;
  /**
   * The latest feature vector of one interval (an array of zero or one), or with `interval` null
   * the latest of every candidate interval that has one, in CANDIDATE_INTERVALS order.
   */
  latestFeatures(symbol: string, interval: string | null): Promise<FeatureVector[]>;
  /** The latest closed candle of every candidate interval that has one, in CANDIDATE_INTERVALS order. */
  latestCandles(symbol: string): Promise<Candle[]>;
  /** Closed candles of one series with from <= openTime < to, oldest first, at most `limit` (`from` null: the newest `limit` before `to`). */
  candleHistory(symbol: string, interval: string, from: number | null, to: number | null, limit: number): Promise<Candle[]>;
  /** Feature vectors of one series with from <= eventTime < to, oldest first, at most `limit` (`from` null: the newest `limit` before `to`). */
  featureHistory(symbol: string, interval: string, from: number | null, to: number | null, limit: number): Promise<FeatureVector[]>;
  /** The latest prediction of every forecaster (model and baselines) of a symbol, by interval then model name; empty when there is no board. */
  predictionBoard(symbol: string): Promise<Prediction[]>;
  /** The latest live score of every forecaster, horizon and window of a symbol, by interval, model, horizon and window; empty when none. */
  latestScores(symbol: string): Promise<Score[]>;
}

/** The values of a hash in the order of their fields (fields compared part by part, numbers as numbers). */
function byField<T>(hash: Record<string, string>, what: string): T[] {
  const cmp = (a: string, b: string): number => {
    const pa = a.split('|');
    const pb = b.split('|');
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const x = pa[i] ?? '';
      const y = pb[i] ?? '';
      if (x === y) continue;
      const nx = Number(x);
      const ny = Number(y);
      return x !== '' && y !== '' && Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : x < y ? -1 : 1;
    }
    return 0;
  };
  return Object.keys(hash)
    .sort(cmp)
    .map((k) => parse<T>(hash[k]!, what));
}

function parse<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new BitPredictError('ERR_INTERNAL', `stored ${what} is not valid JSON: ${errorMessage(err)}`, { cause: err, retryable: false });
  }
}

/** Runs one Redis read; a client or server failure becomes a retryable ERR_REDIS. */
async function read<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isBitPredictError(err)) throw err;
    // The message names what was read, not the key: keys carry the deployment's prefix.
    throw new BitPredictError('ERR_REDIS', `reading ${what} from Redis failed: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The members of a sorted set with from <= score < to, lowest score first, at most `limit`; with
 * `from` null the `limit` highest below `to` (read highest first, turned around).
 */
async function scoreRange<T extends string | Buffer>(
  read: (key: string, min: string | number, max: string, reverse: boolean) => Promise<T[]>,
  key: string,
  from: number | null,
  to: number | null,
): Promise<T[]> {
  // `to` is exclusive: "(" makes the score bound open.
  const max = to === null ? '+inf' : `(${to}`;
  if (from !== null) return read(key, from, max, false);
  const raw = await read(key, '-inf', max, true);
  return raw.reverse();
}

/** Decodes a feature vector as stored in the history (the features topic's Confluent-framed Avro). */
export type FeatureDecoder = (value: Buffer) => Promise<FeatureVector>;

/**
 * A stored feature vector, decoded. A value the registry cannot be asked about now (unreachable) is
 * a retryable ERR_REGISTRY_UNREACHABLE from the serde and passes as it is; bytes that are not a framed vector
 * are a defect of the store (ERR_INTERNAL).
 */
async function decoded(value: Buffer, decode: FeatureDecoder): Promise<FeatureVector> {
  try {
    return await decode(value);
  } catch (err) {
    if (isBitPredictError(err) && err.retryable) throw err;
    throw new BitPredictError('ERR_INTERNAL', `stored feature vector could not be decoded: ${errorMessage(err)}`, { cause: err, retryable: false });
  }
}

export function createRedisSources(redis: Redis, keyPrefix: string, decodeFeature: FeatureDecoder): RedisSources {
  const keys = redisKeys(keyPrefix);
  const strings =
    (what: string, limit: number) =>
    (key: string, min: string | number, max: string, reverse: boolean): Promise<string[]> =>
      read(what, () => (reverse ? redis.zrevrangebyscore(key, max, min, 'LIMIT', 0, limit) : redis.zrangebyscore(key, min, max, 'LIMIT', 0, limit)));
  const buffers =
    (what: string, limit: number) =>
    (key: string, min: string | number, max: string, reverse: boolean): Promise<Buffer[]> =>
      read(what, () =>
        reverse ? redis.zrevrangebyscoreBuffer(key, max, min, 'LIMIT', 0, limit) : redis.zrangebyscoreBuffer(key, min, max, 'LIMIT', 0, limit),
      );

  async function latestOfIntervals<T>(
    what: string,
    symbol: string,
    intervals: readonly string[],
    key: (symbol: string, interval: string) => string,
  ): Promise<T[]> {
    if (intervals.length === 0) return [];
    const raw = await read(what, () => redis.mget(...intervals.map((i) => key(symbol, i))));
    const out: T[] = [];
    for (const text of raw) if (text !== null) out.push(parse<T>(text, what));
    return out;
  }

  return {
    async latestPrediction(symbol) {
      const text = await read('the latest prediction', () => redis.get(keys.predictionsLatest(symbol)));
      return text === null ? null : parse<Prediction>(text, 'prediction');
    },

    async predictionHistory(symbol, from, to, limit) {
      const what = 'the prediction history';
      const raw = await scoreRange(strings(what, limit), keys.predictionsHistory(symbol), from, to);
      return raw.map((text) => parse<Prediction>(text, 'prediction'));
    },

    async candleHistory(symbol, interval, from, to, limit) {
      const what = 'the candle history';
      const raw = await scoreRange(strings(what, limit), keys.candlesHistory(symbol, interval), from, to);
      return raw.map((text) => parse<Candle>(text, 'candle'));
    },

    async featureHistory(symbol, interval, from, to, limit) {
      const what = 'the feature history';
      const raw = await scoreRange(buffers(what, limit), keys.featuresHistory(symbol, interval), from, to);
      const out: FeatureVector[] = [];
      for (const value of raw) out.push(await decoded(value, decodeFeature));
      return out;
    },

    latestFeatures(symbol, interval) {
      return latestOfIntervals<FeatureVector>('the latest feature vectors', symbol, interval === null ? CANDIDATE_INTERVALS : [interval], keys.featuresLatest);
    },

    latestCandles(symbol) {
      return latestOfIntervals<Candle>('the latest candles', symbol, CANDIDATE_INTERVALS, keys.candlesLatest);
    },

    async predictionBoard(symbol) {
      return byField<Prediction>(await read('the prediction board', () => redis.hgetall(keys.predictionsBoard(symbol))), 'prediction');
    },

    async latestScores(symbol) {
      return byField<Score>(await read('the live scores', () => redis.hgetall(keys.scoresLatest(symbol))), 'score');
    },
  };
}
