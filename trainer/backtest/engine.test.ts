// The backtest engine over real hourly candles of 2024 (read in place from ../shared/data) and
// real tweets (re-timed into the range: the text files hold no 2024 texts), shaped as
// BacktestEvents the way the sources hand them over. No Kafka: the engine is pure over its events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Candle, FeatureVector, ScoredText } from '../../schemas/types.js';
import { isBitPredictError } from '../../core/errors.js';
import { FEATURE_SET_VERSION } from '../../core/features/indicators.js';
import { loadCandlesFromFile, loadTextsFromFile } from '../../core/data/load.js';
import { featuresFromCandles, seriesOf } from '../../core/features/batch.js';
import { FEATURE_NAMES, fitNormalizer, lastWindow, type Normalizer } from '../../core/models/domain/dataset.js';
import { createEmaDriftBaseline } from '../../core/models/domain/baseline.js';
import { loadTf } from '../../core/models/tf.js';
import { buildModel } from '../../core/models/model.js';
import { gaussianForecastBlock } from '../../core/models/head.js';
import { saveArtifact, type ArtifactMeta } from '../../core/models/artifact.js';
import { createFastPredictor } from '../../core/models/fast.js';
import type { BacktestEvents, CandleGap } from './types.js';
import { runBacktest, type BacktestOptions, type BacktestResult } from './engine.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../test/helpers/shared-data.js';

const DATA = SHARED_DATA_DIR;
const MERGED = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';
const TWEETS = 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv';
// Every test below runs on the events of the real files; without them the file is skipped.
const HAS_DATA = hasSharedData(MERGED, TWEETS);
const H = 3_600_000;
const NOW = Date.UTC(2026, 0, 1);
const W = 4 * H;
const FROM = Date.UTC(2024, 2, 4);
const TO = Date.UTC(2024, 2, 11);
const WARMUP = 300;
const T = 8;

function gapsOf(candles: readonly Candle[], from: number, to: number): CandleGap[] {
  const gaps: CandleGap[] = [];
  let expect = from;
  for (const c of candles) {
    if (c.openTime > expect) gaps.push({ from: expect, to: c.openTime, missingBars: (c.openTime - expect) / H });
    expect = c.openTime + H;
  }
  if (expect < to) gaps.push({ from: expect, to, missingBars: (to - expect) / H });
  return gaps;
}

function eventsOf(candles: Candle[], texts: ScoredText[], from = FROM, to = TO): BacktestEvents {
  const warmupFrom = from - WARMUP * H;
  const cs = candles.filter((c) => c.openTime >= warmupFrom && c.closeTime <= to);
  return {
    source: 'files',
    range: { symbol: 'BTCUSDT', interval: '1h', from, to },
    warmupFrom,
    candles: cs,
    texts: texts.filter((t) => t.publishedAt < to),
    gaps: gapsOf(cs, warmupFrom, to),
    provenance: [`files: ${MERGED}`],
  };
}

/** Real tweets, their publishedAt spread over [start, end) (every 7 minutes) in file order. */
function retimed(texts: ScoredText[], start: number, end: number): ScoredText[] {
  const out: ScoredText[] = [];
  for (let i = 0; i < texts.length; i++) {
    const t = start + i * 7 * 60_000;
    if (t >= end) break;
    out.push({ ...texts[i]!, publishedAt: t });
  }
  return out;
}

const TRADING = { feeBps: 10, slippageBps: 5, mode: 'long-flat' } as const;

let candles: Candle[];
let future: Candle[];
let texts: ScoredText[];
let store: string;
let artifactDirPath: string;
let normalizer: Normalizer;
let events: BacktestEvents;

