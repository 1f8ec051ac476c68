// Live skill on the real stack: forecasts with distributions (a model and two baselines, horizons
// 1 and 4) and real hourly feature vectors (one candle missing) in their topics -> the trainer
// service's monitor -> the scores topic, the Redis hash scoresLatest and Prometheus -> the gateway's
// GET /v1/scores and its scores:<SYMBOL> WebSocket channel. The published losses are checked
// against the scoring rules applied here to the same forecasts and closes, independently of the
// monitor's bookkeeping; the missing candle is counted as missing, not scored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { connectWs, startGateway, warmUp, wsUrl, type StartedGateway, type TestWsClient } from '../helpers/ws-client.js';
import { distributionPrediction, type ForecasterSpec } from '../helpers/predictions.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { loadConfig } from '../../core/config.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../../core/runtime.js';
import { redisKeys } from '../../core/redis.js';
import { loadCandlesFromFile } from '../../core/data/load.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import { summarise } from '../../core/forecast/scoring.js';
import { createTrainerService } from '../../trainer/service.js';
import type { Service } from '../../core/service.js';
import type { FeatureVector, Prediction, Score } from '../../schemas/types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SPECS: ForecasterSpec[] = [
  { modelName: 'persistence', modelVersion: 'b1', isBaseline: true, mean: () => 0, scale: (h) => 0.004 * Math.sqrt(h) },
  { modelName: 'garch', modelVersion: 'b1', isBaseline: true, mean: () => 0, scale: (h) => 0.003 * Math.sqrt(h) },
  { modelName: 'lstm-attention', modelVersion: 'v7', isBaseline: false, mean: () => 0.0005, scale: (h) => 0.0035 * Math.sqrt(h) },
];

let tp: TestPlatform;
let producer: Producer;
let g: StartedGateway;
const fatal: unknown[] = [];
const clients: TestWsClient[] = [];
const running: Service[] = [];

