// The feature store's writer when Redis goes away between add and flush: the failed flush keeps
// its vectors, so the runner's retry (it waits for Redis before the Kafka commit) writes them once
// Redis is back, instead of writing nothing and letting the commit go ahead. A real redis-server,
// killed and started again empty.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeatureStoreWriter } from '../../core/feature-store.js';
import { createRedis, redisKeys, type Redis } from '../../core/redis.js';
import { createLogger } from '../../core/logger.js';
import { loadConfig } from '../../core/config.js';
import type { FeatureVector } from '../../schemas/types.js';
import { freePort, throwawayRedis, type ThrowawayRedis } from '../helpers/local-servers.js';

const H = 3_600_000;
const vector = (h: number): FeatureVector => ({ symbol: 'BTCUSDT', interval: '1h', eventTime: Date.UTC(2024, 0, 1) + h * H }) as FeatureVector;

describe('feature store writer: Redis away during a flush', () => {
  let server: ThrowawayRedis;
  let redis: Redis;
  beforeAll(async () => {
    const port = await freePort();
    server = throwawayRedis(port);
    await server.start();
    const config = loadConfig(process.env);
    redis = await createRedis({ config: { ...config.redis, url: `redis://127.0.0.1:${port}` }, logger: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.kill();
  });

  it('keeps what a failed flush held and writes it, with what came after, on the next flush', async () => {
    const writer = createFeatureStoreWriter(redis, 't:', { features: 100, candles: 100 });
    for (let h = 0; h < 3; h++) writer.add(vector(h), Buffer.from(`v${h}`));
    await server.kill();
    await expect(writer.flush()).rejects.toBeDefined();
    expect(writer.pending).toBe(3);
    writer.add(vector(3), Buffer.from('v3'));
    expect(writer.pending).toBe(4);
    await server.start();
    // ioredis reconnects by itself; the runner retries the flush until it goes through.
    for (let i = 0; ; i++) {
      try {
        await writer.flush();
        break;
      } catch (err) {
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(writer.pending).toBe(0);
    const members = await redis.zrangeBuffer(redisKeys('t:').featuresHistory('BTCUSDT', '1h'), 0, -1);
    expect(members.map((m) => m.toString())).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect(JSON.parse((await redis.get(redisKeys('t:').featuresLatest('BTCUSDT', '1h'))) ?? 'null')).toMatchObject({ eventTime: vector(3).eventTime });
  });
});