beforeAll(async () => {
  const all = await loadCandlesFromFile(DATA, MERGED, 'BTCUSDT', '1h', { from: FROM - (WARMUP + 400) * H, to: TO + 48 * H, now: () => NOW });
  candles = all.filter((c) => c.closeTime <= TO);
  future = all.filter((c) => c.closeTime > TO);
  const tweets = loadTextsFromFile(DATA, TWEETS, { now: () => NOW });
  texts = retimed(tweets, FROM - WARMUP * H, TO);
  events = eventsOf(candles, texts);
  // A tiny LSTM-attention artifact: normaliser fitted on features before the range.
  const { tf } = await loadTf();
  const series = seriesOf(featuresFromCandles(candles, texts, { windowMs: W }), 'BTCUSDT', '1h');
  normalizer = fitNormalizer(series, { from: FROM - 250 * H, to: FROM });
  store = await mkdtemp(join(tmpdir(), 'bp-backtest-'));
  const model = buildModel(tf, { T, F: FEATURE_NAMES.length, units: 4, attentionUnits: 3, seed: 11 });
  const meta: ArtifactMeta = {
    name: 'lstm-attn-btcusdt-1h',
    version: 'v-test',
    featureSetVersion: FEATURE_SET_VERSION,
    featureColumns: [...FEATURE_NAMES],
    normalizer,
    T,
    F: FEATURE_NAMES.length,
    forecast: gaussianForecastBlock([1]),
    trainedFrom: FROM - 250 * H,
    trainedTo: FROM - H,
    metrics: {},
    backend: 'cpu',
    codeVersion: 'test',
    createdAt: new Date(NOW).toISOString(),
    expiresAt: null,
    seed: 11,
    hyperparameters: { units: 4, attentionUnits: 3 },
  };
  artifactDirPath = await saveArtifact(tf, model, meta, store);
  model.dispose();
}, 60_000);

afterAll(async () => {
  await rm(store, { recursive: true, force: true });
});

const artifact = (): BacktestOptions['model'] => ({ kind: 'artifact', dir: artifactDirPath, label: 'v-test' });

function run(over: Partial<BacktestOptions> = {}): Promise<BacktestResult> {
  return runBacktest({ events, model: { kind: 'baseline' }, sentimentWindowMs: W, T, trading: TRADING, ...over });
}

describe.skipIf(!HAS_DATA)('runBacktest: determinism', () => {
  it('two runs of the same events, model and options give byte-identical JSON (baseline and artifact)', async () => {
    const a = JSON.stringify(await run());
    const b = JSON.stringify(await run());
    expect(b).toBe(a);
    const c = JSON.stringify(await run({ model: artifact() }));
    const d = JSON.stringify(await run({ model: artifact() }));
    expect(d).toBe(c);
    expect(c).not.toBe(a);
    expect(a).not.toMatch(/generatedAt|hostname|elapsed/);
  });

  it('reports progress for features, windows and predictions', async () => {
    const seen = new Set<string>();
    await run({ model: artifact(), onProgress: (_d, _t, what) => seen.add(what) });
    expect([...seen].sort()).toEqual(['features', 'predictions', 'windows']);
  });
});

describe.skipIf(!HAS_DATA)('runBacktest: point in time', () => {
  it('candles and texts dated after range.to change nothing', async () => {
    const base = JSON.stringify(await run({ model: artifact() }));
    const lateTexts = retimed(
      texts.slice(0, 50).map((t) => ({ ...t, id: `late-${t.id}` })),
      TO,
      TO + 24 * H,
    );
    expect(future.length).toBeGreaterThan(10);
    expect(lateTexts.length).toBe(50);
    const polluted: BacktestEvents = { ...events, candles: [...events.candles, ...future], texts: [...events.texts, ...lateTexts] };
    const after = JSON.stringify(await run({ model: artifact(), events: polluted }));
    expect(after).toBe(base);
  });

  it('a text published after a bar does not change that bar (or any earlier one), only later bars', async () => {
    const base = await run({ model: artifact() });
    const k = 60;
    const tk = base.series.time[k]!;
    // Strongly negative texts just after bar k's close: inside the sentiment window of bar k+1.
    const extra: ScoredText[] = Array.from({ length: 20 }, (_, i) => ({
      ...texts[i]!,
      id: `extra-${i}`,
      publishedAt: tk + 60_000 + i,
      vader: { ...texts[i]!.vader, compound: -0.99 },
    }));
    const moreTexts = [...events.texts, ...extra].sort((a, b) => a.publishedAt - b.publishedAt || (a.id < b.id ? -1 : 1));
    const changed = await run({ model: artifact(), events: { ...events, texts: moreTexts } });
    expect(changed.series.time).toEqual(base.series.time);
    expect(changed.series.pred.slice(0, k + 1)).toEqual(base.series.pred.slice(0, k + 1));
    expect(changed.series.pred[k + 1]).not.toBe(base.series.pred[k + 1]);
  });
});

