// `npm run bench -- capacity`: the memory a symbol costs each stateful stage, and the CPU a candle
// costs the feature engine, for docs/scaling.md's capacity model. No stack needed: it runs the
// live code in this process.
//
// Per symbol (series), measured as the heap after GC with N series held minus the heap before:
// - features: one indicator engine (core/features/indicators.ts) fed 300 one-minute candles, the
//   state the feature processor keeps per series (its snapshot goes to Redis, the engine stays in
//   memory);
// - predictor: one window of MIN_WINDOW_KEEP (48) joined feature vectors (core/features/join.ts),
//   the state the predictor keeps per series (processors/predictor/series.ts);
// - predictor baselines: the persistence/EWMA/HAR-RV/GARCH state of a series after the baseline
//   window plus a day of 1-minute vectors (BENCH_BASELINE_SERIES series, default 200), and the
//   CPU of the refit every series does at each UTC midnight of event time (mean ms per refit);
// - baseline (the floor the ratio is against): the same 48 vectors as one Float64Array of their
//   numeric fields, i.e. what the window would cost packed.
// - Redis (the feature store's histories, what the feature processor writes per series): MEMORY
//   USAGE of one series' feature-vector and candle histories after 1,000 entries each, written
//   through the real writer (core/feature-store.ts) into the Redis the config names, scaled to the
//   default bounds (BITPREDICT_FEATURES_HISTORY_MAX, BITPREDICT_FEATURES_CANDLE_HISTORY_MAX), and
//   the predictor's prediction history (1,000 members: the champion and the four headline
//   baselines per vector, the default 1-minute horizons) scaled to BITPREDICT_GATEWAY_HISTORY_MAX.
// And the feature engine's CPU per candle (update + join, µs) beside a baseline loop that only
// copies the candle's numbers into a Float64Array, in the same process.
// Last stdout line: {bench, series, features_kb_per_series, predictor_kb_per_series,
// packed_kb_per_series, baselines_kb_per_series, baseline_refit_ms, ratio (predictor / packed), redis_bytes_per_feature,
// redis_bytes_per_candle, redis_bytes_per_prediction, redis_mb_per_series_at_defaults, engine_us_per_candle,
// baseline_us_per_candle, cpu_ratio}.
import v8 from 'node:v8';
import vm from 'node:vm';
import { createIndicatorEngine, type IndicatorEngine } from '../core/features/indicators.js';
import { joinFeature } from '../core/features/join.js';
import type { Candle, FeatureVector } from '../schemas/types.js';
import { MIN_WINDOW_KEEP } from '../processors/predictor/service.js';
import avro from 'avsc';
import { loadSchema } from '../schemas/index.js';
import { createFeatureStoreWriter } from '../core/feature-store.js';
import { createRedis, redisKeys } from '../core/redis.js';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { createPredictionStore } from '../processors/predictor/store.js';
import { HEADLINE_BASELINES, toPrediction } from '../processors/predictor/forecasts.js';
import { gaussianShape, locationScale } from '../core/forecast/distribution.js';
import { createSeriesBaselines } from '../processors/predictor/baselines.js';
import { parseHorizons } from '../core/forecast/horizons.js';
import { progress } from './common.js';

const MINUTE = 60_000;
const WARM_CANDLES = 300;

/** `global.gc`, also without --expose-gc (the flag can still be set at run time, as ws-fanout does). */
const gcFn: () => void = (() => {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  v8.setFlagsFromString('--expose-gc');
  const g = vm.runInNewContext('gc') as unknown;
  if (typeof g !== 'function') throw new Error('the capacity bench needs gc(): run node with --expose-gc');
  return g as () => void;
})();

function gc(): void {
  for (let i = 0; i < 4; i++) gcFn();
}

const heapUsed = (): number => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
};

