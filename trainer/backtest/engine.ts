// The backtest engine: BacktestEvents (candles + scored texts, from the topics or the files) ->
// features with the live processor's code -> windows -> the chosen model's predictions -> a
// long/flat (or long/short) rule with fees and slippage -> a JSON-serialisable BacktestResult.
//
// Point in time: features come from featuresFromCandles (the indicator engine sees candles in
// order; the sentiment of a bar at t aggregates only texts published in (t - W, t]), a window at t
// reads only rows with eventTime <= t, and events at or after range.to are dropped here whatever
// the source hands over, so records from the future cannot change a result.
// Deterministic: no clocks, no randomness except seeded training, fixed key order; the same
// events, model and options give a byte-identical JSON.stringify of the result.
import { BitPredictError } from '../../core/errors.js';
import { intervalMs } from '../../core/domain/intervals.js';
import type { Candle, FeatureVector, ScoredText } from '../../schemas/types.js';
import { FEATURE_SET_VERSION } from '../../core/features/indicators.js';
import { featuresFromCandles, seriesOf } from '../../core/features/batch.js';
import {
  assertNotFinal,
  buildWindows,
  fitNormalizer,
  FEATURE_NAMES,
  FINAL_WINDOW_START,
  windowTargets,
  type Normalizer,
} from '../../core/models/domain/dataset.js';
import { emaDriftForecast, persistenceForecast } from '../domain/baselines.js';
import {
  buyAndHold,
  drawdownCurve,
  equityCurve,
  evaluateForecast,
  periodsPerYear,
  rollingDirectionalAccuracy,
  rollingWindowFor,
  simulateTrading,
  type ModelMetrics,
  type TradingOptions,
  type TradingSummary,
} from '../domain/metrics.js';
import { createEmaDriftBaseline, DEFAULT_HALF_LIFE_STEPS } from '../../core/models/domain/baseline.js';
import { loadArtifact, type ArtifactMeta } from '../../core/models/artifact.js';
import { createFastPredictor, type FastPredictor } from '../../core/models/fast.js';
import { MODEL_DEFAULTS } from '../../core/models/model.js';
import { trainModel, TRAIN_DEFAULTS } from '../model/train.js';
import { loadTf, type LoadedTf } from '../../core/models/tf.js';
import type { BacktestEvents } from './types.js';
import { costModel, type CostModel } from '../domain/costs.js';

export type ModelChoice = { kind: 'baseline' } | { kind: 'artifact'; dir: string; label: string /* 'champion' or the version */ };

export interface BacktestTradingOptions {
  /** Fee per side in basis points of notional per unit of position change. */
  feeBps: number;
  /** Slippage per side in basis points, a cost like the fee (added to it per side). */
  slippageBps: number;
  mode: 'long-flat' | 'long-short';
  /** Long when pred > threshold (short when pred < -threshold in long-short). Default 0. */
  threshold?: number;
}

export interface WalkForwardOptions {
  /** Retrain every this many periods (bars), starting at range.from. */
  retrainEvery: number;
  /** Training span (periods) before the validation span. */
  trainPeriods: number;
  /** Validation span (periods, early stopping) ending at the retrain point; 0 = none. */
  valPeriods: number;
  epochs: number;
  units?: number;
  seed?: number;
}

export interface BacktestOptions {
  events: BacktestEvents;
  model: ModelChoice;
  /** W of the sentiment join (the live BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS). */
  sentimentWindowMs: number;
  /** Steps per window: the artifact's T when a model is loaded (must match if given), else 48. */
  T?: number;
  trading: BacktestTradingOptions;
  walkForward?: WalkForwardOptions;
  /** tfjs, needed to load or train tfjs models (loadTf() when absent). */
  loaded?: LoadedTf;
  codeVersion?: string;
  onProgress?(done: number, total: number, what: string): void;
}

export interface BacktestGap {
  from: string;
  to: string;
  missingBars: number;
}

export interface BacktestRetrain {
  index: number;
  /** The retrain point (ISO): this model predicts bars with at <= t < predictsTo. */
  at: string;
  predictsTo: string;
  trainFrom: string;
  trainTo: string;
  valFrom: string;
  valTo: string;
  nTrain: number;
  nVal: number;
  /** Close time (ISO) of the latest target the retrain read; never after `at`. */
  lastTargetTime: string | null;
  seed: number;
  epochsRun: number;
  bestEpoch: number;
  bars: number;
}

