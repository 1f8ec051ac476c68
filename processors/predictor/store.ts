// The predictor's Redis side, written before the Kafka commit in one MULTI per feature vector (live)
// or per chunk of vectors (backlog, replay: one round trip instead of one per vector): the
// headline prediction per symbol (the champion's, else a baseline's), the board (the latest
// prediction of every forecaster of the symbol: the model beside every baseline, the gateway's
// snapshot) and a bounded, time-indexed history per symbol of every forecaster's predictions (read
// by /v1/predictions).
import type { Redis } from '../../core/redis.js';
import { redisKeys } from '../../core/redis.js';
import { BitPredictError } from '../../core/errors.js';
import type { Prediction } from '../../schemas/types.js';

/**
 * Adds a prediction to its symbol's history (KEYS[1]: sorted set, score = eventTime, member = the
 * Prediction JSON, which readers parse as is) and keeps the newest ARGV[6]. One member per
 * (eventTime, interval, modelName, horizonSteps): a redelivered feature (after a restart the
 * records since the last commit are predicted again, with a new predictedAt, maybe by a newer
 * champion version) replaces the member it wrote before instead of adding a second one, while
 * other intervals of the symbol and other models at the same event time stay. Members are compared
 * by those fields, not by their bytes, hence a script: the scan touches only the members of one
 * score, and the script runs inside the handler's MULTI, so it is one round trip.
 */
export const HISTORY_ADD = `
local key = KEYS[1]
local t = ARGV[1]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, t, t)) do
  local ok, p = pcall(cjson.decode, m)
  if ok and type(p) == 'table' and p.interval == ARGV[2] and p.modelName == ARGV[3] and tostring(p.horizonSteps) == ARGV[4] then
    redis.call('ZREM', key, m)
  end
end
redis.call('ZADD', key, t, ARGV[5])
redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[6]) + 1))
return 1
`;

export interface PredictionStore {
  /**
   * The predictions of one feature vector (every forecaster) and its headline, in one MULTI: the
   * headline key, one board field per forecaster and one history member per forecaster. A
   * redelivered feature rewrites the same members (see HISTORY_ADD).
   */
  write(ps: readonly Prediction[], headline: Prediction): Promise<void>;
  /** Queues what write() would write, for flush(): a chunk of vectors in one round trip. */
  queue(ps: readonly Prediction[], headline: Prediction): void;
  /** Writes everything queued, in queue order, in one MULTI (the same commands write() sends one by one). */
  flush(): Promise<void>;
  /** Vectors queued and not yet flushed. */
  readonly pending: number;
}

/** The board field of a prediction: one per interval and forecaster. */
export const boardField = (p: Pick<Prediction, 'interval' | 'modelName'>): string => `${p.interval}|${p.modelName}`;

export function createPredictionStore(redis: Redis, keyPrefix: string, historyMax: number): PredictionStore {
  const keys = redisKeys(keyPrefix);
  type Multi = ReturnType<Redis['multi']>;
  let queued: { ps: readonly Prediction[]; head: Prediction }[] = [];

  /** One vector's commands: the headline, a history member per forecaster, the board fields. */
  function add(multi: Multi, ps: readonly Prediction[], head: Prediction): void {
    const symbol = head.symbol;
    multi.set(keys.predictionsLatest(symbol), JSON.stringify(head));
    const board: string[] = [];
    for (const p of ps) {
      const json = JSON.stringify(p);
      board.push(boardField(p), json);
      multi.eval(HISTORY_ADD, 1, keys.predictionsHistory(p.symbol), p.eventTime, p.interval, p.modelName, p.horizonSteps, json, historyMax);
    }
    multi.hset(keys.predictionsBoard(symbol), ...board);
  }

  async function exec(multi: Multi): Promise<void> {
    const res = await multi.exec();
    const failed = res?.find(([err]) => err !== null);
    if (!res || failed) throw new BitPredictError('ERR_REDIS', `writing the predictions to Redis failed: ${failed?.[0]?.message ?? 'transaction discarded'}`);
  }

  return {
    get pending() {
      return queued.length;
    },
    async write(ps, head) {
      if (ps.length === 0) return;
      const multi = redis.multi();
      add(multi, ps, head);
      await exec(multi);
    },
    queue(ps, head) {
      if (ps.length > 0) queued.push({ ps, head });
    },
    async flush() {
      if (queued.length === 0) return;
      const chunk = queued;
      queued = [];
      const multi = redis.multi();
      for (const q of chunk) add(multi, q.ps, q.head);
      try {
        await exec(multi);
      } catch (err) {
        queued = chunk.concat(queued); // nothing is lost: the next flush (or the restart's redelivery) writes them
        throw err;
      }
    },
  };
}
