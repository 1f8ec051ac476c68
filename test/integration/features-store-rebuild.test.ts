// The Redis feature store when Redis fails under the feature processor, on real hourly candles
// and a throwaway redis-server (never the shared one): refusing writes for a while, killed and
// started again empty (the processor keeps running), emptied with FLUSHALL while the processor is
// down (it starts with no memory of what it wrote), emptied and refusing writes as the rebuild
// starts. After more candles, the store must hold exactly what an uninterrupted run's holds: the
// newest BITPREDICT_FEATURES_HISTORY_MAX vectors as the features topic holds them, the newest
// BITPREDICT_FEATURES_CANDLE_HISTORY_MAX candles, and the latest vector and candle. The bounds are
// below the candle count, so the trims are checked too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { freePort, throwawayRedis, type ThrowawayRedis } from '../helpers/local-servers.js';
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { runReplay } from '../../producers/replay/service.js';
import { redisKeys } from '../../core/redis.js';
import type { Service } from '../../core/service.js';
import type { Candle } from '../../schemas/types.js';

const FROM = Date.UTC(2021, 0, 1);
const HISTORY_MAX = 150;
const CANDLE_HISTORY_MAX = 200;

describe.skipIf(!hasSharedData(HOURLY_MERGED))('feature store: Redis failing under the feature processor', () => {
  let redisServer: ThrowawayRedis;
  let tp: TestPlatform;
  let producer: Producer;
  const running: Service[] = [];
  const fatal: unknown[] = [];

  beforeAll(async () => {
    const port = await freePort();
    redisServer = throwawayRedis(port);
    await redisServer.start();
    tp = await createTestPlatform('features-store-rebuild', {
      BITPREDICT_REDIS_URL: `redis://127.0.0.1:${port}`,
      BITPREDICT_STATE_SNAPSHOT_INTERVAL_MS: '0',
      BITPREDICT_FEATURES_HISTORY_MAX: String(HISTORY_MAX),
      BITPREDICT_FEATURES_CANDLE_HISTORY_MAX: String(CANDLE_HISTORY_MAX),
    });
    producer = await createProducer(tp.platform.kafka);
  });

  afterAll(async () => {
    while (running.length > 0) await running.pop()?.stop();
    await producer?.close();
    await tp?.cleanup().catch(() => undefined);
    await redisServer?.kill();
  });

  async function startProcessor(): Promise<void> {
    const p = await createFeatureProcessor({ platform: tp.platform, config: tp.config, redis: tp.redis, onFatal: (e) => fatal.push(e) });
    await p.start();
    running.push(p);
    await waitFor(() => p.readiness().ready, 'the feature processor to be ready');
  }

  /** Replays the first `limit` candles (resuming after those already in the topic), and waits for their vectors. */
  /** Replays the hourly file from FROM up to `limit` candles (resuming after what is published). */
  async function replay(limit: number): Promise<void> {
    const s = await runReplay({
      platform: tp.platform,
      config: tp.config,
      producer,
      file: HOURLY_MERGED,
      symbol: 'BTCUSDT',
      interval: '1h',
      rate: 0,
      from: FROM,
      limit,
      resume: true,
    });
    expect(s.deadLettered).toBe(0);
  }

  async function replayUpTo(limit: number): Promise<void> {
    await replay(limit);
    await waitFor(async () => (await tp.readAll('features')).length >= limit, `${limit} feature vectors`, 90_000);
  }

  /** The store of an uninterrupted run: the topics' newest records within the bounds. */
  async function expectStoreAsUninterrupted(): Promise<void> {
    const keys = redisKeys(tp.config.redis.keyPrefix);
    const features = await tp.readAll('features');
    // One member per event time, the later record winning (as the writer replaces a rewrite).
    const vectorByTime = new Map<number, { raw: Buffer; value: unknown }>();
    for (const r of features) if (r.value && r.raw) vectorByTime.set(r.value.eventTime, { raw: r.raw, value: r.value });
    const wantVectors = [...vectorByTime].sort(([a], [b]) => a - b).slice(-HISTORY_MAX);
    const flat = await tp.redis.zrangebyscoreBuffer(keys.featuresHistory('BTCUSDT', '1h'), '-inf', '+inf', 'WITHSCORES');
    const gotVectors = [];
    for (let i = 0; i < flat.length; i += 2) gotVectors.push(`${flat[i + 1]?.toString()}:${flat[i]?.toString('hex')}`);
    expect(gotVectors).toEqual(wantVectors.map(([t, v]) => `${t}:${v.raw.toString('hex')}`));
    expect(JSON.parse((await tp.redis.get(keys.featuresLatest('BTCUSDT', '1h'))) ?? 'null')).toEqual(wantVectors.at(-1)?.[1].value);

    const candleByOpen = new Map<number, Candle>();
    for (const r of await tp.readAll('candles')) if (r.value && !candleByOpen.has(r.value.openTime)) candleByOpen.set(r.value.openTime, r.value);
    const wantCandles = [...candleByOpen].sort(([a], [b]) => a - b).slice(-CANDLE_HISTORY_MAX);
    const gotCandles = await tp.redis.zrangebyscore(keys.candlesHistory('BTCUSDT', '1h'), '-inf', '+inf');
    expect(gotCandles.map((c) => JSON.parse(c) as Candle)).toEqual(wantCandles.map(([, c]) => c));
    expect(JSON.parse((await tp.redis.get(keys.candlesLatest('BTCUSDT', '1h'))) ?? 'null')).toEqual(wantCandles.at(-1)?.[1]);
  }

  const rebuilds = async (): Promise<number> =>
    (await tp.platform.registry.getSingleMetric('bitpredict_features_store_rebuilds_total')?.get())?.values[0]?.value ?? 0;

  it('writes a flush Redis refused once Redis takes writes again', async () => {
    await startProcessor();
    await replayUpTo(100);
    await expectStoreAsUninterrupted();
    // A replica of a master that does not answer keeps its data and refuses writes (READONLY), as
    // during a failover: the flush waits for Redis, and must write its vectors when it is back.
    await tp.redis.replicaof('127.0.0.1', String(await freePort()));
    await replay(120);
    await waitFor(() => running.every((p) => !p.readiness().ready), 'the processor to wait for Redis');
    await tp.redis.replicaof('NO', 'ONE');
    await waitFor(async () => (await tp.readAll('features')).length >= 120, '120 feature vectors', 90_000);
    await expectStoreAsUninterrupted();
    expect(fatal).toEqual([]);
  });

  it('rebuilds the history, latest vector and candles after Redis restarts empty under a running processor', async () => {
    await replayUpTo(300);
    await expectStoreAsUninterrupted();
    expect(await rebuilds()).toBe(0);

    await redisServer.kill();
    await redisServer.start();
    expect(await tp.redis.dbsize()).toBe(0);
    await replayUpTo(400);
    await expectStoreAsUninterrupted();
    expect(await rebuilds()).toBe(1);
    expect(fatal).toEqual([]);
  });

  it('rebuilds when the processor starts with Redis emptied while it was down', async () => {
    while (running.length > 0) await running.pop()?.stop();
    const before = await rebuilds();
    await tp.redis.flushall();
    await startProcessor();
    await replayUpTo(450);
    await expectStoreAsUninterrupted();
    expect(await rebuilds()).toBe(before + 1);
    expect(fatal).toEqual([]);
  });

  it('finishes a rebuild Redis refused once Redis takes writes again', async () => {
    const before = await rebuilds();
    // Emptied, then refusing writes (READONLY) as the rebuild starts: the flush waits for Redis
    // with its vectors and nothing is committed; once Redis takes writes the rebuild goes through.
    await tp.redis.flushall();
    await tp.redis.replicaof('127.0.0.1', String(await freePort()));
    await replay(470);
    await waitFor(() => running.every((p) => !p.readiness().ready), 'the processor to wait for Redis');
    expect((await tp.readAll('features')).length).toBe(450);
    await tp.redis.replicaof('NO', 'ONE');
    await waitFor(async () => (await tp.readAll('features')).length >= 470, '470 feature vectors', 90_000);
    await expectStoreAsUninterrupted();
    expect(await rebuilds()).toBe(before + 1);
    expect(fatal).toEqual([]);
  });
});