export interface BacktestTrading {
  mode: 'long-flat' | 'long-short';
  threshold: number;
  feeBps: number;
  slippageBps: number;
  /** feeBps + slippageBps: the cost charged per side per unit of position change. */
  costBpsPerSide: number;
  periodsPerYear: number;
  /**
   * The chosen model's rule after fees and slippage. As in every TradingSummary of `metrics`, its
   * feeBps is the combined per-side cost (costBpsPerSide) and feesLog all costs (log-return units).
   */
  summary: TradingSummary;
  /** The costs split into their fee and slippage shares (log-return units, pro rata of the bps). */
  feeCostLog: number;
  slippageCostLog: number;
}

export interface BacktestSeries {
  /** Bar times (ms, the window's eventTime = candle close) of the traded bars. */
  time: number[];
  /** Realised next-period log return of each bar. */
  actual: number[];
  /** The chosen model's predicted log return. */
  pred: number[];
  probUp: number[];
  /** Equity exp(cumulative strategy log return) after costs, starting at 1 before the first bar. */
  equity: number[];
  buyHoldEquity: number[];
  /** 1 - equity / running peak (positive fractions). */
  drawdown: number[];
  /** Share of right directions over the last `config.rollingWindow` bars; null until it fills. */
  rollingDirectionalAccuracy: (number | null)[];
}

export type JsonScalar = string | number | boolean | null;

export interface BacktestResult {
  schemaVersion: 1;
  kind: 'backtest';
  range: { symbol: string; interval: string; from: string; to: string };
  data: {
    source: 'kafka' | 'files';
    provenance: string[];
    /** Candles and texts read (after dropping anything at or after range.to). */
    candles: number;
    texts: number;
    warmupFrom: string;
    /** Bars traded. */
    bars: number;
    /** Bars in the range that could have been traded but were not (warm-up, gaps, missing targets). */
    skippedBars: number;
    gaps: BacktestGap[];
  };
  model: {
    choice: 'baseline' | 'artifact' | 'walk-forward';
    /** 'champion', a version, or 'baseline' */
    label: string;
    name: string;
    version: string;
    featureSetVersion: string;
    T: number;
    trainedFrom: string | null;
    trainedTo: string | null;
  };
  config: Record<string, JsonScalar | JsonScalar[] | Record<string, JsonScalar>>;
  /** The cost model of every strategy figure (trainer/domain/costs.ts), as evaluate prints it. */
  costs: CostModel;
  trading: BacktestTrading;
  metrics: { model: ModelMetrics; persistence: ModelMetrics; emaDrift: ModelMetrics; buyAndHold: TradingSummary };
  retrains?: BacktestRetrain[];
  series: BacktestSeries;
}

const DEFAULT_T = 48;
const EMA_SPAN = 24;
/** Predictions between two progress reports. */
const PROGRESS_EVERY = 4096;

const iso = (t: number): string => new Date(t).toISOString();

function invalid(message: string): BitPredictError {
  return new BitPredictError('ERR_VALIDATION', message);
}

