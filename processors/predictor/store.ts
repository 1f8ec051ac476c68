// The predictor's Redis side: the latest prediction per symbol (the gateway's snapshot) and a
// bounded, time-indexed history per symbol (read by /v1/predictions), written in one MULTI before
// the Kafka commit.
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
  /** Latest and history in one MULTI: a redelivered feature rewrites the same history member (see HISTORY_ADD). */
  write(p: Prediction): Promise<void>;
}

export function createPredictionStore(redis: Redis, keyPrefix: string, historyMax: number): PredictionStore {
  const keys = redisKeys(keyPrefix);
  return {
    async write(p) {
      const json = JSON.stringify(p);
      const res = await redis
        .multi()
        .set(keys.predictionsLatest(p.symbol), json)
        .eval(HISTORY_ADD, 1, keys.predictionsHistory(p.symbol), p.eventTime, p.interval, p.modelName, p.horizonSteps, json, historyMax)
        .exec();
      const failed = res?.find(([err]) => err !== null);
      if (!res || failed) throw new BitPredictError('ERR_REDIS', `writing the prediction to Redis failed: ${failed?.[0]?.message ?? 'transaction discarded'}`);
    },
  };
}
