// REST v1 against the real stack: the predictor writes the latest prediction and the history
// (a redelivery after a restart does not duplicate a history member; the history is trimmed to
// BITPREDICT_GATEWAY_HISTORY_MAX), the feature store writes the latest vector and candle, the
// models view follows a real models topic (a record that does not decode is skipped) and reads a
// store on disk, and every route answers 200/400/404, or 503 when Redis is not there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Redis } from 'ioredis';
import { createTestPlatform, waitFor, type TestPlatform } from '../helpers/platform.js';
import { redisKeys } from '../../core/redis.js';
import { createFeatureStoreWriter } from '../../core/feature-store.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import type { InRecord } from '../../core/kafka/consumer.js';
import { createPredictorHandler } from '../../processors/predictor/service.js';
import { announcementOf, sendAnnouncement } from '../../core/models/registry.js';
import type { ArtifactMeta } from '../../core/models/artifact.js';
import type { Candle, FeatureVector, Prediction } from '../../schemas/types.js';
import { createRedisSources } from '../../gateway/rest/sources.js';
import { registerRestRoutes, type RestDeps } from '../../gateway/rest/routes.js';
import { createModelsView, type ModelsSnapshot, type ModelsView } from '../../gateway/models-view.js';
import { bareFeature } from '../helpers/features.js';
import { SIGNING_OFF } from '../../core/models/signing.js';

const HOUR = 3_600_000;
let tp: TestPlatform;
const decodeFeature = (b: Buffer): Promise<FeatureVector> => tp.platform.serde.decode('features', b);
const T0 = Date.UTC(2024, 0, 31, 0);
const HISTORY_MAX = 6;
const NAME = 'lstm-attention';

const feature = (interval: string, eventTime: number, close = 42_000, logReturn1: number | null = null): FeatureVector =>
  bareFeature(interval, eventTime, { close, logReturn1, sentimentWindowMs: HOUR });

function candle(interval: string, closeTime: number): Candle {
  return {
    symbol: 'BTCUSDT',
    interval,
    exchange: 'binance',
    openTime: closeTime - HOUR,
    closeTime,
    open: 1,
    high: 2,
    low: 0.5,
    close: 1.5,
    volume: 3,
    quoteVolume: null,
    tradeCount: 7,
    source: 'test',
    ingestedAt: closeTime + 5,
  };
}

function meta(version: string, createdAt: string): ArtifactMeta {
  return {
    name: NAME,
    version,
    featureSetVersion: 'fs-2',
    featureColumns: ['close'],
    normalizer: { columns: ['close'], mean: [0], std: [1] },
    T: 8,
    F: 1,
    returnScale: 100,
    trainedFrom: T0 - 100 * HOUR,
    trainedTo: T0,
    metrics: { valMse: 0.2 },
    backend: 'cpu',
    codeVersion: 'test',
    createdAt,
    expiresAt: null,
    seed: 1,
    hyperparameters: { units: 4 },
  };
}

async function restApp(deps: RestDeps): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(swagger, { openapi: { info: { title: 't', version: '1' } } });
  await registerRestRoutes(app, deps);
  await app.ready();
  return app;
}