function checkOptions(o: BacktestOptions): void {
  const { range } = o.events;
  if (!Number.isSafeInteger(range.from) || !Number.isSafeInteger(range.to) || range.from >= range.to) {
    throw invalid(`backtest range must be integer ms with from < to, got ${String(range.from)}..${String(range.to)}`);
  }
  const t = o.trading;
  costModel({ feeBps: t.feeBps, slippageBps: t.slippageBps }, 'trading');
  if (t.mode !== 'long-flat' && t.mode !== 'long-short') throw invalid(`trading.mode must be long-flat or long-short, got ${JSON.stringify(t.mode)}`);
  if (t.threshold !== undefined && !(Number.isFinite(t.threshold) && t.threshold >= 0))
    throw invalid(`trading.threshold must be a finite number >= 0, got ${String(t.threshold)}`);
  if (o.T !== undefined && (!Number.isSafeInteger(o.T) || o.T < 1)) throw invalid(`T must be an integer >= 1, got ${String(o.T)}`);
  const wf = o.walkForward;
  if (wf) {
    for (const [k, v] of [
      ['retrainEvery', wf.retrainEvery],
      ['trainPeriods', wf.trainPeriods],
      ['epochs', wf.epochs],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw invalid(`walkForward.${k} must be an integer >= 1, got ${String(v)}`);
    }
    if (!Number.isSafeInteger(wf.valPeriods) || wf.valPeriods < 0)
      throw invalid(`walkForward.valPeriods must be an integer >= 0, got ${String(wf.valPeriods)}`);
    if (wf.units !== undefined && (!Number.isSafeInteger(wf.units) || wf.units < 1))
      throw invalid(`walkForward.units must be an integer >= 1, got ${String(wf.units)}`);
    if (wf.seed !== undefined && !Number.isSafeInteger(wf.seed)) throw invalid(`walkForward.seed must be an integer, got ${String(wf.seed)}`);
  }
}

/**
 * Only the events a point-in-time run may see: candles of the series inside [warmupFrom, range.to]
 * (closeTime <= range.to) and texts published before range.to. The source already promises this;
 * filtering again keeps the guarantee here, where it is tested.
 */
function pointInTime(events: BacktestEvents): { candles: Candle[]; texts: ScoredText[] } {
  const { range, warmupFrom } = events;
  const candles = events.candles.filter(
    (c) => c.symbol === range.symbol && c.interval === range.interval && c.openTime >= warmupFrom && c.closeTime <= range.to,
  );
  const texts = events.texts.filter((t) => t.publishedAt < range.to);
  return { candles, texts };
}

/** Positions of `times` (sorted) inside `all` (sorted, a superset). */
function indexIn(all: Float64Array, times: Float64Array): Int32Array {
  const out = new Int32Array(times.length);
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    while (j < all.length && all[j]! < t) j++;
    if (all[j] !== t) throw new BitPredictError('ERR_INTERNAL', `backtest: window ${iso(t)} missing from the series' windows`);
    out[i] = j;
  }
  return out;
}

/**
 * The model's predictions for the windows ending in [from, to), normalised with its saved
 * normaliser, by the plain-JS fast predictor: the live predictor's own forward pass, run over all
 * windows prepared up front in one pass (batched inference, as the live predictor's prepareBatch
 * does for a backlog). predictOne per window, not predictMany: the live predictor publishes
 * predictOne's float64 result and predictMany rounds to float32. Not tfjs model.predict on a
 * batch either: its kernels round differently and the results would differ from live by ~1e-7,
 * so a backtest would no longer reproduce exactly what the live predictor published.
 */
function predictWindows(
  fast: FastPredictor,
  series: FeatureVector[],
  T: number,
  normalizer: Normalizer,
  from: number,
  to: number,
  progress: (done: number, total: number) => void,
): { times: Float64Array; ret: Float64Array; probUp: Float64Array } {
  const ws = buildWindows(series, { T, from, to, normalizer });
  const ret = new Float64Array(ws.n);
  const probUp = new Float64Array(ws.n);
  const row = T * ws.F;
  for (let w = 0; w < ws.n; w++) {
    const p = fast.predictOne(ws.X.subarray(w * row, (w + 1) * row));
    ret[w] = p.ret;
    probUp[w] = p.probUp;
    if ((w + 1) % PROGRESS_EVERY === 0 || w === ws.n - 1) progress(w + 1, ws.n);
  }
  return { times: ws.eventTimes, ret, probUp };
}

interface Forecast {
  pred: Float64Array;
  probUp: Float64Array;
}

interface LoadedModel {
  meta: ArtifactMeta | null;
  fast: FastPredictor | null;
  loaded: LoadedTf | null;
}

/** The chosen model: an artifact's metadata and (unless walk-forward retrains) its live forward pass. */
async function loadBacktestModel(o: BacktestOptions): Promise<LoadedModel> {
  let loaded: LoadedTf | null = o.loaded ?? null;
  if (o.model.kind !== 'artifact') return { meta: null, fast: null, loaded };
  loaded ??= await loadTf();
  const art = await loadArtifact(loaded.tf, o.model.dir, { featureSetVersion: FEATURE_SET_VERSION, featureColumns: FEATURE_NAMES });
  const meta = art.meta;
  let fast: FastPredictor | null = null;
  try {
    if (!o.walkForward) fast = createFastPredictor(art.model, meta.forecast);
  } finally {
    art.model.dispose();
  }
  if (o.T !== undefined && o.T !== meta.T) throw invalid(`T=${o.T} was asked, but the model ${meta.name}@${meta.version} takes windows of T=${meta.T}`);
  return { meta, fast, loaded };
}

