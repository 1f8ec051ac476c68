// One retrain with champion/challenger: fit normalisation on the training range, train with early
// stopping on the validation range right after it, save a versioned artifact, then compare with the
// champion on the SAME validation windows and promote (registry + announcement) only by the margin.
// The comparison uses the proper score of the distributions: the pinball loss over the quantile
// grid averaged over the horizons (against the champion, or without one against persistence:
// zero mean, the training range's mean |r| as scale and its empirical shape).
// Used by `bitpredict train` and by the trainer service (schedule, degradation).
import type { Config } from '../core/config.js';
import { progressBar } from '../core/progress.js';
import type { FeatureVector } from '../schemas/types.js';
import type { LoadedTf, TfModule } from '../core/models/tf.js';
import { BitPredictError, errorMessage } from '../core/errors.js';
import { assertNotFinal, buildWindows, fitNormalizer, FEATURE_NAMES, type WindowSet } from '../core/models/domain/dataset.js';
import { directionalAccuracy, regressionMetrics } from './domain/metrics.js';
import { decidePromotion, type PromotionDecision } from './domain/promotion.js';
import { trainModel, predict, scoreHead, TRAIN_DEFAULTS } from './model/train.js';
import { artifactDir, loadArtifact, saveArtifact, type ArtifactMeta } from '../core/models/artifact.js';
import { horizonsFor, parseHorizons } from '../core/forecast/horizons.js';
import { empiricalShape, locationScale } from '../core/forecast/distribution.js';
import { pinballLoss } from '../core/models/head.js';
import { readRegistry, recordPromotion, recordRejection } from '../core/models/registry.js';
import type { ArtifactLineage } from '../core/models/lineage.js';

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
  log(line: string): void;
  /** Raw progress output (a bar), or nothing. */
  progress?(text: string): void;
  /** Announces a new champion (models topic); null: registry only. */
  announce: ((meta: ArtifactMeta) => Promise<void>) | null;
  now?: () => Date;
  /** What `series` was computed from and the code commit, recorded in the artifact's meta (none: not recorded). */
  lineage?: ArtifactLineage;
}

