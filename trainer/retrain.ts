// One retrain with champion/challenger: fit normalisation on the training range, train with early
// stopping on the validation range right after it, save a versioned artifact, then compare on the
// SAME validation target times and promote (registry + announcement) only by the rule of
// trainer/domain/promotion.ts. The comparison uses the proper score of the distributions: the
// pinball loss over the quantile grid, averaged over the horizons, of the challenger, the champion
// and every baseline (persistence, EWMA, HAR-RV, GARCH fitted by core/forecast runBaselines on the
// same training range).
// Purpose: 'research' (`bitpredict train`, the default) keeps the final-window rule (hourly data
// from 2025-01-01 is never fitted or early-stopped on); 'live' (the trainer service, the demo,
// `bitpredict train --live`) trains on the window that ends at the latest data: the rule protects
// research figures, and a served model must learn from the most recent market.
import type { Config } from '../core/config.js';
import { progressBar } from '../core/progress.js';
import type { FeatureVector } from '../schemas/types.js';
import type { LoadedTf, TfModule } from '../core/models/tf.js';
import { BitPredictError, errorMessage } from '../core/errors.js';
import { assertNotFinal, buildWindows, fitNormalizer, FEATURE_NAMES, type FitPurpose, type WindowSet } from '../core/models/domain/dataset.js';
import { directionalAccuracy, regressionMetrics } from './domain/metrics.js';
import { decidePromotion, type PromotionDecision } from './domain/promotion.js';
import { trainModel, predict, scoreHead, TRAIN_DEFAULTS, type EpochInfo } from './model/train.js';
import { artifactDir, loadArtifact, saveArtifact, type ArtifactMeta } from '../core/models/artifact.js';
import { horizonsFor, parseHorizons } from '../core/forecast/horizons.js';
import type { ForecastDistribution } from '../core/forecast/distribution.js';
import { pinballLoss } from '../core/forecast/scoring.js';
import { runBaselines } from '../core/forecast/bank.js';
import { BASELINE_NAMES, type BaselineName } from '../core/forecast/baselines.js';
import { intervalMs } from '../core/domain/intervals.js';
import { readRegistry, recordPromotion, recordRejection } from '../core/models/registry.js';
import { codeCommit, type ArtifactLineage } from '../core/models/lineage.js';

const DAY = 86_400_000;

export interface RetrainOptions {
  config: Pick<Config, 'models'> & Partial<Pick<Config, 'forecast'>>;
  /** Forecast horizons; default: config.forecast.horizons for the interval, else [1]. */
  horizons?: readonly number[];
  loaded: LoadedTf;
  series: FeatureVector[];
  symbol: string;
  interval: string;
  trainFrom: number;
  trainTo: number;
  valTo: number;
  T: number;
  seed: number;
  epochs: number;
  units: number;
  /** 'research' (default): the final-window rule holds; 'live': the range may end at the latest data. */
  purpose?: FitPurpose;
  log(line: string): void;
  /** Raw progress output (a bar), or nothing. */
  progress?(text: string): void;
  /** Called after each epoch (the demo prints its own progress line). */
  onEpoch?(e: EpochInfo, epochs: number): void;
  /** Announces a new champion (models topic); null: registry only. */
  announce: ((meta: ArtifactMeta) => Promise<void>) | null;
  now?: () => Date;
  /** What `series` was computed from (file hashes or topic ranges); retrain adds the code commit and records both in the artifact's meta. */
  lineage?: Omit<ArtifactLineage, 'commit'>;
}