interface BarForecast {
  forecast: Forecast;
  retrains?: BacktestRetrain[];
  modelInfo: BacktestResult['model'];
}

type Progress = NonNullable<BacktestOptions['onProgress']>;

/**
 * The predictor's own baseline, fed every vector of the series in order as the live predictor
 * absorbs every record; its forecast at a bar is the one published for that bar.
 */
function baselineForecast(series: readonly FeatureVector[], tradedTimes: Float64Array, featureSetVersion: string, T: number, progress: Progress): BarForecast {
  const model = createEmaDriftBaseline();
  const byTime = new Map<number, { ret: number; probUp: number }>();
  for (let i = 0; i < series.length; i++) {
    const f = series[i]!;
    const p = model.predict(f, 0);
    byTime.set(f.eventTime, { ret: p.predictedLogReturn, probUp: p.probUp });
    if ((i + 1) % PROGRESS_EVERY === 0 || i === series.length - 1) progress(i + 1, series.length, 'predictions');
  }
  const pred = new Float64Array(tradedTimes.length);
  const probUp = new Float64Array(tradedTimes.length);
  tradedTimes.forEach((t, i) => {
    const p = byTime.get(t)!;
    pred[i] = p.ret;
    probUp[i] = p.probUp;
  });
  return {
    forecast: { pred, probUp },
    modelInfo: { choice: 'baseline', label: 'baseline', name: model.name, version: model.version, featureSetVersion, T, trainedFrom: null, trainedTo: null },
  };
}

/** The chosen model's forecast of every traded bar: walk-forward retrains, a saved artifact, or the baseline. */
async function forecastBars(
  o: BacktestOptions,
  m: LoadedModel,
  series: FeatureVector[],
  T: number,
  tradedTimes: Float64Array,
  progress: Progress,
): Promise<BarForecast> {
  const { range } = o.events;
  const featureSetVersion = series[0]?.featureSetVersion ?? FEATURE_SET_VERSION;
  if (o.walkForward) {
    const loaded = m.loaded ?? (await loadTf());
    const wf = await walkForward(o, o.walkForward, loaded, m.meta, series, T, intervalMs(range.interval), tradedTimes, progress);
    const seed = o.walkForward.seed ?? 42;
    return {
      forecast: wf.forecast,
      retrains: wf.retrains,
      modelInfo: {
        choice: 'walk-forward',
        label: o.model.kind === 'artifact' ? o.model.label : 'walk-forward',
        name: 'lstm-attention',
        version: `walk-forward-${seed}`,
        featureSetVersion,
        T,
        trainedFrom: wf.retrains[0]?.trainFrom ?? null,
        trainedTo: wf.retrains.at(-1)?.valTo ?? null,
      },
    };
  }
  const { fast, meta } = m;
  if (fast !== null && meta !== null) {
    const p = predictWindows(fast, series, T, meta.normalizer, range.from, range.to, (d, t) => progress(d, t, 'predictions'));
    if (p.times.length !== tradedTimes.length || p.times.some((t, i) => t !== tradedTimes[i]))
      throw new BitPredictError('ERR_INTERNAL', 'backtest: predicted windows differ from the traded bars');
    return {
      forecast: { pred: p.ret, probUp: p.probUp },
      modelInfo: {
        choice: 'artifact',
        label: o.model.kind === 'artifact' ? o.model.label : meta.version,
        name: meta.name,
        version: meta.version,
        featureSetVersion: meta.featureSetVersion,
        T,
        trainedFrom: iso(meta.trainedFrom),
        trainedTo: iso(meta.trainedTo),
      },
    };
  }
  return baselineForecast(series, tradedTimes, featureSetVersion, T, progress);
}

