// Walk-forward evaluation of the LSTM-attention model beside naive baselines, over one series of
// feature vectors. Per fold: normalisation fitted on the fold's training range only, the model
// trained on it (early stopping on the validation range only), then every forecast is scored on
// the fold's test range: the model, persistence (zero return), EMA drift, and a ridge/logistic
// model on the same features. Development runs never reach the final evaluation window (hourly
// data from 2025-01-01); a final run trains and validates before it and tests only on it.
import { BitPredictError } from '../core/errors.js';
import type { FeatureVector } from '../schemas/types.js';
import { intervalMs } from '../core/domain/intervals.js';
import {
  assertNotFinal,
  buildWindows,
  fitNormalizer,
  FINAL_WINDOW_START,
  FEATURE_NAMES,
  windowTargets,
  type WindowSet,
} from '../core/models/domain/dataset.js';
import { walkForwardFolds, type Fold } from './domain/walk-forward.js';
import { emaDriftForecast, fitLinear, fitLogistic, lastStepRows, persistenceForecast, predictLinear, predictLogistic } from './domain/baselines.js';
import { buyAndHold, evaluateForecast, periodsPerYear, type ForecastInput } from './domain/metrics.js';
import type { EvaluationResult, FoldEvaluation, JsonValue } from './domain/report.js';
import type { LoadedTf } from '../core/models/tf.js';
import { trainModel, predict, TRAIN_DEFAULTS, type EpochInfo, type Prediction } from './model/train.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import type { ForecastBlock } from '../core/models/head.js';
import { runBaselines } from '../core/forecast/bank.js';
import { BASELINE_NAMES } from '../core/forecast/baselines.js';
import { pitValue } from '../core/forecast/scoring.js';
import { scoreHorizon, type ScoredItem } from '../core/forecast/evaluate.js';
import { fanOf, type DistributionalEvaluation } from './domain/report.js';
import { costBpsPerSide, costModel, type CostModel } from './domain/costs.js';

export interface WalkForwardRunOptions {
  loaded: LoadedTf;
  series: FeatureVector[];
  symbol: string;
  interval: string;
  purpose: 'development' | 'final';
  /** First window time considered (ms). */
  start: number;
  /** End of the data (exclusive, ms). */
  end: number;
  T: number;
  trainMode: 'expanding' | 'rolling';
  trainPeriods: number;
  valPeriods: number;
  testPeriods: number;
  stepPeriods?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  units?: number;
  seed?: number;
  /** fee + slippage per side of the strategy figures (trainer/domain/costs.ts; DEFAULT_COSTS when absent) */
  costs?: CostModel;
  emaSpan?: number;
  /** forecast horizons in steps (ascending; default [1]): the model's head and every baseline are scored on each */
  horizons?: readonly number[];
  modelVersion?: string;
  codeVersion?: string;
  onProgress?(line: string): void;
  onEpoch?(fold: number, folds: number, e: EpochInfo): void;
  onBatch?(fold: number, folds: number, batch: number, batches: number): void;
  now?: () => Date;
}

/** The point forecasts of a fold's test windows: the model's mean and P(up), persistence, EMA drift, ridge/logistic on the last step's features (fitted on the training range). */
function pointForecasts(
  train: WindowSet,
  test: WindowSet,
  p: { ret: Float32Array | Float64Array; probUp: Float32Array | Float64Array },
  emaSlice: Float64Array,
): ForecastInput[] {
  const linear = fitLinear(lastStepRows(train), train.yReturn);
  const logistic = fitLogistic(lastStepRows(train), train.yUp);
  const testRows = lastStepRows(test);
  return [
    { name: 'lstm-attention', pred: p.ret, probUp: p.probUp },
    { name: 'persistence', pred: persistenceForecast(test.n) },
    { name: 'ema-drift', pred: emaSlice },
    { name: 'linear', pred: predictLinear(linear, testRows), probUp: predictLogistic(logistic, testRows) },
  ];
}