describe('gateway REST v1 on the real stack', () => {
  let producer: Producer;
  let store: string;
  let view: ModelsView;
  let app: FastifyInstance;
  let offset = 0;

  async function predict(handler: ReturnType<typeof createPredictorHandler>['handler'], f: FeatureVector): Promise<void> {
    const rec: InRecord = {
      topic: tp.topic('features'),
      partition: 0,
      offset: String(offset++),
      key: Buffer.from(`${f.symbol}:${f.interval}`),
      value: tp.platform.serde.encode('features', f),
      timestamp: f.eventTime,
      headers: {},
    };
    await handler(rec, { heartbeat: async () => undefined });
  }

  beforeAll(async () => {
    tp = await createTestPlatform('gw-rest', { BITPREDICT_GATEWAY_HISTORY_MAX: String(HISTORY_MAX) });
    producer = await createProducer(tp.platform.kafka);
    store = await mkdtemp(join(tmpdir(), 'bp-gw-rest-'));
    view = createModelsView({ platform: tp.platform, logger: tp.logger, storeDir: store, name: NAME, catchUpMs: 30_000 });
    app = await restApp({ sources: createRedisSources(tp.redis, tp.config.redis.keyPrefix, decodeFeature), models: view });
  });

  afterAll(async () => {
    await app?.close();
    await view?.stop();
    await producer?.close();
    await tp?.cleanup();
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('predictor: headline, board and history in one write; a redelivery replaces its member; trimmed to the newest', async () => {
    let clock = T0 + 100 * HOUR; // after every event time: the handler refuses future vectors
    const now = (): number => clock;
    // Each vector's own one-step return lets the warm-up persistence baseline forecast from the first vector.
    const fv = (interval: string, t: number, close?: number): FeatureVector => feature(interval, t, close, 0.001);
    const h1 = createPredictorHandler({ platform: tp.platform, config: tp.config, redis: tp.redis, now });
    await predict(h1.handler, fv('1h', T0));
    await predict(h1.handler, fv('1m', T0)); // same event time, other interval: its own member
    await predict(h1.handler, fv('1h', T0 + HOUR, 42_100));
    // A restart: the records since the last commit come again, predicted anew (new predictedAt).
    clock += 5000;
    const h2 = createPredictorHandler({ platform: tp.platform, config: tp.config, redis: tp.redis, now });
    await predict(h2.handler, fv('1h', T0));
    await predict(h2.handler, fv('1h', T0 + HOUR, 42_100));
    const key = redisKeys(tp.config.redis.keyPrefix).predictionsHistory('BTCUSDT');
    const members = (await tp.redis.zrange(key, 0, -1)).map((m) => JSON.parse(m) as Prediction);
    expect(members.map((p) => [p.interval, p.eventTime])).toEqual([
      ['1h', T0],
      ['1m', T0],
      ['1h', T0 + HOUR],
    ]);
    expect(members.find((p) => p.interval === '1h' && p.eventTime === T0)?.predictedAt).toBe(clock);

    // Beyond HISTORY_MAX the oldest go.
    for (let i = 2; i < 8; i++) await predict(h2.handler, feature('1h', T0 + i * HOUR, 42_000, 0.001));
    const kept = (await tp.redis.zrange(key, 0, -1)).map((m) => JSON.parse(m) as Prediction);
    expect(kept).toHaveLength(HISTORY_MAX);
    expect(kept.map((p) => p.eventTime)).toEqual([2, 3, 4, 5, 6, 7].map((i) => T0 + i * HOUR));
    const latest = JSON.parse((await tp.redis.get(redisKeys(tp.config.redis.keyPrefix).predictionsLatest('BTCUSDT'))) ?? 'null') as Prediction;
    expect(latest.eventTime).toBe(T0 + 7 * HOUR);
    expect(latest).toMatchObject({ modelName: 'persistence', modelVersion: 'warmup', isBaseline: true });
    expect(latest.horizons.map((h) => h.horizonSteps)).toEqual([1, 4, 24]);
    const board = await tp.redis.hgetall(redisKeys(tp.config.redis.keyPrefix).predictionsBoard('BTCUSDT'));
    expect(Object.keys(board).sort()).toEqual(['1h|persistence', '1m|persistence']);
    expect((JSON.parse(board['1h|persistence']!) as Prediction).eventTime).toBe(T0 + 7 * HOUR);
  });

  it('GET /v1/predictions/latest: 200, 404, 400', async () => {
    const ok = await app.inject({ url: '/v1/predictions/latest?symbol=btcusdt' });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect(ok.json<Prediction>()).toMatchObject({ symbol: 'BTCUSDT', interval: '1h', eventTime: T0 + 7 * HOUR, isBaseline: true });
    expect((await app.inject({ url: '/v1/predictions/latest?symbol=ETHUSDT' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/predictions/latest?symbol=BTC_USDT' })).statusCode).toBe(400);
  });

  it('GET /v1/predictions: bounds (from inclusive, to exclusive), limit, newest without from, 400', async () => {
    type History = { symbol: string; from: number | null; to: number | null; count: number; predictions: Prediction[] };
    const times = (body: History): number[] => body.predictions.map((p) => (p.eventTime - T0) / HOUR);
    const all = await app.inject({ url: '/v1/predictions?symbol=BTCUSDT' });
    expect(all.statusCode).toBe(200);
    expect(times(all.json<History>())).toEqual([2, 3, 4, 5, 6, 7]);
    const ranged = await app.inject({ url: `/v1/predictions?symbol=BTCUSDT&from=${new Date(T0 + 3 * HOUR).toISOString()}&to=${T0 + 6 * HOUR}` });
    expect(ranged.json<History>()).toMatchObject({ symbol: 'BTCUSDT', from: T0 + 3 * HOUR, to: T0 + 6 * HOUR, count: 3 });
    expect(times(ranged.json<History>())).toEqual([3, 4, 5]);
    expect(times((await app.inject({ url: `/v1/predictions?symbol=BTCUSDT&from=${T0 + 3 * HOUR}&limit=2` })).json<History>())).toEqual([3, 4]);
    expect(times((await app.inject({ url: `/v1/predictions?symbol=BTCUSDT&to=${T0 + 6 * HOUR}&limit=2` })).json<History>())).toEqual([4, 5]);
    const empty = await app.inject({ url: '/v1/predictions?symbol=ETHUSDT' });
    expect(empty.statusCode).toBe(200);
    expect(empty.json<History>().count).toBe(0);
    const bad = await app.inject({ url: '/v1/predictions?symbol=BTCUSDT&from=2024-02-01&to=2024-01-01' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ code: string }>().code).toBe('ERR_VALIDATION');
  });

  it('feature store writes the latest candle per series in its flush; GET /v1/features/latest: 200, 404, 400', async () => {
    const writer = createFeatureStoreWriter(tp.redis, tp.config.redis.keyPrefix, { features: 100, candles: 100 });
    for (const [interval, t] of [
      ['1h', T0],
      ['1h', T0 + HOUR],
      ['1m', T0],
    ] as const) {
      const f = feature(interval, t);
      writer.add(f, tp.platform.serde.encode('features', f), candle(interval, t));
    }
    await writer.flush();
    const sources = createRedisSources(tp.redis, tp.config.redis.keyPrefix, decodeFeature);
    expect(await sources.latestCandles('BTCUSDT')).toEqual([candle('1m', T0), candle('1h', T0 + HOUR)]);
    expect(await sources.latestCandles('ETHUSDT')).toEqual([]);

    const one = await app.inject({ url: '/v1/features/latest?symbol=BTCUSDT&interval=1h' });
    expect(one.statusCode).toBe(200);
    expect(one.json<FeatureVector>()).toEqual(feature('1h', T0 + HOUR));
    const all = await app.inject({ url: '/v1/features/latest?symbol=BTCUSDT' });
    expect(all.json<{ symbol: string; features: FeatureVector[] }>()).toEqual({ symbol: 'BTCUSDT', features: [feature('1m', T0), feature('1h', T0 + HOUR)] });
    expect((await app.inject({ url: '/v1/features/latest?symbol=BTCUSDT&interval=4h' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/features/latest?symbol=ETHUSDT' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/features/latest?symbol=BTCUSDT&interval=7m' })).statusCode).toBe(400);
  });

  it('feature store keeps a bounded candle and feature history per series; GET /v1/candles and /v1/features page it, oldest first', async () => {
    const writer = createFeatureStoreWriter(tp.redis, tp.config.redis.keyPrefix, { features: 4, candles: 5 });
    const times = Array.from({ length: 8 }, (_, i) => T0 + 10 * HOUR + i * HOUR);
    // Out of order and with one time twice (a redelivery after a crash rewrites it): one member per time.
    for (const t of [...times.slice(4), ...times.slice(0, 4), times[6]!]) {
      const f = feature('4h', t);
      writer.add(f, tp.platform.serde.encode('features', f), candle('4h', t));
    }
    await writer.flush();
    type Candles = { count: number; candles: Candle[]; from: number | null; to: number | null };
    const res = await app.inject({ url: '/v1/candles?symbol=btcusdt&interval=4h&limit=10000' });
    expect(res.statusCode).toBe(200);
    const body = res.json<Candles>();
    // Bounded to the newest 5, oldest first.
    expect(body.candles.map((c) => c.closeTime)).toEqual(times.slice(3));
    expect(body.candles[0]).toEqual(candle('4h', times[3]!));
    // Paging: from (inclusive), to (exclusive), limit.
    const page = (await app.inject({ url: `/v1/candles?symbol=BTCUSDT&interval=4h&from=${times[4]! - HOUR}&limit=2` })).json<Candles>();
    expect(page.candles.map((c) => c.closeTime)).toEqual([times[4], times[5]]);
    const before = (await app.inject({ url: `/v1/candles?symbol=BTCUSDT&interval=4h&to=${times[6]! - HOUR}&limit=2` })).json<Candles>();
    expect(before.candles.map((c) => c.closeTime)).toEqual([times[4], times[5]]);

    const feats = await app.inject({ url: '/v1/features?symbol=BTCUSDT&interval=4h' });
    expect(feats.statusCode).toBe(200);
    expect(feats.json<{ features: FeatureVector[] }>().features).toEqual(times.slice(4).map((t) => feature('4h', t)));
    expect((await app.inject({ url: '/v1/candles?symbol=BTCUSDT&interval=1d' })).json<Candles>().count).toBe(0);

    // A member that is not a framed vector is a defect of the store: 500, not a crash or a silent gap.
    await tp.redis.zadd(redisKeys(tp.config.redis.keyPrefix).featuresHistory('BTCUSDT', '4h'), times[7]! + HOUR, Buffer.from('garbage'));
    const broken = await app.inject({ url: '/v1/features?symbol=BTCUSDT&interval=4h' });
    expect(broken.statusCode).toBe(500);
    expect(broken.json<{ code: string }>().code).toBe('ERR_INTERNAL');
  });

  it('models view: topic champion (an undecodable record skipped), store versions, later announcements; GET /v1/models', async () => {
    // The store: v1 and v2 on disk, registry champion v1; the topic announces v1, garbage, then v2.
    for (const [v, at] of [
      ['v1', '2024-01-01T00:00:00.000Z'],
      ['v2', '2024-01-02T00:00:00.000Z'],
    ] as const) {
      await mkdir(join(store, NAME, v), { recursive: true });
      await writeFile(join(store, NAME, v, 'meta.json'), JSON.stringify(meta(v, at)));
    }
    await writeFile(join(store, NAME, 'registry.json'), JSON.stringify({ name: NAME, champion: 'v1', previous: [], events: [] }));
    await sendAnnouncement(tp.platform, announcementOf(meta('v1', '2024-01-01T00:00:00.000Z'), store), { signing: SIGNING_OFF });
    await producer.send([{ topic: tp.topic('models'), key: NAME, value: Buffer.from('not avro') }]);
    await sendAnnouncement(tp.platform, announcementOf(meta('v2', '2024-01-02T00:00:00.000Z'), store), { signing: SIGNING_OFF });

    await view.start();
    expect(view.caughtUp).toBe(true);
    expect(view.hasChampion()).toBe(true);
    let snap = view.snapshot();
    expect(snap.champion?.version).toBe('v2');
    expect(snap.versions.map((v) => [v.version, v.champion, v.announced, v.inStore])).toEqual([
      ['v1', false, true, true],
      ['v2', true, true, true],
    ]);

    // A later announcement (a rollback to v1) arrives while the view runs.
    await sendAnnouncement(tp.platform, announcementOf(meta('v1', '2024-01-01T00:00:00.000Z'), store), { signing: SIGNING_OFF });
    await waitFor(() => view.snapshot().champion?.version === 'v1', 'the view to follow the new announcement');

    const res = await app.inject({ url: '/v1/models' });
    expect(res.statusCode).toBe(200);
    snap = res.json<ModelsSnapshot>();
    expect(snap).toMatchObject({ name: NAME, champion: { version: 'v1', metrics: { valMse: 0.2 }, expiresAt: null, createdAt: Date.UTC(2024, 0, 1) } });
    expect(snap.versions.map((v) => v.version)).toEqual(['v1', 'v2']);
  });

  it('503 ERR_UNAVAILABLE on every Redis route when Redis is not running', async () => {
    const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, connectTimeout: 200, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const down = await restApp({ sources: createRedisSources(dead, tp.config.redis.keyPrefix, decodeFeature), models: view });
    try {
      for (const url of [
        '/v1/predictions/latest?symbol=BTCUSDT',
        '/v1/predictions?symbol=BTCUSDT',
        '/v1/features/latest?symbol=BTCUSDT',
        '/v1/features/latest?symbol=BTCUSDT&interval=1h',
        '/v1/candles?symbol=BTCUSDT&interval=1h',
        '/v1/features?symbol=BTCUSDT&interval=1h',
      ]) {
        const res = await down.inject({ url });
        expect(res.statusCode, url).toBe(503);
        expect(res.json<{ code: string }>().code, url).toBe('ERR_UNAVAILABLE');
        expect(res.headers['cache-control'], url).toBe('no-store');
      }
      // The models route does not need Redis.
      expect((await down.inject({ url: '/v1/models' })).statusCode).toBe(200);
    } finally {
      await down.close();
      dead.disconnect();
    }
  });
});
