// The predictor's Redis side in a backlog chunk: the handler queues each vector's writes while a
// chunk prepared by prepareBatch runs, and flush() (the runner's beforeFlush, just before the
// chunk's commit) writes them in one MULTI. Redis must then hold exactly what record-by-record
// handling writes (headline, board, history), nothing before flush(), and a small (live) chunk
// still writes before the handler returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { redisKeys } from '../../core/redis.js';
import type { InRecord } from '../../core/kafka/consumer.js';
import { createPredictorHandler } from '../../processors/predictor/service.js';
import type { FeatureVector } from '../../schemas/types.js';
import { bareFeature } from '../helpers/features.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
function feature(symbol: string, i: number): FeatureVector {
  return bareFeature('1h', T0 + i * HOUR, { symbol, close: 42_000 * Math.exp(0.002 * Math.sin(i)), logReturn1: 0.002 * Math.cos(i) });
}

describe('predictor: one Redis MULTI per backlog chunk', () => {
  let tp: TestPlatform;
  const ctx = { heartbeat: async (): Promise<void> => undefined };
  const now = (): number => T0 + 1000 * HOUR;

  beforeAll(async () => {
    tp = await createTestPlatform('pred-chunk');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  const records = (symbol: string, n: number): InRecord[] =>
    Array.from({ length: n }, (_, i) => ({
      topic: tp.topic('features'),
      partition: 0,
      offset: String(i),
      key: Buffer.from(`${symbol}:1h`),
      value: tp.platform.serde.encode('features', feature(symbol, i)),
      timestamp: T0 + i * HOUR,
      headers: {},
    }));

  async function snapshot(symbol: string): Promise<unknown> {
    const k = redisKeys(tp.config.redis.keyPrefix);
    return {
      latest: await tp.redis.get(k.predictionsLatest(symbol)),
      board: await tp.redis.hgetall(k.predictionsBoard(symbol)),
      history: await tp.redis.zrange(k.predictionsHistory(symbol), 0, -1, 'WITHSCORES'),
    };
  }

  it('a chunk writes nothing until flush(), then exactly what record-by-record handling writes', async () => {
    // Record by record (no prepareBatch): each vector's MULTI before the handler returns.
    const single = createPredictorHandler({ platform: tp.platform, config: tp.config, redis: tp.redis, now });
    for (const rec of records('BTCUSDT', 30)) await single.handler(rec, ctx);
    const expected = await snapshot('BTCUSDT');
    expect((expected as { history: string[] }).history.length).toBeGreaterThan(0);

    // The same vectors under another symbol, in chunks of 10 through prepareBatch + flush.
    const chunked = createPredictorHandler({ platform: tp.platform, config: tp.config, redis: tp.redis, now });
    const recs = records('ETHUSDT', 30);
    for (let i = 0; i < recs.length; i += 10) {
      const chunk = recs.slice(i, i + 10);
      await chunked.prepareBatch(chunk);
      const before = await snapshot('ETHUSDT');
      for (const rec of chunk) await chunked.handler(rec, ctx);
      expect(await snapshot('ETHUSDT')).toEqual(before); // queued, not written yet
      await chunked.flush();
    }
    const got = (await snapshot('ETHUSDT')) as { latest: string; board: Record<string, string>; history: string[] };
    const rename = (s: string): string => s.replaceAll('ETHUSDT', 'BTCUSDT');
    expect({
      latest: rename(got.latest),
      board: Object.fromEntries(Object.entries(got.board).map(([f, v]) => [f, rename(v)])),
      history: got.history.map(rename),
    }).toEqual(expected);
  });

  it('a small (live) chunk writes before the handler returns; a chunk left unflushed is written by the next prepareBatch', async () => {
    const h = createPredictorHandler({ platform: tp.platform, config: tp.config, redis: tp.redis, now });
    const recs = records('SOLUSDT', 20);
    const k = redisKeys(tp.config.redis.keyPrefix);
    await h.prepareBatch(recs.slice(0, 10));
    for (const rec of recs.slice(0, 10)) await h.handler(rec, ctx);
    expect(await tp.redis.zcard(k.predictionsHistory('SOLUSDT'))).toBe(0); // abandoned: never flushed
    await h.prepareBatch(recs.slice(10, 12)); // a live-sized chunk: the leftovers go first
    const afterLeftovers = await tp.redis.zcard(k.predictionsHistory('SOLUSDT'));
    expect(afterLeftovers).toBeGreaterThan(0);
    await h.handler(recs[10]!, ctx);
    expect(await tp.redis.zcard(k.predictionsHistory('SOLUSDT'))).toBeGreaterThan(afterLeftovers);
  });
});