/** One fold's point-forecast evaluation (the secondary metrics). */
function foldEvaluation(
  fold: Fold,
  n: { train: number; val: number; test: WindowSet },
  forecasts: ForecastInput[],
  trading: { feeBps: number; periodsPerYear: number },
): FoldEvaluation {
  const iso = (t: number): string => new Date(t).toISOString();
  return {
    index: fold.index,
    trainFrom: iso(fold.trainFrom),
    trainTo: iso(fold.trainTo),
    valFrom: iso(fold.valFrom),
    valTo: iso(fold.valTo),
    testFrom: iso(fold.testFrom),
    testTo: iso(fold.testTo),
    nTrain: n.train,
    nVal: n.val,
    nTest: n.test.n,
    models: forecasts.map((f) => evaluateForecast(f, n.test.yReturn, trading)),
    buyAndHold: buyAndHold(n.test.yReturn, trading).summary,
  };
}

/** The run's settings as recorded in the report. */
function runConfig(
  o: WalkForwardRunOptions,
  t: { epochs: number; batchSize: number; learningRate: number; units: number; seed: number },
): Record<string, JsonValue> {
  return {
    T: o.T,
    trainMode: o.trainMode,
    trainPeriods: o.trainPeriods,
    valPeriods: o.valPeriods,
    testPeriods: o.testPeriods,
    stepPeriods: o.stepPeriods ?? o.testPeriods,
    epochs: t.epochs,
    patience: TRAIN_DEFAULTS.patience,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    units: t.units,
    seed: t.seed,
    emaSpan: o.emaSpan ?? 24,
    featureColumns: FEATURE_NAMES,
    finalWindowStart: new Date(FINAL_WINDOW_START).toISOString(),
  };
}

