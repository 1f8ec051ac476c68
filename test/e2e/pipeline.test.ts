// End to end on the real stack: real Binance hourly candles replayed into market.candles flow
// through the indicator processor and the predictor, and every prediction arrives over a real
// WebSocket at a subscribed client. Every candle yields exactly one feature and, from the second
// candle on (the first has no return yet), one prediction per baseline: the warm-up persistence
// forecast until the series has enough history for the first fit, then persistence, EWMA, HAR-RV
// and GARCH, each with a distribution per horizon, in event-time order; Redis holds the latest
// feature, the headline prediction and the board.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestPlatform, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import type { GatewayService } from '../../gateway/service.js';
import { startServingPipeline } from '../helpers/serving.js';
import { createKeyStore } from '../../gateway/auth/keys.js';
import { runReplay } from '../../producers/replay/service.js';
import { createProducer } from '../../core/kafka/producer.js';
import { redisKeys } from '../../core/redis.js';
import type { Service } from '../../core/service.js';
import type { Prediction } from '../../schemas/types.js';

const N = 560; // past MIN_FIT_STEPS (500): the baselines' first fit happens inside the run

describe.skipIf(!hasSharedData(HOURLY_MERGED))('replay -> features -> predictor -> predictions -> gateway -> WebSocket', () => {
  let tp: TestPlatform;
  let services: Service[] = [];
  let gateway: GatewayService;
  let apiKey = '';
  const fatal: unknown[] = [];

  beforeAll(async () => {
    // Keys on (the default), as deployed; no champion in a fresh test, so baseline predictions are enough to be ready.
    tp = await createTestPlatform('e2e', { BITPREDICT_GATEWAY_READY_WITHOUT_CHAMPION: 'true' });
    apiKey = (await createKeyStore(tp.redis, tp.config.redis.keyPrefix).create('e2e', 'read')).key;
    const onFatal = (e: unknown): void => {
      fatal.push(e);
    };
    ({ gateway, services } = await startServingPipeline(tp, onFatal));
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await tp?.cleanup();
  });

  it("delivers every baseline's forecast of every real candle to a subscribed WebSocket client, in order", async () => {
    const ws = new WebSocket(`${gateway.url().replace(/^http/, 'ws')}/ws`, { headers: { authorization: `Bearer ${apiKey}` } });
    const received: Prediction[] = [];
    const other: unknown[] = [];
    ws.on('message', (data) => {
      const msg = JSON.parse((data as Buffer).toString()) as { type: string; channel?: string; data?: Prediction };
      if (msg.type === 'prediction' && msg.data) received.push(msg.data);
      else other.push(msg);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'predictions:BTCUSDT' }));
    await waitFor(() => other.some((m) => (m as { type: string }).type === 'subscribed'), 'the subscription to be confirmed');

    const producer = await createProducer(tp.platform.kafka);
    const summary = await runReplay({
      platform: tp.platform,
      config: tp.config,
      producer,
      file: HOURLY_MERGED,
      symbol: 'BTCUSDT',
      interval: '1h',
      rate: 0,
      limit: N,
    });
    await producer.close();
    expect(summary.published).toBe(N);
    const lastCandleTime = (await tp.readAll('candles')).at(-1)?.value?.closeTime;
    expect(summary.deadLettered).toBe(0);

    // The last vector's last forecaster (GARCH) closes the run.
    await waitFor(
      () => received.some((p) => p.eventTime === lastCandleTime && p.modelName === 'garch'),
      "the last candle's predictions over the WebSocket",
      60_000,
    );
    ws.close();

    const candles = await tp.readAll('candles');
    const features = await tp.readAll('features');
    const predictions = await tp.readAll('predictions');
    expect(candles).toHaveLength(N);
    expect(features).toHaveLength(N);

    const candleTimes = candles.map((c) => c.value?.closeTime);
    expect(features.map((f) => f.value?.eventTime)).toEqual(candleTimes);
    // From the second candle on, every candle is forecast; each (time, forecaster) once, in order.
    expect([...new Set(predictions.map((p) => p.value?.eventTime))]).toEqual(candleTimes.slice(1));
    const ids = predictions.map((p) => `${p.value?.eventTime}|${p.value?.modelName}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(received.map((p) => `${p.eventTime}|${p.modelName}`)).toEqual(ids);
    const last = predictions.filter((p) => p.value?.eventTime === candleTimes.at(-1)).map((p) => p.value!);
    expect(last.map((p) => p.modelName)).toEqual(['persistence', 'ewma', 'har-rv', 'garch']);
    expect(predictions[0]?.value).toMatchObject({ modelName: 'persistence', modelVersion: 'warmup' });
    for (const p of received) {
      expect(p.symbol).toBe('BTCUSDT');
      expect(p.isBaseline).toBe(true);
      expect(p.targetTime).toBe(p.eventTime + 3_600_000);
      expect(p.horizons.map((h) => h.horizonSteps)).toEqual([1, 4, 24]);
      for (const h of p.horizons) {
        expect(h.scale).toBeGreaterThan(0);
        expect(h.quantiles).toEqual([...h.quantiles].sort((a, b) => a - b));
      }
    }
    // Every record keyed by its series and stamped with its event time.
    expect(new Set([...candles, ...features, ...predictions].map((r) => r.key))).toEqual(new Set(['BTCUSDT:1h']));
    expect(features.map((f) => f.timestamp)).toEqual(candleTimes);

    // The first real candle is 2017-08-17 04:00 UTC (data README 1f).
    expect(candles[0]?.value?.openTime).toBe(Date.UTC(2017, 7, 17, 4));
    const keys = redisKeys(tp.config.redis.keyPrefix);
    const latestFeature = JSON.parse((await tp.redis.get(keys.featuresLatest('BTCUSDT', '1h'))) ?? 'null') as { eventTime: number } | null;
    const latestPrediction = JSON.parse((await tp.redis.get(keys.predictionsLatest('BTCUSDT'))) ?? 'null') as Prediction | null;
    expect(latestFeature?.eventTime).toBe(candleTimes.at(-1));
    expect(latestPrediction).toMatchObject({ eventTime: candleTimes.at(-1), modelName: 'har-rv' });
    const board = await tp.redis.hgetall(keys.predictionsBoard('BTCUSDT'));
    expect(Object.keys(board).sort()).toEqual(['1h|ewma', '1h|garch', '1h|har-rv', '1h|persistence']);
    expect(fatal).toEqual([]);
  });

  it('sends the latest prediction as a snapshot to a new subscriber', async () => {
    const ws = new WebSocket(`${gateway.url().replace(/^http/, 'ws')}/ws`, { headers: { authorization: `Bearer ${apiKey}` } });
    const messages: { type: string; snapshot?: Prediction[] }[] = [];
    ws.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString()) as { type: string }));
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    ws.send(JSON.stringify({ op: 'subscribe', channel: 'predictions:btcusdt' }));
    await waitFor(() => messages.some((m) => m.type === 'subscribed'), 'subscribed');
    const sub = messages.find((m) => m.type === 'subscribed');
    expect(sub?.snapshot?.[0]?.symbol).toBe('BTCUSDT');
    ws.close();
    const res = await fetch(`${gateway.url()}/readyz`);
    expect(res.status).toBe(200);
    const metrics = await (await fetch(`${gateway.url()}/metrics`)).text();
    expect(metrics).toMatch(/bitpredict_gateway_ws_messages_sent_total/);
    expect(metrics).toMatch(/bitpredict_predictor_predictions_total/);
  });
});