function candleAt(symbol: string, i: number, price: number): Candle {
  const openTime = Date.UTC(2026, 0, 1) + i * MINUTE;
  return {
    symbol,
    interval: '1m',
    exchange: 'binance',
    openTime,
    closeTime: openTime + MINUTE,
    open: price,
    high: price * 1.001,
    low: price * 0.999,
    close: price * (1 + ((i % 7) - 3) / 10_000),
    volume: 10 + (i % 13),
    quoteVolume: null,
    tradeCount: null,
    source: 'bench',
    ingestedAt: openTime + MINUTE,
  };
}

const NO_TEXT = {
  textCount: 0,
  vaderMean: null,
  vaderStd: null,
  vaderPosShare: null,
  vaderNegShare: null,
  finbertCount: 0,
  finbertMean: null,
};

/** Feeds `n` candles to an engine; returns the joined vectors of the last `keep`. */
function feed(engine: IndicatorEngine, symbol: string, n: number, keep: number): FeatureVector[] {
  const out: FeatureVector[] = [];
  let price = 100 + (symbol.length % 10);
  for (let i = 0; i < n; i++) {
    const c = candleAt(symbol, i, price);
    price = c.close;
    const u = engine.update(c, c.closeTime);
    if (u.kind !== 'feature') throw new Error(`unexpected ${u.kind} at candle ${i}`);
    if (i >= n - keep) out.push(joinFeature(u.feature, 3_600_000, NO_TEXT, null));
  }
  return out;
}

function numericFields(f: FeatureVector): number {
  return Object.values(f).filter((v) => typeof v === 'number' || v === null).length;
}