/** Trading the forecast with fees and slippage (charged like the fee, per side per unit of position change), and every metric beside the baselines. */
function tradeAndScore(
  o: BacktestOptions,
  forecast: Forecast,
  actual: Float64Array,
  baselines: { persistence: Float64Array; emaDrift: Float64Array },
  modelName: string,
) {
  const threshold = o.trading.threshold ?? 0;
  const costBps = o.trading.feeBps + o.trading.slippageBps;
  const ppy = periodsPerYear(o.events.range.interval);
  const tradingOptions: TradingOptions = { feeBps: costBps, threshold, mode: o.trading.mode, periodsPerYear: ppy };
  const run = simulateTrading(forecast.pred, actual, tradingOptions);
  const bh = buyAndHold(actual, { feeBps: costBps, periodsPerYear: ppy });
  const costShare = (bps: number): number => (costBps === 0 ? 0 : (run.summary.feesLog * bps) / costBps);
  const trading: BacktestTrading = {
    mode: o.trading.mode,
    threshold,
    feeBps: o.trading.feeBps,
    slippageBps: o.trading.slippageBps,
    costBpsPerSide: costBps,
    periodsPerYear: ppy,
    summary: run.summary,
    feeCostLog: costShare(o.trading.feeBps),
    slippageCostLog: costShare(o.trading.slippageBps),
  };
  const metrics = {
    model: evaluateForecast({ name: modelName, pred: forecast.pred, probUp: forecast.probUp }, actual, tradingOptions),
    persistence: evaluateForecast({ name: 'persistence', pred: baselines.persistence }, actual, tradingOptions),
    emaDrift: evaluateForecast({ name: 'ema-drift', pred: baselines.emaDrift }, actual, tradingOptions),
    buyAndHold: bh.summary,
  };
  return {
    trading,
    metrics,
    threshold,
    ppy,
    equity: equityCurve(run.logReturns),
    buyHoldEquity: equityCurve(bh.logReturns),
    drawdown: drawdownCurve(run.logReturns),
  };
}

/** The settings a result records, so a run can be repeated and compared. */
function resultConfig(
  o: BacktestOptions,
  m: LoadedModel,
  T: number,
  rollingWindow: number,
  scored: ReturnType<typeof tradeAndScore>,
): BacktestResult['config'] {
  const { meta, fast } = m;
  return {
    sentimentWindowMs: o.sentimentWindowMs,
    T,
    emaDriftSpan: EMA_SPAN,
    baselineHalfLifeSteps: DEFAULT_HALF_LIFE_STEPS,
    rollingWindow,
    inference: o.walkForward || fast !== null ? 'fast-predictor (live forward pass, batched)' : 'predictor baseline (live code)',
    trading: { mode: o.trading.mode, threshold: scored.threshold, feeBps: o.trading.feeBps, slippageBps: o.trading.slippageBps, periodsPerYear: scored.ppy },
    walkForward: o.walkForward
      ? {
          retrainEvery: o.walkForward.retrainEvery,
          trainPeriods: o.walkForward.trainPeriods,
          valPeriods: o.walkForward.valPeriods,
          epochs: o.walkForward.epochs,
          units: o.walkForward.units ?? unitsOf(meta),
          seed: o.walkForward.seed ?? 42,
          batchSize: TRAIN_DEFAULTS.batchSize,
          learningRate: TRAIN_DEFAULTS.learningRate,
          patience: TRAIN_DEFAULTS.patience,
        }
      : null,
    featureColumns: [...FEATURE_NAMES],
    finalWindowStart: iso(FINAL_WINDOW_START),
    codeVersion: o.codeVersion ?? null,
    modelCodeVersion: meta?.codeVersion ?? null,
  };
}