describe.skipIf(!HAS_DATA)('runBacktest: gaps', () => {
  it('no traded window or target spans a gap, and the gap is reported', async () => {
    const holeFrom = FROM + 50 * H;
    const holed = candles.filter((c) => c.openTime < holeFrom || c.openTime >= holeFrom + 5 * H);
    const ev = eventsOf(holed, texts);
    expect(ev.gaps).toEqual([{ from: holeFrom, to: holeFrom + 5 * H, missingBars: 5 }]);
    const full = await run();
    const r = await run({ events: ev });
    expect(r.data.gaps).toEqual([{ from: new Date(holeFrom).toISOString(), to: new Date(holeFrom + 5 * H).toISOString(), missingBars: 5 }]);
    const missing = new Set(Array.from({ length: 5 }, (_, i) => holeFrom + i * H));
    for (const t of r.series.time) {
      // The window's candles open in [t - T*H, t - H]; the target's candle opens at t.
      for (let o = t - T * H; o <= t; o += H) expect(missing.has(o)).toBe(false);
    }
    expect(r.data.bars).toBeLessThan(full.data.bars);
    expect(r.data.skippedBars - full.data.skippedBars).toBe(full.data.bars - r.data.bars);
    // Bars away from the gap are still traded.
    expect(r.series.time[0]).toBe(FROM);
    expect(r.series.time.at(-1)).toBe(TO - H);
  });
});