export async function runWalkForward(o: WalkForwardRunOptions): Promise<EvaluationResult> {
  const { tf, backend } = o.loaded;
  const step = intervalMs(o.interval);
  const seed = o.seed ?? 42;
  const epochs = o.epochs ?? TRAIN_DEFAULTS.epochs;
  const batchSize = o.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const learningRate = o.learningRate ?? TRAIN_DEFAULTS.learningRate;
  const units = o.units ?? MODEL_DEFAULTS.units;
  const costs = o.costs ?? costModel();
  // The trading simulation charges fee + slippage together, per side per unit of position change.
  const feeBps = costBpsPerSide(costs);
  const ppy = periodsPerYear(o.interval);
  const horizons = [...(o.horizons ?? [1])];
  const say = o.onProgress ?? (() => undefined);
  // No outcome read by a development run reaches into the final window, not even a 24-step label
  // of the last test window of 2024: it is missing instead.
  const labelLimit = o.purpose === 'development' ? Math.min(o.end, FINAL_WINDOW_START) : o.end;
  const dist = createDistributionalCollector(o.series, step, horizons, labelLimit);
  // The times and targets of every valid window (which windows exist does not depend on the normaliser).
  const all = windowTargets(o.series, { T: o.T, from: o.start, to: o.end });
  if (all.n === 0)
    throw new BitPredictError(
      'ERR_VALIDATION',
      `no complete ${o.T}-step windows between ${new Date(o.start).toISOString()} and ${new Date(o.end).toISOString()}`,
    );
  const folds: Fold[] = walkForwardFolds({
    times: all.eventTimes,
    start: o.start,
    end: o.end,
    intervalMs: step,
    trainMode: o.trainMode,
    trainPeriods: o.trainPeriods,
    valPeriods: o.valPeriods,
    testPeriods: o.testPeriods,
    ...(o.stepPeriods ? { stepPeriods: o.stepPeriods } : {}),
    purpose: o.purpose,
    finalWindowStart: FINAL_WINDOW_START,
    minTrainWindows: 100,
    minTestWindows: 10,
  });
  if (folds.length === 0) throw new BitPredictError('ERR_VALIDATION', 'the range is too short for one walk-forward fold with these spans');
  // EMA drift is causal: computed once over all windows in time order and sliced per fold.
  const ema = emaDriftForecast(all.yReturn, all.eventTimes, { span: o.emaSpan ?? 24 });
  const foldResults: FoldEvaluation[] = [];
  const overall = { times: [] as number[], actual: [] as number[], forecasts: new Map<string, { pred: number[]; prob: number[] | null }>() };
  const iso = (t: number): string => new Date(t).toISOString();
  for (const fold of folds) {
    if (o.purpose === 'development' || fold.purpose === 'development') {
      assertNotFinal({ from: fold.trainFrom, to: fold.testTo }, o.interval, 'fit');
    } else {
      assertNotFinal({ from: fold.trainFrom, to: fold.valTo }, o.interval, 'fit');
    }
    const normalizer = fitNormalizer(o.series, { from: fold.trainFrom, to: fold.trainTo });
    const wins = { T: o.T, normalizer, horizons };
    const train = buildWindows(o.series, { ...wins, from: fold.trainFrom, to: fold.trainTo, labelTo: fold.trainTo });
    const val = fold.valTo > fold.valFrom ? buildWindows(o.series, { ...wins, from: fold.valFrom, to: fold.valTo, labelTo: fold.valTo }) : null;
    const test = buildWindows(o.series, { ...wins, from: fold.testFrom, to: fold.testTo, labelTo: labelLimit });
    say(
      `fold ${fold.index + 1}/${folds.length}: train ${iso(fold.trainFrom)}..${iso(fold.trainTo)} (${train.n}), val ${val?.n ?? 0}, test ${iso(fold.testFrom)}..${iso(fold.testTo)} (${test.n})`,
    );
    const trained = await trainModel(tf, train, val && val.n > 0 ? val : null, {
      epochs,
      batchSize,
      learningRate,
      seed: seed + fold.index,
      units,
      patience: TRAIN_DEFAULTS.patience,
      onEpoch: (e) => o.onEpoch?.(fold.index + 1, folds.length, e),
      onBatch: (b, bs) => o.onBatch?.(fold.index + 1, folds.length, b, bs),
    });
    const p = predict(tf, trained.model, trained.forecast, test.X, test.n, test.T, test.F);
    trained.model.dispose();
    dist.addFold(fold, train, test, p, trained.forecast);
    const forecasts = pointForecasts(train, test, p, emaSliceFor(all, ema, test));
    foldResults.push(foldEvaluation(fold, { train: train.n, val: val?.n ?? 0, test }, forecasts, { feeBps, periodsPerYear: ppy }));
    overall.times.push(...test.eventTimes);
    overall.actual.push(...test.yReturn);
    for (const f of forecasts) {
      const acc = overall.forecasts.get(f.name) ?? { pred: [], prob: f.probUp ? [] : null };
      acc.pred.push(...Array.from(f.pred));
      if (acc.prob && f.probUp) acc.prob.push(...Array.from(f.probUp));
      overall.forecasts.set(f.name, acc);
    }
    const m = foldResults.at(-1)?.models[0];
    say(
      `fold ${fold.index + 1}: model RMSE ${m?.regression.rmse?.toExponential(3) ?? 'n/a'} vs persistence ${foldResults.at(-1)?.models[1]?.regression.rmse?.toExponential(3) ?? 'n/a'}, directional accuracy ${m?.direction.accuracy?.toFixed(3) ?? 'n/a'}`,
    );
  }
  const trading = { feeBps, periodsPerYear: ppy };
  const overallModels = [...overall.forecasts.entries()].map(([name, f]) =>
    evaluateForecast({ name, pred: f.pred, ...(f.prob ? { probUp: f.prob } : {}) }, overall.actual, trading),
  );
  const config = runConfig(o, { epochs, batchSize, learningRate, units, seed });
  return {
    schemaVersion: 1,
    generatedAt: (o.now?.() ?? new Date()).toISOString(),
    purpose: o.purpose,
    model: {
      name: 'lstm-attention',
      version: o.modelVersion ?? `walk-forward-${seed}`,
      backend,
      featureSetVersion: o.series[0]?.featureSetVersion ?? 'unknown',
      ...(o.codeVersion ? { codeVersion: o.codeVersion } : {}),
    },
    data: {
      symbol: o.symbol,
      interval: o.interval,
      from: iso(folds[0]?.testFrom ?? o.start),
      to: iso(folds.at(-1)?.testTo ?? o.end),
      nWindows: overall.actual.length,
    },
    costs,
    trading: { costBpsPerSide: feeBps, threshold: 0, mode: 'long-flat', periodsPerYear: ppy },
    config,
    folds: foldResults,
    overall: { n: overall.actual.length, models: overallModels, buyAndHold: buyAndHold(overall.actual, trading).summary },
    series: { eventTimes: overall.times, actual: overall.actual, forecasts: Object.fromEntries([...overall.forecasts.entries()].map(([k, v]) => [k, v.pred])) },
    distributional: dist.result(),
  };
}

const MODEL_NAME = 'lstm-attention';
/** Forecasts shown in each fan chart: the last week of hourly test windows. */
const FAN_POINTS = 168;