export async function runBacktest(o: BacktestOptions): Promise<BacktestResult> {
  checkOptions(o);
  const { events } = o;
  const { range } = events;
  const step = intervalMs(range.interval);
  const progress = o.onProgress ?? (() => undefined);
  if (o.walkForward && o.model.kind === 'baseline') {
    throw invalid(
      'walk-forward mode retrains the LSTM-attention model; the baseline has nothing to retrain (choose champion or a version, whose T and size are kept)',
    );
  }

  // The model first: its T decides the windows.
  const m = await loadBacktestModel(o);
  const T = m.meta?.T ?? o.T ?? DEFAULT_T;

  // Features with the live processor's code, over the point-in-time events only.
  const { candles, texts } = pointInTime(events);
  progress(0, 1, 'features');
  const series = seriesOf(featuresFromCandles(candles, texts, { windowMs: o.sentimentWindowMs, computedAt: 0 }), range.symbol, range.interval);
  progress(1, 1, 'features');

  // Every window of the series (from the warm-up on) with a target inside the range, and the
  // traded ones: window end in [from, to). Candles end at range.to, so every target is known by then.
  progress(0, 1, 'windows');
  const all = windowTargets(series, { T });
  const traded = windowTargets(series, { T, from: range.from, to: range.to });
  progress(1, 1, 'windows');
  if (traded.n === 0) {
    throw invalid(
      `no bar of ${range.symbol} ${range.interval} in [${iso(range.from)}, ${iso(range.to)}) has a complete ${T}-step window and a known next return (${candles.length} candles from ${iso(events.warmupFrom)}, ${events.gaps.length} gaps)`,
    );
  }
  const n = traded.n;
  const actual = Float64Array.from(traded.yReturn);
  const at = indexIn(all.eventTimes, traded.eventTimes);
  const pick = (x: ArrayLike<number>): Float64Array => Float64Array.from(at, (j) => x[j]!);

  // The trainer's baselines, beside every model: persistence and EMA drift (causal, over all windows).
  const baselines = { persistence: persistenceForecast(n), emaDrift: pick(emaDriftForecast(all.yReturn, all.eventTimes, { span: EMA_SPAN })) };
  const { forecast, retrains, modelInfo } = await forecastBars(o, m, series, T, traded.eventTimes, progress);
  const scored = tradeAndScore(o, forecast, actual, baselines, modelInfo.name);

  const rollingWindow = rollingWindowFor(n);
  return {
    schemaVersion: 1,
    kind: 'backtest',
    range: { symbol: range.symbol, interval: range.interval, from: iso(range.from), to: iso(range.to) },
    data: {
      source: events.source,
      provenance: [...events.provenance],
      candles: candles.length,
      texts: texts.length,
      warmupFrom: iso(events.warmupFrom),
      bars: n,
      skippedBars: possibleBars(series, range.from, range.to, step) - n,
      gaps: events.gaps.map((g) => ({ from: iso(g.from), to: iso(g.to), missingBars: g.missingBars })),
    },
    model: modelInfo,
    config: resultConfig(o, m, T, rollingWindow, scored),
    costs: costModel({ feeBps: o.trading.feeBps, slippageBps: o.trading.slippageBps }),
    trading: scored.trading,
    metrics: scored.metrics,
    ...(retrains ? { retrains } : {}),
    series: {
      time: Array.from(traded.eventTimes),
      actual: Array.from(actual),
      pred: Array.from(forecast.pred),
      probUp: Array.from(forecast.probUp),
      equity: Array.from(scored.equity),
      buyHoldEquity: Array.from(scored.buyHoldEquity),
      drawdown: Array.from(scored.drawdown),
      // JSON has no NaN: a bar before the window fills is null.
      rollingDirectionalAccuracy: Array.from(rollingDirectionalAccuracy(forecast.pred, actual, rollingWindow), (v) => (Number.isNaN(v) ? null : v)),
    },
  };
}

/** Bars of the series' time grid with from <= t <= to - step (a window end whose target closes by `to`). */
function possibleBars(series: readonly FeatureVector[], from: number, to: number, step: number): number {
  const anchor = series[0]?.eventTime ?? from;
  const first = anchor + Math.ceil((from - anchor) / step) * step;
  return first > to - step ? 0 : Math.floor((to - step - first) / step) + 1;
}

function unitsOf(meta: ArtifactMeta | null): number {
  const u = meta?.hyperparameters.units;
  return typeof u === 'number' && Number.isSafeInteger(u) && u > 0 ? u : MODEL_DEFAULTS.units;
}

function attentionUnitsOf(meta: ArtifactMeta | null): number {
  const u = meta?.hyperparameters.attentionUnits;
  return typeof u === 'number' && Number.isSafeInteger(u) && u > 0 ? u : MODEL_DEFAULTS.attentionUnits;
}

/**
 * Walk-forward: retrain points r_k = range.from + k * retrainEvery periods. The retrain at r fits
 * on windows whose targets close at or before r (the dataset convention: window times < r, so
 * every candle read lies in time before r): validation [r - val, r), training [r - val - train,
 * r - val), with a normaliser fitted on the training range only and the trainer's trainModel with
 * seed + k. Its model then predicts the bars in [r, r_{k+1}). Hourly retrains that would read the
 * final evaluation window are refused up front (assertNotFinal 'fit'), before any training.
 */