describe.skipIf(!HAS_DATA)('runBacktest: costs', () => {
  // A tiny hand-made series: 120 hourly candles whose closes move by a fixed up/down pattern.
  const start = Date.UTC(2024, 0, 1);
  const moves = [0.004, -0.001, 0.003, -0.006, 0.002, 0.005, -0.003, -0.002];
  const hand: Candle[] = [];
  let close = 100;
  for (let i = 0; i < 120; i++) {
    const open = close;
    close = open * Math.exp(moves[i % moves.length]!);
    hand.push({
      symbol: 'BTCUSDT',
      interval: '1h',
      exchange: 'binance',
      openTime: start + i * H,
      closeTime: start + (i + 1) * H,
      open,
      high: Math.max(open, close) * 1.001,
      low: Math.min(open, close) * 0.999,
      close,
      volume: 10 + (i % 7),
      quoteVolume: null,
      tradeCount: null,
      source: 'test',
      ingestedAt: NOW,
    });
  }
  const handEvents: BacktestEvents = {
    source: 'files',
    range: { symbol: 'BTCUSDT', interval: '1h', from: start + 70 * H, to: start + 120 * H },
    warmupFrom: start,
    candles: hand,
    texts: [],
    gaps: [],
    provenance: ['hand-made'],
  };
  const at = (feeBps: number, slippageBps: number, mode: 'long-flat' | 'long-short' = 'long-flat'): Promise<BacktestResult> =>
    runBacktest({ events: handEvents, model: { kind: 'baseline' }, sentimentWindowMs: W, T: 4, trading: { feeBps, slippageBps, mode } });

  it('charges fee + slippage per side per unit of position change, stated separately', async () => {
    const free = await at(0, 0);
    const r = await at(10, 5);
    const n = r.series.time.length;
    expect(n).toBe(50); // bars closing at 70..119 h; the last one's target closes at range.to
    const pos = r.series.pred.map((p) => (p > 0 ? 1 : 0));
    const unit = -Math.log(1 - 15 / 10_000);
    let prev = 0;
    let cum = 0;
    let changes = 0;
    for (let i = 0; i < n; i++) {
      const c = Math.abs(pos[i]! - prev);
      changes += c;
      cum += pos[i]! * r.series.actual[i]! - c * unit;
      prev = pos[i]!;
      expect(r.series.equity[i]).toBeCloseTo(Math.exp(cum), 12);
    }
    expect(changes).toBeGreaterThan(0);
    expect(r.trading.summary.trades).toBe(changes);
    expect(r.trading.costBpsPerSide).toBe(15);
    expect(r.trading.feeBps).toBe(10);
    expect(r.trading.slippageBps).toBe(5);
    expect(r.trading.summary.feesLog).toBeCloseTo(changes * unit, 14);
    expect(r.trading.feeCostLog).toBeCloseTo((changes * unit * 2) / 3, 14);
    expect(r.trading.slippageCostLog).toBeCloseTo((changes * unit) / 3, 14);
    expect(free.trading.summary.cumLogReturn - r.trading.summary.cumLogReturn).toBeCloseTo(changes * unit, 12);
    // Slippage is a cost exactly like the fee: 10 + 5 trades like 15 + 0.
    expect((await at(15, 0)).trading.summary).toEqual(r.trading.summary);
    // Buy-and-hold pays one entry at the same per-side cost.
    expect(r.metrics.buyAndHold.feesLog).toBeCloseTo(unit, 14);
    // long-short flips cost two units.
    const ls = await at(10, 5, 'long-short');
    expect(ls.trading.mode).toBe('long-short');
    expect(ls.series.pred.map((p) => Math.sign(p))).toEqual(r.series.pred.map((p) => Math.sign(p)));
  });
});

describe.skipIf(!HAS_DATA)('runBacktest: models', () => {
  it("baseline: the predictor's EMA-drift baseline fed every vector, beside persistence, EMA drift and buy-and-hold", async () => {
    const r = await run();
    expect(r.model).toMatchObject({
      choice: 'baseline',
      label: 'baseline',
      name: 'baseline-ema-drift',
      version: '1',
      T,
      trainedFrom: null,
      featureSetVersion: FEATURE_SET_VERSION,
    });
    const series = seriesOf(featuresFromCandles(events.candles, events.texts, { windowMs: W }), 'BTCUSDT', '1h');
    const live = createEmaDriftBaseline();
    const byTime = new Map(series.map((f) => [f.eventTime, live.predict(f, 0)] as const));
    r.series.time.forEach((t, i) => {
      expect(r.series.pred[i]).toBe(byTime.get(t)!.predictedLogReturn);
      expect(r.series.probUp[i]).toBe(byTime.get(t)!.probUp);
    });
    expect(r.data.bars).toBe(7 * 24);
    expect(r.series.time[0]).toBe(FROM);
    expect(r.series.time.at(-1)).toBe(TO - H);
    expect(r.metrics.persistence.name).toBe('persistence');
    expect(r.metrics.persistence.trading.exposure).toBe(0);
    expect(r.metrics.emaDrift.name).toBe('ema-drift');
    expect(r.metrics.model.regression.n).toBe(r.data.bars);
    expect(r.metrics.buyAndHold.n).toBe(r.data.bars);
    expect(r.series.equity).toHaveLength(r.data.bars);
    expect(r.series.rollingDirectionalAccuracy.filter((x) => x !== null).length).toBeGreaterThan(0);
  });

  it("artifact: the live fast predictor on lastWindow of the series up to each bar, with the artifact's normaliser", async () => {
    const r = await run({ model: artifact() });
    expect(r.model).toMatchObject({
      choice: 'artifact',
      label: 'v-test',
      name: 'lstm-attn-btcusdt-1h',
      version: 'v-test',
      T,
      trainedFrom: new Date(FROM - 250 * H).toISOString(),
    });
    const { tf } = await loadTf();
    const { loadArtifact } = await import('../../core/models/artifact.js');
    const art = await loadArtifact(tf, artifactDirPath);
    const fast = createFastPredictor(art.model, art.meta.forecast);
    art.model.dispose();
    const series: FeatureVector[] = seriesOf(featuresFromCandles(events.candles, events.texts, { windowMs: W }), 'BTCUSDT', '1h');
    for (const i of [0, 1, 50, r.series.time.length - 1]) {
      const t = r.series.time[i]!;
      const upTo = series.filter((f) => f.eventTime <= t);
      const x = lastWindow(upTo, T, normalizer);
      expect(x).not.toBeNull();
      const p = fast.predictOne(x!);
      expect(r.series.pred[i]).toBe(p.ret);
      expect(r.series.probUp[i]).toBe(p.probUp);
    }
  });

  it("refuses a T that is not the artifact's", async () => {
    await expect(run({ model: artifact(), T: 12 })).rejects.toThrow(/T=12 was asked.*T=8/);
  });
});