export interface RetrainResult {
  version: string;
  dir: string;
  meta: ArtifactMeta;
  decision: PromotionDecision;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Mean pinball loss (averaged over the horizons) of a stored model on the validation range, with
 * its own normaliser and T; null (with the reason) when it cannot be scored on these horizons.
 */
async function championPinball(
  tf: TfModule,
  dir: string,
  series: FeatureVector[],
  horizons: readonly number[],
  from: number,
  to: number,
): Promise<{ loss: number } | { problem: string }> {
  let a;
  try {
    a = await loadArtifact(tf, dir, { featureSetVersion: series[0]?.featureSetVersion ?? '' });
  } catch (err) {
    return { problem: errorMessage(err) };
  }
  try {
    const hs = a.meta.forecast.horizons;
    if (hs.length !== horizons.length || hs.some((h, k) => h !== horizons[k])) return { problem: `its horizons ${JSON.stringify(hs)} differ` };
    const set = buildWindows(series, { T: a.meta.T, from, to, normalizer: a.meta.normalizer, horizons, labelTo: to });
    return { loss: mean(scoreHead(tf, a.model, a.meta.forecast, set).pinball) };
  } finally {
    a.model.dispose();
  }
}

/** Pinball loss per horizon on `val` of persistence: zero mean, scale and shape from the training labels. */
function persistencePinball(train: WindowSet, val: WindowSet): number[] {
  const H = train.horizons.length;
  return train.horizons.map((_, k) => {
    const ys: number[] = [];
    for (let i = 0; i < train.n; i++) if (Number.isFinite(train.yHorizons[i * H + k]!)) ys.push(train.yHorizons[i * H + k]!);
    const scale = mean(ys.map(Math.abs));
    const d = locationScale(0, scale, empiricalShape(ys.map((y) => y / scale)));
    let s = 0;
    let m = 0;
    for (let i = 0; i < val.n; i++) {
      const y = val.yHorizons[i * H + k]!;
      if (!Number.isFinite(y)) continue;
      s += pinballLoss(y, d.quantiles);
      m++;
    }
    return s / m;
  });
}

export async function retrain(o: RetrainOptions): Promise<RetrainResult> {
  const { config, loaded, series, symbol, interval, trainFrom, trainTo, valTo, T, seed, epochs, units, log } = o;
  assertNotFinal({ from: trainFrom, to: valTo }, interval, 'fit');
  const horizons = o.horizons ?? (config.forecast ? horizonsFor(parseHorizons(config.forecast.horizons), interval) : [1]);
  const normalizer = fitNormalizer(series, { from: trainFrom, to: trainTo });
  // labelTo: no training label reads the validation range, no validation label reads past valTo.
  const trainSet: WindowSet = buildWindows(series, { T, from: trainFrom, to: trainTo, normalizer, horizons, labelTo: trainTo });
  const valSet: WindowSet = buildWindows(series, { T, from: trainTo, to: valTo, normalizer, horizons, labelTo: valTo });
  log(`training on ${trainSet.n} windows (${new Date(trainFrom).toISOString()} .. ${new Date(trainTo).toISOString()}), validating on ${valSet.n}`);
  const started = Date.now();
  const result = await trainModel(loaded.tf, trainSet, valSet.n > 0 ? valSet : null, {
    epochs,
    batchSize: TRAIN_DEFAULTS.batchSize,
    learningRate: TRAIN_DEFAULTS.learningRate,
    seed,
    units,
    patience: TRAIN_DEFAULTS.patience,
    onBatch: (b, bs) => {
      if (b % 20 === 0 || b === bs) o.progress?.(`\r[train] ${progressBar(b, bs)}`);
    },
    onEpoch: (e) =>
      o.progress?.(
        `\r[train] epoch ${e.epoch}/${epochs}: loss ${e.loss.toFixed(4)}${e.valLoss === null ? '' : `, val ${e.valLoss.toFixed(4)}`} (${e.seconds.toFixed(1)} s)${' '.repeat(20)}\n`,
      ),
  });
  if (valSet.n === 0)
    throw new BitPredictError('ERR_VALIDATION', `no validation windows in [${new Date(trainTo).toISOString()}, ${new Date(valTo).toISOString()})`);
  const p = predict(loaded.tf, result.model, result.forecast, valSet.X, valSet.n, valSet.T, valSet.F);
  const mse = regressionMetrics(p.ret, valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const persistenceMse = regressionMetrics(new Float64Array(valSet.n), valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const da = directionalAccuracy(p.ret, valSet.yReturn).accuracy ?? Number.NaN;
  const scores = scoreHead(loaded.tf, result.model, result.forecast, valSet);
  const persistence = persistencePinball(trainSet, valSet);
  const pinball = mean(scores.pinball);
  const persistenceLoss = mean(persistence);
  const perHorizon: Record<string, number> = {};
  horizons.forEach((h, k) => {
    perHorizon[`valPinball_h${h}`] = scores.pinball[k]!;
    perHorizon[`valPersistencePinball_h${h}`] = persistence[k]!;
    perHorizon[`valNll_h${h}`] = scores.nll[k]!;
  });
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
    ...(o.lineage === undefined ? {} : { lineage: o.lineage }),
  };
  const dir = await saveArtifact(loaded.tf, result.model, meta, config.models.storeDir);
  result.model.dispose();
  log(
    `saved ${dir}: validation pinball ${horizons.map((h, k) => `h${h} ${scores.pinball[k]!.toExponential(4)} (persistence ${persistence[k]!.toExponential(4)})`).join(', ')}; NLL ${mean(scores.nll).toFixed(4)}; directional accuracy ${(da * 100).toFixed(1)} %`,
  );
  // Champion/challenger on the same validation windows.
  const reg = await readRegistry(config.models.storeDir, config.models.name);
  let championLoss: number | null = null;
  if (reg.champion !== null) {
    const c = await championPinball(loaded.tf, artifactDir(config.models.storeDir, config.models.name, reg.champion), series, horizons, trainTo, valTo);
    if ('loss' in c) championLoss = c.loss;
    else log(`champion ${reg.champion} cannot be scored on these horizons (${c.problem}); the challenger is compared with persistence`);
  }
  const decision = decidePromotion({
    challengerMse: pinball,
    championMse: championLoss,
    persistenceMse: persistenceLoss,
    margin: config.models.promotionMargin,
    measure: 'pinball loss',
  });
  if (decision.promote) {
    await recordPromotion(config.models.storeDir, config.models.name, version, decision.reason);
    if (o.announce) await o.announce(meta);
    log(`promoted ${version} to champion: ${decision.reason}`);
  } else {
    await recordRejection(config.models.storeDir, config.models.name, version, decision.reason);
    log(`kept ${reg.champion ?? 'no champion'}: ${decision.reason}`);
  }
  return { version, dir, meta, decision };
}