export interface RetrainResult {
  version: string;
  dir: string;
  meta: ArtifactMeta;
  decision: PromotionDecision;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Pinball loss per window and horizon ([window][horizon], NaN where the label is missing). */
function windowLosses(dists: readonly ForecastDistribution[][], set: WindowSet): Float64Array {
  const H = set.horizons.length;
  const out = new Float64Array(set.n * H).fill(Number.NaN);
  for (let i = 0; i < set.n; i++)
    for (let k = 0; k < H; k++) {
      const y = set.yHorizons[i * H + k]!;
      if (Number.isFinite(y)) out[i * H + k] = pinballLoss(dists[i]![k]!.quantiles, y);
    }
  return out;
}

/**
 * Per baseline, its pinball loss at each validation window of `val` ([window][horizon], NaN where
 * the label is missing): fitted by runBaselines on the training range [trainFrom, trainTo] only,
 * forecasting at every candle of the validation range, scored against the window's own label so
 * the targets are exactly the model's. Throws ERR_VALIDATION when the baselines cannot be fitted
 * (too little training data): a challenger is never promoted without this check.
 */
function baselineLosses(
  series: readonly FeatureVector[],
  interval: string,
  trainFrom: number,
  trainTo: number,
  val: WindowSet,
): Map<BaselineName, Float64Array> {
  const H = val.horizons.length;
  const lastVal = val.eventTimes[val.n - 1]!;
  // eventTime is the candle's close time; the baselines only need a consistent time axis.
  const run = runBaselines({
    times: series.map((f) => f.eventTime),
    closes: series.map((f) => f.close),
    stepMs: intervalMs(interval),
    horizons: val.horizons,
    fitFrom: trainFrom,
    fitTo: trainTo,
    evalFrom: trainTo,
    evalTo: lastVal,
  });
  const out = new Map<BaselineName, Float64Array>();
  for (const name of BASELINE_NAMES) {
    const losses = new Float64Array(val.n * H).fill(Number.NaN);
    val.horizons.forEach((h, k) => {
      const at = new Map(
        run.forecasts
          .get(name)!
          .get(h)!
          .map((it) => [it.time, it.d]),
      );
      for (let i = 0; i < val.n; i++) {
        const y = val.yHorizons[i * H + k]!;
        if (!Number.isFinite(y)) continue;
        const d = at.get(val.eventTimes[i]!);
        if (d === undefined)
          throw new BitPredictError('ERR_VALIDATION', `baseline ${name} has no forecast at validation time ${new Date(val.eventTimes[i]!).toISOString()}`);
        losses[i * H + k] = pinballLoss(d.quantiles, y);
      }
    });
    out.set(name, losses);
  }
  return out;
}

/**
 * The stored champion's pinball loss at each validation window of `val` ([window][horizon], NaN
 * where it has no window at that time, e.g. a longer T), with its own normaliser and T; the reason
 * when it cannot be scored on these horizons.
 */
async function championLosses(
  tf: TfModule,
  dir: string,
  series: FeatureVector[],
  val: WindowSet,
  from: number,
  to: number,
): Promise<{ losses: Float64Array } | { problem: string }> {
  let a;
  try {
    a = await loadArtifact(tf, dir, { featureSetVersion: series[0]?.featureSetVersion ?? '' });
  } catch (err) {
    return { problem: errorMessage(err) };
  }
  try {
    const horizons = val.horizons;
    const hs = a.meta.forecast.horizons;
    if (hs.length !== horizons.length || hs.some((h, k) => h !== horizons[k])) return { problem: `its horizons ${JSON.stringify(hs)} differ` };
    const set = buildWindows(series, { T: a.meta.T, from, to, normalizer: a.meta.normalizer, horizons, labelTo: to });
    const own = windowLosses(predict(tf, a.model, a.meta.forecast, set.X, set.n, set.T, set.F).distributions, set);
    const H = horizons.length;
    const index = new Map(Array.from(set.eventTimes, (t, i) => [t, i]));
    const losses = new Float64Array(val.n * H).fill(Number.NaN);
    for (let i = 0; i < val.n; i++) {
      const j = index.get(val.eventTimes[i]!);
      if (j !== undefined) for (let k = 0; k < H; k++) losses[i * H + k] = own[j * H + k]!;
    }
    return { losses };
  } finally {
    a.model.dispose();
  }
}

/**
 * Mean over the horizons of the mean loss per horizon, over the (window, horizon) cells where every
 * candidate has a loss: the same target times for all. Also the number of such target times.
 */
function commonMeans(H: number, candidates: ReadonlyMap<string, Float64Array>): { means: Map<string, number>; targets: number } {
  const all = [...candidates.values()];
  const n = all[0]!.length / H;
  const sums = new Map([...candidates.keys()].map((k) => [k, new Float64Array(H)]));
  const counts = new Float64Array(H);
  const times = new Set<number>();
  for (let i = 0; i < n; i++)
    for (let k = 0; k < H; k++) {
      const c = i * H + k;
      if (!all.every((l) => Number.isFinite(l[c]!))) continue;
      counts[k]!++;
      times.add(i);
      for (const [name, l] of candidates) sums.get(name)![k]! += l[c]!;
    }
  if (counts.some((c) => c === 0)) throw new BitPredictError('ERR_VALIDATION', 'no validation target time that every candidate forecasts, for some horizon');
  const means = new Map([...sums].map(([name, s]) => [name, mean(Array.from(s, (v, k) => v / counts[k]!))]));
  return { means, targets: times.size };
}

/**
 * The artifact's per-horizon validation metrics (each over the windows with a label, as scoreHead):
 * the model's pinball loss and NLL, persistence's pinball loss, and every baseline's mean pinball.
 */
function validationMetrics(
  scores: { pinball: number[]; nll: number[] },
  baselines: Map<BaselineName, Float64Array>,
  val: WindowSet,
): { persistence: number[]; perHorizon: Record<string, number> } {
  const H = val.horizons.length;
  const horizonMean = (l: Float64Array, k: number): number => mean(Array.from({ length: val.n }, (_, i) => l[i * H + k]!).filter(Number.isFinite));
  const persistence = val.horizons.map((_, k) => horizonMean(baselines.get('persistence')!, k));
  const perHorizon: Record<string, number> = {};
  val.horizons.forEach((h, k) => {
    perHorizon[`valPinball_h${h}`] = scores.pinball[k]!;
    perHorizon[`valPersistencePinball_h${h}`] = persistence[k]!;
    perHorizon[`valNll_h${h}`] = scores.nll[k]!;
  });
  for (const [name, l] of baselines) perHorizon[`valBaselinePinball_${name}`] = mean(val.horizons.map((_, k) => horizonMean(l, k)));
  return { persistence, perHorizon };
}

/**
 * Champion/challenger on the same validation target times: the challenger, the champion (if one
 * exists and can be scored on these horizons) and every baseline, each averaged over the cells all
 * of them forecast; the decision's reason names every loss and the number of target times.
 */
async function judge(
  o: RetrainOptions,
  v: { valSet: WindowSet; challengerLosses: Float64Array; baselines: Map<BaselineName, Float64Array>; trainTo: number; valTo: number },
): Promise<PromotionDecision> {
  const { config, loaded, series, log } = o;
  const reg = await readRegistry(config.models.storeDir, config.models.name);
  const candidates = new Map<string, Float64Array>([['challenger', v.challengerLosses], ...v.baselines]);
  if (reg.champion !== null) {
    const c = await championLosses(loaded.tf, artifactDir(config.models.storeDir, config.models.name, reg.champion), series, v.valSet, v.trainTo, v.valTo);
    if ('losses' in c) candidates.set('champion', c.losses);
    else log(`champion ${reg.champion} cannot be scored on these horizons (${c.problem}); the challenger is judged against the baselines alone`);
  }
  const { means, targets } = commonMeans(v.valSet.horizons.length, candidates);
  const decision = decidePromotion({
    challenger: means.get('challenger')!,
    champion: means.get('champion') ?? null,
    baselines: Object.fromEntries(BASELINE_NAMES.map((n) => [n, means.get(n)!])),
    margin: config.models.promotionMargin,
    measure: 'pinball loss',
  });
  const where = `on ${targets} validation target times, horizons ${v.valSet.horizons.join(',')}`;
  return {
    ...decision,
    reason: `${decision.reason} (${where}${reg.champion !== null && !means.has('champion') ? `; champion ${reg.champion} not scorable` : ''})`,
  };
}

export async function retrain(o: RetrainOptions): Promise<RetrainResult> {
  const { config, loaded, series, symbol, interval, trainFrom, trainTo, valTo, T, seed, epochs, units, log } = o;
  const purpose = o.purpose ?? 'research';
  if (purpose === 'research') assertNotFinal({ from: trainFrom, to: valTo }, interval, 'fit');
  else if (purpose !== 'live') throw new BitPredictError('ERR_VALIDATION', `retrain: purpose must be research or live, got ${JSON.stringify(purpose)}`);
  const horizons = o.horizons ?? (config.forecast ? horizonsFor(parseHorizons(config.forecast.horizons), interval) : [1]);
  const normalizer = fitNormalizer(series, { from: trainFrom, to: trainTo }, purpose);
  // labelTo: no training label reads the validation range, no validation label reads past valTo.
  const trainSet: WindowSet = buildWindows(series, { T, from: trainFrom, to: trainTo, normalizer, horizons, labelTo: trainTo });
  const valSet: WindowSet = buildWindows(series, { T, from: trainTo, to: valTo, normalizer, horizons, labelTo: valTo });
  if (valSet.n === 0)
    throw new BitPredictError('ERR_VALIDATION', `no validation windows in [${new Date(trainTo).toISOString()}, ${new Date(valTo).toISOString()})`);
  // The baselines first: if they cannot be fitted, no model could be judged, so nothing is trained.
  const baselines = baselineLosses(series, interval, trainFrom, trainTo, valSet);
  log(
    `${purpose} retrain on ${trainSet.n} windows (${new Date(trainFrom).toISOString()} .. ${new Date(trainTo).toISOString()}), validating on ${valSet.n} (.. ${new Date(valTo).toISOString()})`,
  );
  const started = Date.now();
  const result = await trainModel(loaded.tf, trainSet, valSet, {
    epochs,
    batchSize: TRAIN_DEFAULTS.batchSize,
    learningRate: TRAIN_DEFAULTS.learningRate,
    seed,
    units,
    patience: TRAIN_DEFAULTS.patience,
    onBatch: (b, bs) => {
      if (b % 20 === 0 || b === bs) o.progress?.(`\r[train] ${progressBar(b, bs)}`);
    },
    onEpoch: (e) => {
      o.onEpoch?.(e, epochs);
      o.progress?.(
        `\r[train] epoch ${e.epoch}/${epochs}: loss ${e.loss.toFixed(4)}${e.valLoss === null ? '' : `, val ${e.valLoss.toFixed(4)}`} (${e.seconds.toFixed(1)} s)${' '.repeat(20)}\n`,
      );
    },
  });
  const p = predict(loaded.tf, result.model, result.forecast, valSet.X, valSet.n, valSet.T, valSet.F);
  const mse = regressionMetrics(p.ret, valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const persistenceMse = regressionMetrics(new Float64Array(valSet.n), valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const da = directionalAccuracy(p.ret, valSet.yReturn).accuracy ?? Number.NaN;
  const scores = scoreHead(loaded.tf, result.model, result.forecast, valSet);
  const challengerLosses = windowLosses(p.distributions, valSet);
  const { persistence, perHorizon } = validationMetrics(scores, baselines, valSet);
  const pinball = mean(scores.pinball);
  const persistenceLoss = mean(persistence);
  const now = o.now?.() ?? new Date();
  const version = now.toISOString().replace(/[:.]/g, '-');
  const meta: ArtifactMeta = {
    name: config.models.name,
    version,
    featureSetVersion: series[0]?.featureSetVersion ?? 'unknown',
    featureColumns: [...FEATURE_NAMES],
    normalizer,
    T,
    F: FEATURE_NAMES.length,
    forecast: result.forecast,
    trainedFrom: trainFrom,
    trainedTo: trainTo,
    metrics: {
      valPinball: pinball,
      valPersistencePinball: persistenceLoss,
      valNll: mean(scores.nll),
      ...perHorizon,
      valMse: mse,
      valPersistenceMse: persistenceMse,
      valDirectionalAccuracy: da,
      valWindows: valSet.n,
      trainWindows: trainSet.n,
      bestEpoch: result.bestEpoch,
      trainSeconds: (Date.now() - started) / 1000,
    },
    backend: loaded.backend,
    codeVersion: process.env.npm_package_version ?? '0.1.0',
    createdAt: now.toISOString(),
    expiresAt: config.models.expiryDays > 0 ? new Date(now.getTime() + config.models.expiryDays * DAY).toISOString() : null,
    seed,
    hyperparameters: {
      units,
      epochs,
      batchSize: TRAIN_DEFAULTS.batchSize,
      learningRate: TRAIN_DEFAULTS.learningRate,
      symbol,
      interval,
      valFrom: new Date(trainTo).toISOString(),
      valTo: new Date(valTo).toISOString(),
      horizons: horizons.join(','),
      studentTDof: result.forecast.dof,
      calibratedOn: result.calibratedOn,
    },
    lineage: { commit: codeCommit(), sources: [], ...o.lineage },
  };
  const dir = await saveArtifact(loaded.tf, result.model, meta, config.models.storeDir);
  result.model.dispose();
  log(
    `saved ${dir}: validation pinball ${horizons.map((h, k) => `h${h} ${scores.pinball[k]!.toExponential(4)} (persistence ${persistence[k]!.toExponential(4)})`).join(', ')}; NLL ${mean(scores.nll).toFixed(4)}; directional accuracy ${(da * 100).toFixed(1)} %`,
  );
  const decision = await judge(o, { valSet, challengerLosses, baselines, trainTo, valTo });
  if (decision.promote) {
    await recordPromotion(config.models.storeDir, config.models.name, version, decision.reason);
    if (o.announce) await o.announce(meta);
    log(`promoted ${version} to champion: ${decision.reason}`);
  } else {
    await recordRejection(config.models.storeDir, config.models.name, version, decision.reason);
    const reg = await readRegistry(config.models.storeDir, config.models.name);
    log(reg.champion === null ? `NOT promoted, no champion: the baselines keep serving (${decision.reason})` : `kept ${reg.champion}: ${decision.reason}`);
  }
  return { version, dir, meta, decision };
}