export async function run(): Promise<Record<string, unknown>> {
  const series = Number(process.env.BENCH_SERIES ?? 2_000);
  if (!Number.isInteger(series) || series < 10) throw new Error(`BENCH_SERIES must be an integer >= 10, got ${process.env.BENCH_SERIES}`);
  const symbols = Array.from({ length: series }, (_, i) => `S${i.toString(36).toUpperCase().padStart(5, '0')}USDT`);

  // Features: the engines alone (their outputs are dropped).
  progress(`features: ${series} engines x ${WARM_CANDLES} candles`);
  let before = heapUsed();
  const engines = new Map<string, IndicatorEngine>();
  for (const s of symbols) {
    const e = createIndicatorEngine();
    feed(e, s, WARM_CANDLES, 0);
    engines.set(s, e);
  }
  const featuresBytes = (heapUsed() - before) / series;

  // Predictor: a window of MIN_WINDOW_KEEP joined vectors per series.
  progress(`predictor: ${series} windows of ${MIN_WINDOW_KEEP} vectors`);
  const sample = feed(createIndicatorEngine(), 'SAMPLEUSDT', WARM_CANDLES, MIN_WINDOW_KEEP);
  const fields = numericFields(sample[0] as FeatureVector);
  engines.clear();
  before = heapUsed();
  const windows = new Map<string, FeatureVector[]>();
  for (const s of symbols)
    windows.set(
      s,
      sample.map((f) => ({ ...f, symbol: s })),
    );
  const predictorBytes = (heapUsed() - before) / series;
  windows.clear();

  // Predictor baselines: the live persistence/EWMA/HAR-RV/GARCH state of a series after the
  // window plus one day of 1-minute vectors (what seed() restores after a start), fitted.
  const baselineSeries = Number(process.env.BENCH_BASELINE_SERIES ?? 200);
  const config = loadConfig(process.env);
  const baselineWindow = config.forecast.baselineWindow;
  const steps = baselineWindow + 1_440;
  progress(`baselines: ${baselineSeries} series x ${steps} one-minute vectors (window ${baselineWindow} + a day), fitted at each midnight`);
  const long = feed(createIndicatorEngine(), 'LONGUSDT', steps, steps);
  before = heapUsed();
  const bank = createSeriesBaselines({
    horizons: parseHorizons(config.forecast.horizons),
    window: baselineWindow,
    historyBefore: async () => [],
  });
  // The refit at each UTC midnight of event time is the expensive call: time the calls that cross a
  // midnight (after the first MIN_FIT_STEPS) apart from the rest.
  const midnightIdx = new Set<number>();
  for (let i = 1; i < long.length; i++) {
    const day = (f: FeatureVector | undefined): number => Math.floor((f?.openTime ?? 0) / 86_400_000);
    if (day(long[i]) !== day(long[i - 1])) midnightIdx.add(i);
  }
  let fitNs = 0n;
  let fits = 0;
  for (let k = 0; k < baselineSeries; k++) {
    const symbol = symbols[k] ?? `B${k}USDT`;
    await bank.seed({ ...(long[0] as FeatureVector), symbol });
    for (let i = 0; i < long.length; i++) {
      const f = { ...(long[i] as FeatureVector), symbol };
      if (midnightIdx.has(i) && i >= 500) {
        const t0 = process.hrtime.bigint();
        bank.forecast(f);
        fitNs += process.hrtime.bigint() - t0;
        fits++;
      } else bank.forecast(f);
    }
  }
  const baselineBytes = (heapUsed() - before) / baselineSeries;
  const refitMs = fits === 0 ? null : Number(fitNs / BigInt(fits)) / 1e6;
  if (bank.size !== baselineSeries) throw new Error(`baselines hold ${bank.size} series, expected ${baselineSeries}`);

  before = heapUsed();
  const packed = new Map<string, Float64Array>();
  for (const s of symbols) packed.set(s, new Float64Array(MIN_WINDOW_KEEP * fields));
  const packedBytes = (heapUsed() - before) / series;
  packed.clear();

  // Redis: one series' histories through the real writer, 1,000 entries each.
  const redis = await createRedis({ config: config.redis, logger: createLogger({ level: 'warn', name: 'bench-capacity', destination: process.stderr }) });
  const prefix = `bp:bench:capacity:${Date.now().toString(36)}:`;
  const entries = 1_000;
  progress(`redis: ${entries} feature vectors and candles of one series into ${prefix}*`);
  const featureType = avro.Type.forSchema(loadSchema('features') as avro.Schema);
  const writer = createFeatureStoreWriter(redis, prefix, { features: entries, candles: entries });
  const engine1 = createIndicatorEngine();
  let price = 100;
  for (let i = 0; i < entries; i++) {
    const c = candleAt('REDISUSDT', i, price);
    price = c.close;
    const u = engine1.update(c, c.closeTime);
    if (u.kind !== 'feature') throw new Error(`unexpected ${u.kind}`);
    const f = joinFeature(u.feature, 3_600_000, NO_TEXT, null);
    // The Confluent frame (magic byte, 4-byte schema id) around the Avro body, as in the topic.
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), featureType.toBuffer(f)]);
    writer.add(f, framed, c);
    if (writer.pending >= 200) await writer.flush();
  }
  await writer.flush();
  // The predictor's history of the same series: one member per forecaster (the champion and the
  // four headline baselines) per vector, 1-minute horizons 1 and 15 (the default), 1,000 members.
  const predStore = createPredictionStore(redis, prefix, entries);
  const shape = gaussianShape();
  const forecasters = ['lstm-attention', ...HEADLINE_BASELINES];
  const engine2 = createIndicatorEngine();
  price = 100;
  for (let i = 0; i < entries / forecasters.length; i++) {
    const c = candleAt('REDISUSDT', i, price);
    price = c.close;
    const u = engine2.update(c, c.closeTime);
    if (u.kind !== 'feature') throw new Error(`unexpected ${u.kind}`);
    const f = joinFeature(u.feature, 3_600_000, NO_TEXT, null);
    const ps = forecasters.map((name, k) =>
      toPrediction(
        f,
        MINUTE,
        {
          name,
          version: k === 0 ? '20261207T000000Z' : '1',
          isBaseline: k > 0,
          horizons: [1, 15],
          distributions: [1, 15].map((h) => locationScale(0.0001 * h, 0.001 * Math.sqrt(h), shape)),
        },
        f.computedAt,
      ),
    );
    predStore.queue(ps, ps[0] as (typeof ps)[number]);
    if (predStore.pending >= 50) await predStore.flush();
  }
  await predStore.flush();
  const keys = redisKeys(prefix);
  const usage = async (key: string): Promise<number> => Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  const featureHistBytes = await usage(keys.featuresHistory('REDISUSDT', '1m'));
  const candleHistBytes = await usage(keys.candlesHistory('REDISUSDT', '1m'));
  const predHistBytes = await usage(keys.predictionsHistory('REDISUSDT'));
  const stray = await redis.keys(`${prefix}*`);
  if (stray.length > 0) await redis.del(...stray);
  await redis.quit();
  if (!(featureHistBytes > 0 && candleHistBytes > 0)) throw new Error(`MEMORY USAGE returned ${featureHistBytes} / ${candleHistBytes}`);
  const perFeature = featureHistBytes / entries;
  const perCandle = candleHistBytes / entries;
  const perPrediction = predHistBytes / entries;
  const redisPerSeriesAtDefaults =
    perFeature * config.features.historyMax + perCandle * config.features.candleHistoryMax + perPrediction * config.predictions.historyMax;

  // CPU per candle: engine update + join, against copying the candle's numbers.
  const cpuCandles = 200_000;
  progress(`cpu: ${cpuCandles} candles through one engine, then the copy baseline`);
  const candles = Array.from({ length: cpuCandles }, (_, i) => candleAt('CPUUSDT', i, 100 + (i % 50) / 10));
  const timeEngine = (): number => {
    const e = createIndicatorEngine();
    const t0 = process.hrtime.bigint();
    let sink = 0;
    for (const c of candles) {
      const u = e.update(c, c.closeTime);
      if (u.kind === 'feature') sink += joinFeature(u.feature, 3_600_000, NO_TEXT, null).eventTime;
    }
    if (sink === 0) throw new Error('no features');
    return Number(process.hrtime.bigint() - t0) / 1_000 / cpuCandles;
  };
  const buf = new Float64Array(8);
  const timeBaseline = (): number => {
    const t0 = process.hrtime.bigint();
    let sink = 0;
    for (const c of candles) {
      buf[0] = c.open;
      buf[1] = c.high;
      buf[2] = c.low;
      buf[3] = c.close;
      buf[4] = c.volume;
      buf[5] = c.openTime;
      buf[6] = c.closeTime;
      buf[7] = c.ingestedAt;
      sink += buf[3] ?? 0;
    }
    if (sink === 0) throw new Error('no candles');
    return Number(process.hrtime.bigint() - t0) / 1_000 / cpuCandles;
  };
  const engineUs: number[] = [];
  const baseUs: number[] = [];
  for (let round = 0; round < 3; round++) {
    baseUs.push(timeBaseline());
    engineUs.push(timeEngine());
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const kb = (b: number): number => Math.round((b / 1024) * 100) / 100;
  const engine = median(engineUs);
  const baseline = median(baseUs);
  return {
    series,
    features_kb_per_series: kb(featuresBytes),
    predictor_kb_per_series: kb(predictorBytes),
    packed_kb_per_series: kb(packedBytes),
    baselines_kb_per_series: kb(baselineBytes),
    baseline_refit_ms: refitMs === null ? null : Math.round(refitMs * 100) / 100,
    ratio: Math.round((predictorBytes / packedBytes) * 100) / 100,
    redis_bytes_per_feature: Math.round(perFeature),
    redis_bytes_per_candle: Math.round(perCandle),
    redis_bytes_per_prediction: Math.round(perPrediction),
    feature_history_max: config.features.historyMax,
    prediction_history_max: config.predictions.historyMax,
    candle_history_max: config.features.candleHistoryMax,
    redis_mb_per_series_at_defaults: Math.round((redisPerSeriesAtDefaults / 1024 / 1024) * 100) / 100,
    engine_us_per_candle: Math.round(engine * 100) / 100,
    baseline_us_per_candle: Math.round(baseline * 1000) / 1000,
    cpu_ratio: Math.round((engine / baseline) * 10) / 10,
  };
}