async function walkForward(
  o: BacktestOptions,
  wf: WalkForwardOptions,
  loaded: LoadedTf,
  meta: ArtifactMeta | null,
  series: FeatureVector[],
  T: number,
  step: number,
  tradedTimes: Float64Array,
  progress: (done: number, total: number, what: string) => void,
): Promise<{ forecast: Forecast; retrains: BacktestRetrain[] }> {
  const { range } = o.events;
  const every = wf.retrainEvery * step;
  const points: number[] = [];
  for (let r = range.from; r < range.to; r += every) points.push(r);
  const seed = wf.seed ?? 42;
  const plan = points.map((r, k) => {
    const valFrom = r - wf.valPeriods * step;
    const trainFrom = valFrom - wf.trainPeriods * step;
    return { k, r, next: Math.min(points[k + 1] ?? range.to, range.to), trainFrom, valFrom };
  });
  for (const p of plan) {
    try {
      assertNotFinal({ from: p.trainFrom, to: p.r }, range.interval, 'fit');
    } catch (err) {
      throw new BitPredictError(
        'ERR_VALIDATION',
        `walk-forward retrain ${p.k + 1}/${plan.length} at ${iso(p.r)} refused: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }
  const n = tradedTimes.length;
  const pred = new Float64Array(n);
  const probUp = new Float64Array(n);
  const retrains: BacktestRetrain[] = [];
  let cursor = 0;
  for (const p of plan) {
    progress(p.k, plan.length, 'retrains');
    const normalizer = fitNormalizer(series, { from: p.trainFrom, to: p.valFrom });
    const train = buildWindows(series, { T, from: p.trainFrom, to: p.valFrom, normalizer });
    const val = wf.valPeriods > 0 ? buildWindows(series, { T, from: p.valFrom, to: p.r, normalizer }) : null;
    if (train.n === 0) {
      throw invalid(
        `walk-forward retrain ${p.k + 1}/${plan.length} at ${iso(p.r)}: no complete ${T}-step training windows in [${iso(p.trainFrom)}, ${iso(p.valFrom)}); start the warm-up earlier or shorten trainPeriods`,
      );
    }
    const trained = await trainModel(loaded.tf, train, val && val.n > 0 ? val : null, {
      epochs: wf.epochs,
      batchSize: TRAIN_DEFAULTS.batchSize,
      learningRate: TRAIN_DEFAULTS.learningRate,
      seed: seed + p.k,
      units: wf.units ?? unitsOf(meta),
      attentionUnits: attentionUnitsOf(meta),
      patience: TRAIN_DEFAULTS.patience,
    });
    let fast: FastPredictor;
    try {
      fast = createFastPredictor(trained.model, trained.forecast);
    } finally {
      trained.model.dispose();
    }
    const got = predictWindows(fast, series, T, normalizer, p.r, p.next, () => undefined);
    for (let i = 0; i < got.times.length; i++) {
      if (tradedTimes[cursor] !== got.times[i])
        throw new BitPredictError('ERR_INTERNAL', `backtest: retrain ${p.k + 1} predicted ${iso(got.times[i]!)} out of step with the traded bars`);
      pred[cursor] = got.ret[i]!;
      probUp[cursor] = got.probUp[i]!;
      cursor++;
    }
    const lastWindow = Math.max(val && val.n > 0 ? val.eventTimes[val.n - 1]! : Number.NEGATIVE_INFINITY, train.eventTimes[train.n - 1]!);
    retrains.push({
      index: p.k,
      at: iso(p.r),
      predictsTo: iso(p.next),
      trainFrom: iso(p.trainFrom),
      trainTo: iso(p.valFrom),
      valFrom: iso(p.valFrom),
      valTo: iso(p.r),
      nTrain: train.n,
      nVal: val?.n ?? 0,
      lastTargetTime: iso(lastWindow + step),
      seed: seed + p.k,
      epochsRun: trained.history.length,
      bestEpoch: trained.bestEpoch,
      bars: got.times.length,
    });
    progress(p.k + 1, plan.length, 'retrains');
  }
  if (cursor !== n) throw new BitPredictError('ERR_INTERNAL', `backtest: walk-forward predicted ${cursor} of ${n} bars`);
  return { forecast: { pred, probUp }, retrains };
}