beforeAll(async () => {
  tp = await createTestPlatform('scores');
  producer = await createProducer(tp.platform.kafka);
  g = await startGateway(tp, { label: 'scores-gw', fatal, overrides: { BITPREDICT_GATEWAY_AUTH: 'open', BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' } });
  await warmUp(tp, producer, g.gateway);
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of running) await s.stop();
  await g?.gateway.stop();
  await producer?.close();
  await tp?.cleanup();
});

async function startTrainer(): Promise<Registry> {
  const config = loadConfig(
    {},
    {
      BITPREDICT_TOPIC_PREFIX: tp.prefix,
      // Children run on the driver under test.
      BITPREDICT_KAFKA_CLIENT: tp.config.kafka.driver,
      BITPREDICT_REDIS_KEY_PREFIX: tp.config.redis.keyPrefix,
      BITPREDICT_KAFKA_CLIENT_ID: 'scores-trainer',
      BITPREDICT_DATA_DIR: DATA_DIR,
      BITPREDICT_LOG_LEVEL: 'error',
      // Scoring only: no schedule, and no degradation can reach this threshold.
      BITPREDICT_RETRAIN_INTERVAL_MS: '0',
      BITPREDICT_RETRAIN_DEGRADE_THRESHOLD: '1000',
    },
  );
  const registry = createMetricsRegistry({ service: 'scores-trainer', defaultMetrics: false });
  const platform = createPlatform({ config, logger: tp.logger, registry, clientId: 'scores-trainer' });
  await prepareTopicsAndSchemas(platform, config.kafka);
  const s = await createTrainerService({ platform, config, redis: tp.redis, onFatal: (e) => fatal.push(e), scoresEveryMs: 200 });
  await s.start();
  running.push(s);
  return registry;
}

/** The expected 24 h score of one forecaster and horizon, by the scoring rules over the same forecasts and closes. */
function expected(preds: Prediction[], features: FeatureVector[], model: string, h: number) {
  const close = new Map(features.map((f) => [f.eventTime, f.close]));
  const clock = features.at(-1)!.eventTime;
  const items = preds
    .filter((p) => p.modelName === model)
    .map((p) => ({ p, hz: p.horizons.find((x) => x.horizonSteps === h)! }))
    .filter(({ hz }) => hz.targetTime > clock - DAY && hz.targetTime <= clock)
    .map(({ p, hz }) => {
      const steps = Array.from({ length: h + 1 }, (_, k) => p.eventTime + k * HOUR);
      const y = steps.every((t) => close.has(t)) ? Math.log(close.get(hz.targetTime)! / close.get(p.eventTime)!) : null;
      return { d: { mean: hz.mean, scale: hz.scale, quantiles: hz.quantiles, probUp: hz.probUp }, y };
    });
  return summarise(items);
}

describe.skipIf(!hasSharedData(HOURLY_MERGED))('live scores: forecasts and candles -> trainer monitor -> scores topic and Redis -> gateway', () => {
  it('publishes proper scores with skill, counts the missing candle, and serves them on REST and the WebSocket', async () => {
    const candles = await loadCandlesFromFile(DATA_DIR, HOURLY_MERGED, 'BTCUSDT', '1h', { from: Date.UTC(2024, 0, 1), to: Date.UTC(2024, 0, 15) });
    const all = featuresFromCandles(candles, [], { windowMs: 4 * HOUR });
    const gapTime = all.at(-10)!.eventTime;
    const features = all.filter((f) => f.eventTime !== gapTime); // that candle never arrives
    const preds = features.slice(-100).flatMap((f) => SPECS.map((s) => distributionPrediction(f, s, [1, 4], HOUR)));

    const ws = await connectWs(wsUrl(g.gateway.url()));
    clients.push(ws);
    ws.send({ op: 'subscribe', channel: 'scores:btcusdt', id: 1 });
    expect(await ws.waitFor((m) => m.type === 'subscribed', 'the scores subscription')).toMatchObject({ channel: 'scores:BTCUSDT', seq: 0, snapshot: [] });

    const key = 'BTCUSDT:1h';
    for (let i = 0; i < features.length; i += 200) {
      await producer.send(
        features.slice(i, i + 200).map((f) => ({ topic: tp.topic('features'), key, value: tp.platform.serde.encode('features', f), timestamp: f.eventTime })),
      );
    }
    await producer.send(preds.map((p) => ({ topic: tp.topic('predictions'), key, value: tp.platform.serde.encode('predictions', p), timestamp: p.eventTime })));
    const registry = await startTrainer();

    // Settled: every forecast is in (the two topics are read interleaved, throttled publishing).
    const keys = redisKeys(tp.config.redis.keyPrefix);
    const want = { persistence1: expected(preds, features, 'persistence', 1), model4: expected(preds, features, 'lstm-attention', 4) };
    const stored = async (field: string): Promise<Score | null> => {
      const text = await tp.redis.hget(keys.scoresLatest('BTCUSDT'), field);
      return text === null ? null : (JSON.parse(text) as Score);
    };
    await waitFor(async () => {
      const [p, m] = [await stored(`1h|persistence|1|${DAY}`), await stored(`1h|lstm-attention|4|${DAY}`)];
      return p?.samples === want.persistence1.n && p.missing === want.persistence1.missing && m?.samples === want.model4.n && m.missing === want.model4.missing;
    }, 'the settled live scores in Redis');
    expect(want.persistence1.missing).toBe(1);
    expect(want.model4.missing).toBe(4);

    const p1 = (await stored(`1h|persistence|1|${DAY}`))!;
    expect(p1.eventTime).toBe(features.at(-1)!.eventTime);
    expect(p1.pinballLoss).toBeCloseTo(want.persistence1.pinball!, 12);
    expect(p1.scaleLoss).toBeCloseTo(want.persistence1.qlike!, 9);
    expect(p1.brierScore).toBeCloseTo(want.persistence1.brier!, 12);
    expect(p1.coverage.map((c) => c.coverage)).toEqual(want.persistence1.coverage.map((c) => c.coverage));
    expect(p1.skillVsPersistence).toBeNull();
    const m4 = (await stored(`1h|lstm-attention|4|${DAY}`))!;
    expect(m4.pinballLoss).toBeCloseTo(want.model4.pinball!, 12);
    const p4 = expected(preds, features, 'persistence', 4);
    const g4 = expected(preds, features, 'garch', 4);
    expect(m4.skillVsPersistence).toBeCloseTo(1 - want.model4.pinball! / p4.pinball!, 9);
    expect(m4.bestBaseline).toBe(g4.pinball! < p4.pinball! ? 'garch' : 'persistence');
    expect(m4.skillVsBestBaseline).toBeCloseTo(1 - want.model4.pinball! / Math.min(g4.pinball!, p4.pinball!), 9);

    // Prometheus shows the same figure.
    const gauge = (await registry.getSingleMetric('bitpredict_monitor_pinball_loss')?.get())?.values ?? [];
    const pg = gauge.find((v) => v.labels.model === 'persistence' && v.labels.horizon === '1' && v.labels.window === '24h' && v.labels.series === key);
    expect(pg?.value).toBeCloseTo(p1.pinballLoss!, 12);

    // The scores topic: Avro records keyed by series, timestamped with their event time.
    const records = await tp.readAll('scores');
    expect(records.length).toBeGreaterThanOrEqual(18);
    expect(records.every((r) => r.key === key && r.value !== null && r.timestamp === r.value.eventTime)).toBe(true);

    // REST: one horizon, every forecaster and window; one model.
    const res = await fetch(`${g.gateway.url()}/v1/scores?symbol=btcusdt&horizon=4`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { symbol: string; horizon: number; scores: Score[] };
    expect(body.scores.map((s) => `${s.modelName}|${s.windowMs / DAY}`).sort()).toEqual(
      ['garch', 'lstm-attention', 'persistence'].flatMap((m) => [1, 7, 30].map((d) => `${m}|${d}`)).sort(),
    );
    expect(body.scores.find((s) => s.modelName === 'lstm-attention' && s.windowMs === DAY)).toEqual(m4);
    const one = await fetch(`${g.gateway.url()}/v1/scores?symbol=BTCUSDT&horizon=1&model=garch`);
    expect(((await one.json()) as { scores: Score[] }).scores.map((s) => s.modelName)).toEqual(['garch', 'garch', 'garch']);

    // WebSocket: live score messages on the channel, and a new subscriber's snapshot is the hash.
    const live = await ws.waitFor((m) => m.type === 'score', 'a live score');
    expect(live).toMatchObject({ channel: 'scores:BTCUSDT', seq: 1 });
    expect((live.data as Score).symbol).toBe('BTCUSDT');
    const late = await connectWs(wsUrl(g.gateway.url()));
    clients.push(late);
    late.send({ op: 'subscribe', channel: 'scores:BTCUSDT' });
    const snap = await late.waitFor((m) => m.type === 'subscribed', 'the scores snapshot');
    expect((snap.snapshot as Score[]).length).toBe(2 * 3 * 3); // 2 horizons x 3 forecasters x 3 windows
    expect(fatal).toEqual([]);
  }, 120_000);

  it("shows the board (every forecaster's latest prediction) on REST and as the predictions snapshot", async () => {
    const candles = await loadCandlesFromFile(DATA_DIR, HOURLY_MERGED, 'BTCUSDT', '1h', { from: Date.UTC(2024, 0, 1), to: Date.UTC(2024, 0, 2) });
    const f = featuresFromCandles(candles, [], { windowMs: 4 * HOUR }).at(-1)!;
    const board = SPECS.map((s) => distributionPrediction({ ...f, symbol: 'BOARD' }, s, [1, 4, 24], HOUR));
    const keys = redisKeys(tp.config.redis.keyPrefix);
    await tp.redis.hset(keys.predictionsBoard('BOARD'), Object.fromEntries(board.map((p) => [`1h|${p.modelName}`, JSON.stringify(p)])));
    await tp.redis.set(keys.predictionsLatest('BOARD'), JSON.stringify(board[2]));
    const res = await fetch(`${g.gateway.url()}/v1/predictions/board?symbol=board`);
    expect(res.status).toBe(200);
    const byName = (ps: Prediction[]) => ps.map((p) => p.modelName);
    expect(byName(((await res.json()) as { predictions: Prediction[] }).predictions)).toEqual(['garch', 'lstm-attention', 'persistence']);
    const ws = await connectWs(wsUrl(g.gateway.url()));
    clients.push(ws);
    ws.send({ op: 'subscribe', channel: 'predictions:BOARD' });
    const sub = await ws.waitFor((m) => m.type === 'subscribed', 'the board snapshot');
    expect(byName(sub.snapshot as Prediction[])).toEqual(['garch', 'lstm-attention', 'persistence']);
    expect((sub.snapshot as Prediction[])[1]).toEqual(board[2]);
  });
});