/**
 * Collects, fold by fold, the model's and every baseline's distribution per horizon at each test
 * window, with the realised outcome (the window's label: null when it spans a gap or passes
 * labelLimit) and the PIT under the forecaster's own shape; then scores them per horizon. The
 * baselines are fitted on each fold's training range (runBaselines) on the candles of the series,
 * cut at labelLimit so nothing after it is read.
 */
function createDistributionalCollector(series: readonly FeatureVector[], step: number, horizons: readonly number[], labelLimit: number) {
  const candles = series.filter((f) => f.eventTime <= labelLimit);
  const times = candles.map((f) => f.openTime);
  const closes = candles.map((f) => f.close);
  const names = [MODEL_NAME, ...BASELINE_NAMES];
  const items = new Map(names.map((n) => [n, horizons.map(() => [] as ScoredItem[])]));
  const climatology = horizons.map(() => [] as number[]);
  const H = horizons.length;
  return {
    addFold(fold: Fold, train: WindowSet, test: WindowSet, p: Prediction, block: ForecastBlock): void {
      if (test.n === 0) return;
      // A window at t (its last candle closes at t) pairs with the baseline forecast made at the close of the candle opened at t - step.
      const run = runBaselines({
        times,
        closes,
        stepMs: step,
        horizons,
        fitFrom: fold.trainFrom - step,
        fitTo: fold.trainTo - step,
        evalFrom: test.eventTimes[0]! - step,
        evalTo: test.eventTimes[test.n - 1]! - step,
      });
      for (let k = 0; k < H; k++) {
        const h = horizons[k]!;
        let up = 0;
        let known = 0;
        for (let i = 0; i < train.n; i++) {
          const v = train.yHorizons[i * H + k]!;
          if (Number.isFinite(v)) [known, up] = [known + 1, up + (v > 0 ? 1 : 0)];
        }
        const clim = known > 0 ? up / known : 0.5;
        const hf = run.fit.horizons[k]!;
        const byTime = new Map(
          names.slice(1).map((n) => [
            n,
            new Map(
              run.forecasts
                .get(n as (typeof BASELINE_NAMES)[number])!
                .get(h)!
                .map((x) => [x.time, x.d]),
            ),
          ]),
        );
        for (let i = 0; i < test.n; i++) {
          const t = test.eventTimes[i]!;
          const v = test.yHorizons[i * H + k]!;
          const y = Number.isFinite(v) ? v : null;
          const d = p.distributions[i]![k]!;
          items.get(MODEL_NAME)![k]!.push({ time: t, d, y, pit: y === null ? null : pitValue(d, block.shapes[k]!, y) });
          for (const n of BASELINE_NAMES) {
            const bd = byTime.get(n)!.get(t - step);
            if (bd === undefined) throw new BitPredictError('ERR_VALIDATION', `no ${n} forecast for the window at ${new Date(t).toISOString()}`);
            items.get(n)![k]!.push({ time: t, d: bd, y, pit: y === null ? null : pitValue(bd, hf.shapes[n], y) });
          }
          climatology[k]!.push(clim);
        }
      }
    },
    result(): DistributionalEvaluation {
      const scores = horizons.map((h, k) =>
        scoreHorizon(
          h,
          names.map((n) => ({ name: n, kind: n === MODEL_NAME ? ('model' as const) : ('baseline' as const), items: items.get(n)![k]! })),
          climatology[k]!,
        ),
      );
      const fans = scores.map((s, k) => {
        const best = s.bestBaseline.pinball ?? 'persistence';
        return fanOf(s.h, items.get(MODEL_NAME)![k]!.slice(-FAN_POINTS), best, items.get(best)![k]!.slice(-FAN_POINTS));
      });
      return { model: MODEL_NAME, horizons: [...horizons], scores, fans };
    },
  };
}

/** The EMA-drift forecasts of the test windows (matched by window time). */
function emaSliceFor(all: { n: number; eventTimes: Float64Array }, ema: Float64Array, test: WindowSet): Float64Array {
  const out = new Float64Array(test.n);
  let j = 0;
  for (let i = 0; i < test.n; i++) {
    const t = test.eventTimes[i] as number;
    while (j < all.n && (all.eventTimes[j] as number) < t) j++;
    out[i] = (all.eventTimes[j] as number) === t ? (ema[j] as number) : 0;
  }
  return out;
}
