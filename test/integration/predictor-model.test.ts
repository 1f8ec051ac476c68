// The live predictor with a trained champion on the real stack: a tiny LSTM-attention model
// (trained here on real 2024 hourly candles, T=8, 4 units, 1 epoch, cpu) is announced on the
// models topic while features stream in; predictions switch from the baseline to the model with
// none dropped or duplicated; a corrupt or incompatible artifact is refused and the champion keeps
// serving; after a restart the first prediction already uses the window rebuilt from Redis; an
// expired champion is not used (baseline, readiness says so) and an expired announcement is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, waitFor, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { createFeatureStoreWriter } from '../../core/feature-store.js';
import { createPredictor, createPredictorHandler } from '../../processors/predictor/service.js';
import { createModelServer } from '../../processors/predictor/model-server.js';
import { buildModel } from '../../core/models/model.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import type { InRecord } from '../../core/kafka/consumer.js';
import { loadCandlesFromFile } from '../../core/data/load.js';
import { featuresFromCandles } from '../../core/features/batch.js';
import { buildWindows, FEATURE_NAMES, fitNormalizer, lastWindow, type Normalizer } from '../../core/models/domain/dataset.js';
import { loadTf, type TfModule } from '../../core/models/tf.js';
import { trainModel } from '../../trainer/model/train.js';
import { gaussianForecastBlock } from '../../core/models/head.js';
import { createFastPredictor, type FastPredictor } from '../../core/models/fast.js';
import { artifactDir, saveArtifact, type ArtifactMeta } from '../../core/models/artifact.js';
import { announce } from '../../core/models/registry.js';
import type { Service } from '../../core/service.js';
import type { FeatureVector, Prediction } from '../../schemas/types.js';
import { modelSigningFromConfig } from '../../core/models/signing.js';

const T = 8;
const NAME = 'lstm-attention';
const FROM = Date.UTC(2024, 2, 1);
const MIN = 60_000;

