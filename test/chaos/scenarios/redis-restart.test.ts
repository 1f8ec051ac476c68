// Chaos: Redis restarts and keeps nothing. The serving pipeline (feature processor, predictor,
// gateway) runs against its OWN redis-server (a free port, no persistence; never the shared one; the uninterrupted run uses the
// stack's).
// Real hourly candles are replayed in two parts; between them Redis is killed with SIGKILL and
// started again empty. The services must notice (the gateway's readiness goes false), reconnect by
// themselves (ready again), and the predictions after the restart must equal those of an
// uninterrupted run over the same candles (every forecaster, every value but the wall-clock
// stamps); the Redis feature store (latest vector, time-indexed history, candle history) must hold
// again all that the uninterrupted run's holds, the vectors and candles from before the restart too
// (rebuilt from Kafka).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, HOURLY_MERGED, waitFor, type TestPlatform } from '../../helpers/platform.js';
import { hasSharedData } from '../../helpers/shared-data.js';
import { startServingPipeline } from '../../helpers/serving.js';
import { runReplay } from '../../../producers/replay/service.js';
import { createProducer } from '../../../core/kafka/producer.js';
import { redisKeys } from '../../../core/redis.js';
import type { Service } from '../../../core/service.js';
import type { GatewayService } from '../../../gateway/service.js';
import type { Candle, FeatureVector, Prediction } from '../../../schemas/types.js';
import { readFeaturesAsOf } from '../../../core/feature-store.js';
import { recordChaos } from '../report.js';
import { atScale, countLoss, expectedPredictionIds } from '../chaos-a-common.js';
import { freePort, throwawayRedis, type ThrowawayRedis } from '../../helpers/local-servers.js';

const HOUR = 3_600_000;
const FROM = Date.UTC(2023, 4, 1);

/** What must be equal between two runs: everything but the wall-clock stamps. */
const stablePrediction = (p: Prediction): string => {
  const { candleIngestedAt: _c, featuresComputedAt: _f, predictedAt: _p, ...rest } = p;
  return JSON.stringify(rest);
};

interface Run {
  tp: TestPlatform;
  gateway: GatewayService;
  services: Service[];
  fatal: unknown[];
}