describe.skipIf(!HAS_DATA)('runBacktest: walk-forward', () => {
  const wf = { retrainEvery: 48, trainPeriods: 150, valPeriods: 24, epochs: 1, units: 4, seed: 3 };

  it('retrains every K periods on data strictly before each retrain point; each model predicts until the next', async () => {
    const r = await run({ model: artifact(), walkForward: wf });
    const retrains = r.retrains!;
    expect(retrains.map((x) => x.at)).toEqual([0, 48, 96, 144].map((h) => new Date(FROM + h * H).toISOString()));
    let bars = 0;
    for (const x of retrains) {
      const at = Date.parse(x.at);
      expect(Date.parse(x.valTo)).toBe(at);
      expect(Date.parse(x.trainTo)).toBeLessThanOrEqual(Date.parse(x.valFrom));
      expect(Date.parse(x.lastTargetTime!)).toBeLessThanOrEqual(at);
      expect(x.nTrain).toBeGreaterThan(100);
      expect(x.nVal).toBeGreaterThan(10);
      expect(x.seed).toBe(3 + x.index);
      bars += x.bars;
    }
    expect(bars).toBe(r.data.bars);
    expect(r.model).toMatchObject({ choice: 'walk-forward', name: 'lstm-attention', T });
    // Each bar is predicted by the model of the latest retrain at or before it.
    const firstOfSecond = r.series.time.findIndex((t) => t >= FROM + 48 * H);
    expect(retrains[0]!.bars).toBe(firstOfSecond);
    expect(JSON.stringify(await run({ model: artifact(), walkForward: wf }))).toBe(JSON.stringify(r));
  }, 120_000);

  it('refuses, before training, a retrain that would fit on the final evaluation window', async () => {
    const late = await loadCandlesFromFile(DATA, MERGED, 'BTCUSDT', '1h', { from: Date.UTC(2024, 11, 20), to: Date.UTC(2025, 0, 8), now: () => NOW });
    const ev = eventsOf(late, [], Date.UTC(2024, 11, 30), Date.UTC(2025, 0, 7));
    const err = await run({ model: artifact(), events: ev, walkForward: { ...wf, trainPeriods: 100 } }).catch((e: unknown) => e);
    expect(isBitPredictError(err) && err.code).toBe('ERR_VALIDATION');
    expect(String(err)).toMatch(/retrain 3\/4 at 2025-01-03T00:00:00.000Z refused: .*final evaluation window/);
    // Without walk-forward, backtesting the final window with a fixed model is allowed.
    const ok = await run({ model: artifact(), events: ev });
    expect(ok.data.bars).toBeGreaterThan(100);
  }, 60_000);

  it('refuses walk-forward with the baseline (nothing to retrain)', async () => {
    await expect(run({ walkForward: wf })).rejects.toThrow(/baseline has nothing to retrain/);
  });
});