describe.skipIf(!hasSharedData(HOURLY_MERGED))('predictor: champion model, hot swap, refusals, restart, expiry', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let store: string;
  let tf: TfModule;
  let model: LayersModel;
  let fast: FastPredictor;
  let normalizer: Normalizer;
  let features: FeatureVector[];
  let sent = 0; // features[0..sent) are in Redis and in the topic
  let clockOffset = 0;
  const now = (): number => Date.now() + clockOffset;
  const running: Service[] = [];
  const fatal: unknown[] = [];
  const groupId = 'predictor-model-it';
  let live = 0; // index of the first feature sent to the topic

  function meta(version: string, over: Partial<ArtifactMeta> = {}): ArtifactMeta {
    return {
      name: NAME,
      version,
      featureSetVersion: 'fs-2',
      featureColumns: [...FEATURE_NAMES],
      normalizer,
      T,
      F: FEATURE_NAMES.length,
      forecast: gaussianForecastBlock([1]),
      trainedFrom: FROM,
      trainedTo: features[live - 1]?.eventTime ?? FROM,
      metrics: { valMse: 1 },
      backend: 'cpu',
      codeVersion: 'test',
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 30 * 24 * 60 * MIN).toISOString(),
      seed: 1,
      hyperparameters: { units: 4 },
      ...over,
    };
  }

  async function publish(version: string, over: Partial<ArtifactMeta> = {}): Promise<string> {
    const m = meta(version, over);
    const dir = await saveArtifact(tf, model, m, store);
    return dir;
  }

  /** Writes features[sent..sent+n) to the Redis history (as the feature processor does) and the topic. */
  async function send(n: number): Promise<void> {
    const writer = createFeatureStoreWriter(tp.redis, tp.config.redis.keyPrefix, { features: 1000, candles: 1000 });
    const batch = features.slice(sent, sent + n);
    const out = batch.map((f) => {
      const value = tp.platform.serde.encode('features', f);
      writer.add(f, value);
      return { topic: tp.topic('features'), key: `${f.symbol}:${f.interval}`, value, timestamp: f.eventTime };
    });
    await writer.flush();
    if (out.length > 0) await producer.send(out);
    sent += batch.length;
  }

  async function startPredictor(): Promise<Service> {
    const p = await createPredictor({ platform: tp.platform, config: tp.config, redis: tp.redis, groupId, onFatal: (e) => fatal.push(e), now });
    await p.start();
    running.push(p);
    await waitFor(() => p.readiness().ready, 'the predictor to be ready');
    return p;
  }

  /** Predictions grouped by vector (event time), in order; every vector carries every forecaster once. */
  function byVector(all: Prediction[]): Prediction[][] {
    const groups = new Map<number, Prediction[]>();
    for (const p of all) groups.set(p.eventTime, [...(groups.get(p.eventTime) ?? []), p]);
    return [...groups.values()];
  }

  /**
   * The predictions of the first `count` vectors of the topic, one per vector: the champion's when
   * it forecast the vector, else persistence's. Every vector also carries the baselines (whatever
   * the champion is), each forecaster once.
   */
  async function predictions(count: number): Promise<Prediction[]> {
    let all: Prediction[] = [];
    const read = async (): Promise<Prediction[]> => (await tp.readAll('predictions')).map((r) => r.value as Prediction);
    await waitFor(
      async () => {
        all = await read();
        return byVector(all).length >= count;
      },
      `predictions of ${count} vectors`,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const groups = byVector(await read());
    expect(groups).toHaveLength(count);
    return groups.map((g) => {
      const names = g.map((p) => p.modelName);
      expect(new Set(names).size, `one prediction per forecaster at ${g[0]?.eventTime}`).toBe(names.length);
      expect(names).toContain('persistence');
      return g.find((p) => !p.isBaseline) ?? (g.find((p) => p.modelName === 'persistence') as Prediction);
    });
  }

  /** What the model predicts for features[i] from the window of the T vectors ending there. */
  function expected(i: number): { ret: number; probUp: number } {
    const x = lastWindow(features.slice(0, i + 1), T, normalizer);
    expect(x, `window at ${i}`).not.toBeNull();
    return fast.predictOne(x as Float32Array);
  }

  function indexOf(p: Prediction): number {
    return features.findIndex((f) => f.eventTime === p.eventTime);
  }

  function expectModel(p: Prediction, version: string): void {
    const i = indexOf(p);
    expect(p, `prediction at ${i}`).toMatchObject({ isBaseline: false, modelName: NAME, modelVersion: version });
    const e = expected(i);
    expect(p.predictedLogReturn).toBeCloseTo(e.ret, 9);
    expect(p.probUp).toBeCloseTo(e.probUp, 9);
    expect(p.predictedPrice).toBeCloseTo((features[i] as FeatureVector).close * Math.exp(e.ret), 6);
    // The record carries the champion's distribution per horizon of its forecast block.
    expect(p.horizons.map((h) => h.horizonSteps)).toEqual([...fast.horizons]);
    expect(p.horizons[0]?.mean).toBeCloseTo(e.ret, 9);
    expect(p.horizons[0]?.quantiles).toHaveLength(p.quantileLevels.length);
  }

  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = await tp.platform.registry.getSingleMetric(name)?.get();
    return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x)).reduce((a, v) => a + v.value, 0);
  }

  beforeAll(async () => {
    store = mkdtempSync(join(tmpdir(), 'bp-predictor-model-'));
    tp = await createTestPlatform('predmodel', { BITPREDICT_MODEL_STORE_DIR: store });
    producer = await createProducer(tp.platform.kafka);
    tf = (await loadTf('cpu')).tf;
    const candles = await loadCandlesFromFile(DATA_DIR, HOURLY_MERGED, 'BTCUSDT', '1h', { from: FROM, limit: 640 });
    features = featuresFromCandles(candles, [], { windowMs: tp.config.features.sentimentWindowMs });
    live = 460;
    const cut = (features[live] as FeatureVector).eventTime;
    normalizer = fitNormalizer(features, { from: FROM, to: cut });
    const train = buildWindows(features, { T, normalizer, to: cut });
    expect(train.n).toBeGreaterThan(300);
    model = (await trainModel(tf, train, null, { epochs: 1, batchSize: 64, learningRate: 2e-3, seed: 1, units: 4 })).model;
    fast = createFastPredictor(model, gaussianForecastBlock([1]));
    await publish('v1');
    // The history before the live stream is in Redis only (as if the predictor had seen it before).
    sent = 0;
    const writer = createFeatureStoreWriter(tp.redis, tp.config.redis.keyPrefix, { features: 1000, candles: 1000 });
    for (const f of features.slice(0, live)) writer.add(f, tp.platform.serde.encode('features', f));
    await writer.flush();
    sent = live;
  }, 180_000);

  afterAll(async () => {
    while (running.length > 0) await running.pop()?.stop();
    model?.dispose();
    await producer?.close();
    rmSync(store, { recursive: true, force: true });
    await tp?.cleanup();
  });

  it('switches from the baseline to the announced model under a steady stream, none dropped or duplicated', async () => {
    const p = await startPredictor();
    expect(p.readiness().checks.model).toBe('baselines only (no champion)');
    const total = 100;
    for (let k = 0; k < total; k += 5) {
      await send(5);
      if (k === 30) await announce(tp.platform, meta('v1'), store, tp.config.models.artifactChunkBytes, modelSigningFromConfig(tp.config.models));
      await new Promise((r) => setTimeout(r, 40));
    }
    const got = await predictions(total);
    const times = got.map((x) => x.eventTime);
    expect(new Set(times).size).toBe(total);
    expect(times).toEqual(features.slice(live, live + total).map((f) => f.eventTime));
    const firstModel = got.findIndex((x) => !x.isBaseline);
    expect(firstModel).toBeGreaterThan(0); // the stream started on the baseline
    expect(got.slice(0, firstModel).every((x) => x.isBaseline && x.modelName === 'persistence')).toBe(true);
    for (const x of got.slice(firstModel)) expectModel(x, 'v1');
    expect(p.readiness().checks.model).toBe(`${NAME}@v1`);
    expect(await metric('bitpredict_predictor_model_expires_in_seconds')).toBeGreaterThan(29 * 24 * 3600);
    expect(fatal).toEqual([]);
  }, 120_000);

  it('refuses a corrupt and an incompatible artifact and keeps the champion serving', async () => {
    const p = running[0] as Service;
    const dir = await publish('v2');
    truncateSync(join(dir, 'weights.bin'), 100);
    await announce(tp.platform, meta('v2'), store, tp.config.models.artifactChunkBytes, modelSigningFromConfig(tp.config.models));
    await waitFor(
      async () => (await metric('bitpredict_predictor_model_load_failures_total', { reason: 'corrupt' })) >= 1,
      'the corrupt artifact to be refused',
    );
    expect(p.readiness().checks.modelRefused).toMatch(/v2.*weights\.bin.*bytes/);
    await publish('v3', { featureSetVersion: 'fs-0' });
    await announce(
      tp.platform,
      meta('v3', { featureSetVersion: 'fs-0' }),
      store,
      tp.config.models.artifactChunkBytes,
      modelSigningFromConfig(tp.config.models),
    );
    await waitFor(
      async () => (await metric('bitpredict_predictor_model_load_failures_total', { reason: 'incompatible' })) >= 1,
      'the incompatible artifact to be refused',
    );
    expect(p.readiness().checks.modelRefused).toMatch(/featureSetVersion is "fs-0"/);
    expect(p.readiness().checks.model).toBe(`${NAME}@v1`);
    await send(10);
    const got = await predictions(110);
    for (const x of got.slice(100)) expectModel(x, 'v1');
  }, 120_000);

  it('after a restart, the first prediction of the series already uses the window rebuilt from Redis', async () => {
    while (running.length > 0) await running.pop()?.stop();
    await send(10); // arrives while the predictor is down
    const p = await startPredictor();
    // The follower read v1, then refused v2 and v3: v1 serves from the first record on.
    expect(p.readiness().checks.model).toBe(`${NAME}@v1`);
    const got = await predictions(120);
    expect(new Set(got.map((x) => x.eventTime)).size).toBe(120);
    // Without the rebuild the first T-1 records after the restart would fall back to the baseline.
    for (const x of got.slice(110)) expectModel(x, 'v1');
    expect(indexOf(got[110] as Prediction)).toBe(live + 110);
  }, 120_000);

  it('does not use an expired champion (baseline, readiness says so) and refuses an expired announcement', async () => {
    const p = running[0] as Service;
    const expiresAt = new Date(Date.now() + 10 * MIN).toISOString();
    await publish('v4', { expiresAt });
    await announce(tp.platform, meta('v4', { expiresAt }), store, tp.config.models.artifactChunkBytes, modelSigningFromConfig(tp.config.models));
    await waitFor(() => p.readiness().checks.model === `${NAME}@v4`, 'v4 to serve');
    await send(5);
    let got = await predictions(125);
    for (const x of got.slice(120)) expectModel(x, 'v4');

    clockOffset = 20 * MIN; // v4 is now past its expiry
    expect(p.readiness().checks.model).toBe('expired v4');
    expect(await metric('bitpredict_predictor_model_expires_in_seconds')).toBeLessThan(0);
    await send(5);
    got = await predictions(130);
    for (const x of got.slice(125)) expect(x).toMatchObject({ isBaseline: true, modelName: 'persistence' });
    expect(await metric('bitpredict_predictor_baseline_fallbacks_total', { reason: 'expired' })).toBe(5);

    const stale = new Date(Date.now() + 5 * MIN).toISOString(); // before now() = Date.now() + 20 min
    await publish('v5', { expiresAt: stale });
    await announce(tp.platform, meta('v5', { expiresAt: stale }), store, tp.config.models.artifactChunkBytes, modelSigningFromConfig(tp.config.models));
    await waitFor(
      async () => (await metric('bitpredict_predictor_model_load_failures_total', { reason: 'expired' })) >= 1,
      'the expired announcement to be refused',
    );
    expect(p.readiness().checks.modelRefused).toMatch(/v5 expired/);
    expect(p.readiness().checks.model).toBe('expired v4');
    expect(fatal).toEqual([]);
  }, 120_000);
  it('batched inference (prepareBatch) gives bitwise the predictions of the record-by-record path, and a hot swap mid-chunk gives each record one prediction from one model', async () => {
    // The handler driven directly, as the consumer runner does (chunks of 200, prepareBatch first),
    // over a replay of real features whose history is in Redis, with a clock fixed at one instant.
    const from = 120;
    const to = live; // 340 records; their history (and the rebuild of the first window) is in Redis
    const at = Date.now();
    const records: InRecord[] = features.slice(from, to).map((f, i) => ({
      topic: tp.topic('features'),
      partition: 0,
      offset: String(1000 + i),
      key: null,
      value: tp.platform.serde.encode('features', f),
      timestamp: f.eventTime,
      headers: {},
    }));
    const ctx = { heartbeat: async (): Promise<void> => undefined };
    const logger = tp.platform.logger.child({ test: 'batched' });
    function makeHandler() {
      const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
      const server = createModelServer({ registry, logger, now: () => at, signing: modelSigningFromConfig(tp.config.models) });
      const h = createPredictorHandler({
        platform: { ...tp.platform, registry },
        config: tp.config,
        redis: tp.redis,
        now: () => at,
        server,
      });
      const batchedTotal = async (): Promise<number> => (await registry.getSingleMetric('bitpredict_predictor_batched_total')?.get())?.values[0]?.value ?? 0;
      return { h, server, batchedTotal };
    }
    async function handle(h: ReturnType<typeof makeHandler>['h'], rec: InRecord): Promise<Prediction[]> {
      const out = (await h.handler(rec, ctx)) ?? [];
      return Promise.all(out.map(async (o) => tp.platform.serde.decode('predictions', o.value as Buffer)));
    }
    const v1Dir = artifactDir(store, NAME, 'v1');

    // Record by record, no prepareBatch: today's path.
    const single = makeHandler();
    expect(await single.server.loadDir(v1Dir, 'test v1')).toBe(true);
    const plain: Prediction[] = [];
    for (const rec of records) plain.push(...(await handle(single.h, rec)));
    expect(await single.batchedTotal()).toBe(0);
    expect(byVector(plain)).toHaveLength(records.length);
    expect(plain.filter((x) => x.isBaseline && x.modelName === 'persistence')).toHaveLength(records.length);
    /** The predictions of the first k records. */
    const upTo = (ps: Prediction[], k: number): Prediction[] => ps.filter((p) => indexOf(p) < from + k);
    const byModel = plain.filter((x) => !x.isBaseline);
    expect(byModel.length).toBeGreaterThan(records.length - 10);
    for (const x of byModel) expectModel(x, 'v1');

    // Batched: identical outputs, field by field (numbers bitwise), and most came from the batch.
    const withBatch = makeHandler();
    expect(await withBatch.server.loadDir(v1Dir, 'test v1')).toBe(true);
    const batched: Prediction[] = [];
    for (let i = 0; i < records.length; i += 200) {
      const chunk = records.slice(i, i + 200);
      await withBatch.h.prepareBatch(chunk);
      expect(withBatch.h.prepared.size).toBeGreaterThan(chunk.length - 10);
      for (const rec of chunk) batched.push(...(await handle(withBatch.h, rec)));
    }
    expect(batched).toEqual(plain);
    expect(await withBatch.batchedTotal()).toBe(byModel.length);

    // A redelivered record inside a chunk: skipped by both, and the windows after it still match.
    const dup = makeHandler();
    expect(await dup.server.loadDir(v1Dir, 'test v1')).toBe(true);
    const withDup = [...records.slice(0, 60), { ...(records[59] as InRecord), offset: '5000' }, ...records.slice(60, 120)];
    await dup.h.prepareBatch(withDup);
    const dupOut: Prediction[] = [];
    for (const rec of withDup) dupOut.push(...(await handle(dup.h, rec)));
    expect(dupOut).toEqual(upTo(plain, 120));
    expect(await dup.batchedTotal()).toBe(upTo(plain, 120).filter((x) => !x.isBaseline).length);

    // Hot swap halfway through a prepared chunk: before it, v1 (from the batch); after it, v2
    // predicted singly (the prepared v1 results are not used); one prediction per record.
    const v2Model = buildModel(tf, { T, F: FEATURE_NAMES.length, units: 4, attentionUnits: 4, seed: 7 });
    const v2Fast = createFastPredictor(v2Model, gaussianForecastBlock([1]));
    const v2Dir = await saveArtifact(tf, v2Model, meta('v2-swap'), store);
    v2Model.dispose();
    const swap = makeHandler();
    expect(await swap.server.loadDir(v1Dir, 'test v1')).toBe(true);
    const chunk = records.slice(0, 200);
    await swap.h.prepareBatch(chunk);
    const swapped: Prediction[] = [];
    for (const [k, rec] of chunk.entries()) {
      if (k === 100) expect(await swap.server.loadDir(v2Dir, 'test v2')).toBe(true);
      swapped.push(...(await handle(swap.h, rec)));
    }
    expect(byVector(swapped).map((g) => g[0]?.eventTime)).toEqual(features.slice(from, from + 200).map((f) => f.eventTime));
    expect(upTo(swapped, 100)).toEqual(upTo(plain, 100));
    const firstV1 = upTo(plain, 100).filter((x) => !x.isBaseline).length;
    expect(await swap.batchedTotal()).toBe(firstV1);
    const afterSwap = swapped.filter((x) => indexOf(x) >= from + 100 && !x.isBaseline);
    expect(afterSwap).toHaveLength(100);
    for (const x of afterSwap) {
      expect(x).toMatchObject({ isBaseline: false, modelVersion: 'v2-swap' });
      const win = lastWindow(features.slice(0, indexOf(x) + 1), T, normalizer) as Float32Array;
      const e = v2Fast.predictOne(win);
      expect(x.predictedLogReturn).toBe(e.ret);
      expect(x.probUp).toBe(e.probUp);
      expect(x.probUp).not.toBe(plain.find((p) => p.eventTime === x.eventTime && !p.isBaseline)?.probUp); // v2 really differs from v1
    }
  }, 120_000);
});
