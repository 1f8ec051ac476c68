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
import { trainModel, predict, TRAIN_DEFAULTS, type EpochInfo } from './model/train.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';

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
  feeBps?: number;
  emaSpan?: number;
  modelVersion?: string;
  codeVersion?: string;
  onProgress?(line: string): void;
  onEpoch?(fold: number, folds: number, e: EpochInfo): void;
  onBatch?(fold: number, folds: number, batch: number, batches: number): void;
  now?: () => Date;
}

export async function runWalkForward(o: WalkForwardRunOptions): Promise<EvaluationResult> {
  const { tf, backend } = o.loaded;
  const step = intervalMs(o.interval);
  const seed = o.seed ?? 42;
  const epochs = o.epochs ?? TRAIN_DEFAULTS.epochs;
  const batchSize = o.batchSize ?? TRAIN_DEFAULTS.batchSize;
  const learningRate = o.learningRate ?? TRAIN_DEFAULTS.learningRate;
  const units = o.units ?? MODEL_DEFAULTS.units;
  const feeBps = o.feeBps ?? 10;
  const ppy = periodsPerYear(o.interval);
  const say = o.onProgress ?? (() => undefined);
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
    const train = buildWindows(o.series, { T: o.T, from: fold.trainFrom, to: fold.trainTo, normalizer });
    const val = fold.valTo > fold.valFrom ? buildWindows(o.series, { T: o.T, from: fold.valFrom, to: fold.valTo, normalizer }) : null;
    const test = buildWindows(o.series, { T: o.T, from: fold.testFrom, to: fold.testTo, normalizer });
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
    // Ridge and logistic regression on the last step's features, fitted on the training range.
    const linear = fitLinear(lastStepRows(train), train.yReturn);
    const logistic = fitLogistic(lastStepRows(train), train.yUp);
    const testRows = lastStepRows(test);
    const emaSlice = emaSliceFor(all, ema, test);
    const forecasts: ForecastInput[] = [
      { name: 'lstm-attention', pred: p.ret, probUp: p.probUp },
      { name: 'persistence', pred: persistenceForecast(test.n) },
      { name: 'ema-drift', pred: emaSlice },
      { name: 'linear', pred: predictLinear(linear, testRows), probUp: predictLogistic(logistic, testRows) },
    ];
    const trading = { feeBps, periodsPerYear: ppy };
    foldResults.push({
      index: fold.index,
      trainFrom: iso(fold.trainFrom),
      trainTo: iso(fold.trainTo),
      valFrom: iso(fold.valFrom),
      valTo: iso(fold.valTo),
      testFrom: iso(fold.testFrom),
      testTo: iso(fold.testTo),
      nTrain: train.n,
      nVal: val?.n ?? 0,
      nTest: test.n,
      models: forecasts.map((f) => evaluateForecast(f, test.yReturn, trading)),
      buyAndHold: buyAndHold(test.yReturn, trading).summary,
    });
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
  const config: Record<string, JsonValue> = {
    T: o.T,
    trainMode: o.trainMode,
    trainPeriods: o.trainPeriods,
    valPeriods: o.valPeriods,
    testPeriods: o.testPeriods,
    stepPeriods: o.stepPeriods ?? o.testPeriods,
    epochs,
    patience: TRAIN_DEFAULTS.patience,
    batchSize,
    learningRate,
    units,
    seed,
    emaSpan: o.emaSpan ?? 24,
    featureColumns: FEATURE_NAMES,
    finalWindowStart: iso(FINAL_WINDOW_START),
  };
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
    trading: { feeBps, threshold: 0, mode: 'long-flat', periodsPerYear: ppy },
    config,
    folds: foldResults,
    overall: { n: overall.actual.length, models: overallModels, buyAndHold: buyAndHold(overall.actual, trading).summary },
    series: { eventTimes: overall.times, actual: overall.actual, forecasts: Object.fromEntries([...overall.forecasts.entries()].map(([k, v]) => [k, v.pred])) },
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