describe.skipIf(!hasSharedData(HOURLY_MERGED))('chaos: Redis restarts empty between two parts of a replay', () => {
  // Past MIN_FIT_STEPS (500): the baselines' first fit happens before the restart, so every
  // forecaster's state must survive it.
  const total = atScale({ ci: 600, full: 1_500 });
  const split = atScale({ ci: 540, full: 1_000 });
  let port = 0;
  let redis: ThrowawayRedis;
  const runs: Run[] = [];

  beforeAll(async () => {
    port = await freePort();
    redis = throwawayRedis(port);
    await redis.start();
  });

  afterAll(async () => {
    for (const r of runs) for (const s of [...r.services].reverse()) await s.stop().catch(() => undefined);
    for (const r of runs) await r.tp.cleanup().catch(() => undefined);
    await redis?.kill();
  });

  /** ownRedis: on the redis-server this test restarts; otherwise the stack's (the uninterrupted run). */
  async function startRun(label: string, ownRedis: boolean): Promise<Run> {
    const tp = await createTestPlatform(label, {
      ...(ownRedis ? { BITPREDICT_REDIS_URL: `redis://127.0.0.1:${port}` } : {}),
      BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true',
    });
    const fatal: unknown[] = [];
    const { gateway, services } = await startServingPipeline(tp, (e) => fatal.push(e));
    const run = { tp, gateway, services, fatal };
    runs.push(run);
    return run;
  }

  async function replay(run: Run, from: number, to: number): Promise<number> {
    const producer = await createProducer(run.tp.platform.kafka);
    try {
      const summary = await runReplay({
        platform: run.tp.platform,
        config: run.tp.config,
        producer,
        file: HOURLY_MERGED,
        symbol: 'BTCUSDT',
        interval: '1h',
        rate: 0,
        from,
        to,
      });
      return summary.published;
    } finally {
      await producer.close();
    }
  }

  /**
   * A run's feature store for the replayed series, without the wall-clock stamps (computedAt,
   * ingestedAt): the history and the latest vector, the candle history and the latest candle.
   */
  async function storedFeatures(run: Run) {
    const { redis, platform, config } = run.tp;
    const keys = redisKeys(config.redis.keyPrefix);
    const stableFeature = ({ computedAt: _c, candleIngestedAt: _i, ...rest }: FeatureVector) => rest;
    const stableCandle = ({ ingestedAt: _i, ...rest }: Candle) => rest;
    const json = async (key: string): Promise<unknown> => JSON.parse((await redis.get(key)) ?? 'null') as unknown;
    const history = await readFeaturesAsOf(redis, platform.serde, config.redis.keyPrefix, 'BTCUSDT', '1h', Number.MAX_SAFE_INTEGER, 1_000_000);
    const candles = (await redis.zrangebyscore(keys.candlesHistory('BTCUSDT', '1h'), '-inf', '+inf')).map((c) => stableCandle(JSON.parse(c) as Candle));
    const latest = (await json(keys.featuresLatest('BTCUSDT', '1h'))) as FeatureVector | null;
    const latestCandle = (await json(keys.candlesLatest('BTCUSDT', '1h'))) as Candle | null;
    return {
      history: history.map(stableFeature),
      latest: latest && stableFeature(latest),
      candles,
      latestCandle: latestCandle && stableCandle(latestCandle),
    };
  }

  const lastPredictionAt = async (run: Run, eventTime: number): Promise<boolean> =>
    (await run.tp.readAll('predictions')).some((p) => p.value?.eventTime === eventTime && p.value.modelName === 'persistence');

  const gatewayReady = async (run: Run): Promise<boolean> => {
    const res = await fetch(`${run.gateway.url()}/readyz`).catch(() => null);
    return res?.status === 200;
  };

  it('rebuilds what Redis lost and predicts as an uninterrupted run', async () => {
    const TO = FROM + total * HOUR;
    const SPLIT = FROM + split * HOUR;

    // The uninterrupted run.
    const ref = await startRun('chaos-redis-ref', false);
    const refCandles = await replay(ref, FROM, TO);
    const candleTimes = (await ref.tp.readAll('candles')).map((c) => c.value?.closeTime ?? 0);
    expect(candleTimes).toHaveLength(refCandles);
    const lastTime = candleTimes.at(-1) ?? 0;
    await waitFor(() => lastPredictionAt(ref, lastTime), 'the uninterrupted run to predict its last candle', 120_000);

    // The run whose Redis restarts empty between the two parts.
    const run = await startRun('chaos-redis', true);
    await replay(run, FROM, SPLIT);
    const splitTime = candleTimes.filter((t) => t <= SPLIT).at(-1) ?? 0;
    await waitFor(() => lastPredictionAt(run, splitTime), 'the first part predicted', 120_000);
    const keys = redisKeys(run.tp.config.redis.keyPrefix);
    expect(await run.tp.redis.zcard(keys.featuresHistory('BTCUSDT', '1h'))).toBeGreaterThan(0);

    await redis.kill();
    const faultAt = Date.now();
    let sawNotReady = false;
    await waitFor(
      async () => {
        sawNotReady = !(await gatewayReady(run));
        return sawNotReady;
      },
      'the gateway to report Redis gone',
      15_000,
    ).catch(() => undefined);
    await redis.start();
    expect(await run.tp.redis.dbsize()).toBe(0);
    await waitFor(() => gatewayReady(run), 'the gateway ready again', 60_000);
    await waitFor(() => run.services.every((s) => s.readiness().ready), 'every service ready again', 60_000);
    const readyMs = Date.now() - faultAt;

    await replay(run, SPLIT, TO);
    await waitFor(() => lastPredictionAt(run, lastTime), 'the second part predicted', 120_000);
    const recoveryMs = Date.now() - faultAt;

    const refPredictions = (await ref.tp.readAll('predictions')).map((p) => p.value).filter((p): p is Prediction => p !== null);
    const got = (await run.tp.readAll('predictions')).map((p) => p.value).filter((p): p is Prediction => p !== null);
    const ids = got.map((p) => `${p.eventTime}|${p.modelName}`);
    const loss = countLoss(
      expectedPredictionIds(
        candleTimes,
        refPredictions.map((p) => `${p.eventTime}|${p.modelName}`),
      ),
      ids,
    );
    // Every prediction after the restart, value for value, against the uninterrupted run's.
    const refById = new Map(refPredictions.map((p) => [`${p.eventTime}|${p.modelName}`, stablePrediction(p)]));
    const after = got.filter((p) => p.eventTime > splitTime);
    const differing = after.filter((p) => refById.get(`${p.eventTime}|${p.modelName}`) !== stablePrediction(p)).map((p) => `${p.eventTime}|${p.modelName}`);

    // The feature store: what the uninterrupted run's Redis holds, before the restart too (rebuilt
    // from Kafka): every vector of the history, the latest one, the candle history and latest candle.
    const store = { got: await storedFeatures(run), want: await storedFeatures(ref) };
    const fatal = [...ref.fatal, ...run.fatal];
    const dlq = await run.tp.readAll('dlq');

    recordChaos({
      scenario: 'redis-restart',
      fault: `SIGKILL the services' redis-server between two parts of a replay (${split} + ${total - split} candles), restart it empty`,
      lost: loss.lost + loss.unexpected,
      duplicated: loss.duplicated,
      crashes: fatal.length,
      recoveryMs,
      maxLag: null,
      peakMemoryMb: null,
      records: ids.length,
      notes: `gateway not ready seen: ${sawNotReady}; every service ready ${readyMs} ms after the kill; ${after.length} predictions after the restart, ${differing.length} differ from the uninterrupted run; ${dlq.length} DLQ; recovery = kill to the last candle predicted; feature store history after: ${store.got.history.length} vectors (${store.got.history.filter((f) => f.eventTime <= splitTime).length} from before the restart), ${store.got.candles.length} candles; uninterrupted: ${store.want.history.length} vectors, ${store.want.candles.length} candles`,
    });
    expect(loss.examples).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((p) => p.modelName))).toEqual(new Set(['persistence', 'ewma', 'har-rv', 'garch']));
    expect(differing.slice(0, 10)).toEqual([]);
    expect(store.got.history.length).toBe(refCandles);
    expect(store.got).toEqual(store.want);
    expect(sawNotReady).toBe(true);
    expect(dlq).toHaveLength(0);
    expect(fatal).toEqual([]);
  });
});
