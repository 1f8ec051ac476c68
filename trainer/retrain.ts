// One retrain with champion/challenger: fit normalisation on the training range, train with early
// stopping on the validation range right after it, save a versioned artifact, then compare with the
// champion on the SAME validation windows and promote (registry + announcement) only by the margin.
// Used by `bitpredict train` and by the trainer service (schedule, degradation).
import type { Config } from '../core/config.js';
import { progressBar } from '../core/progress.js';
import type { FeatureVector } from '../schemas/types.js';
import type { LoadedTf, TfModule } from '../core/models/tf.js';
import { assertNotFinal, buildWindows, fitNormalizer, FEATURE_NAMES, type WindowSet } from '../core/models/domain/dataset.js';
import { directionalAccuracy, regressionMetrics } from './domain/metrics.js';
import { decidePromotion, type PromotionDecision } from './domain/promotion.js';
import { trainModel, predict, TRAIN_DEFAULTS } from './model/train.js';
import { RETURN_SCALE } from '../core/models/model.js';
import { artifactDir, loadArtifact, saveArtifact, type ArtifactMeta } from '../core/models/artifact.js';
import { readRegistry, recordPromotion, recordRejection } from '../core/models/registry.js';

const DAY = 86_400_000;

export interface RetrainOptions {
  config: Pick<Config, 'models'>;
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
}

export interface RetrainResult {
  version: string;
  dir: string;
  meta: ArtifactMeta;
  decision: PromotionDecision;
}

/** Validation MSE of a stored model on the validation range, with its own normaliser and T. */
async function mseOf(tf: TfModule, dir: string, series: FeatureVector[], from: number, to: number): Promise<{ mse: number; n: number }> {
  const a = await loadArtifact(tf, dir, { featureSetVersion: series[0]?.featureSetVersion ?? '' });
  try {
    const set = buildWindows(series, { T: a.meta.T, from, to, normalizer: a.meta.normalizer });
    const p = predict(tf, a.model, set.X, set.n, set.T, set.F, 512, a.meta.returnScale);
    return { mse: regressionMetrics(p.ret, set.yReturn).mse ?? Number.POSITIVE_INFINITY, n: set.n };
  } finally {
    a.model.dispose();
  }
}

export async function retrain(o: RetrainOptions): Promise<RetrainResult> {
  const { config, loaded, series, symbol, interval, trainFrom, trainTo, valTo, T, seed, epochs, units, log } = o;
  assertNotFinal({ from: trainFrom, to: valTo }, interval, 'fit');
  const normalizer = fitNormalizer(series, { from: trainFrom, to: trainTo });
  const trainSet: WindowSet = buildWindows(series, { T, from: trainFrom, to: trainTo, normalizer });
  const valSet: WindowSet = buildWindows(series, { T, from: trainTo, to: valTo, normalizer });
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
  const p = predict(loaded.tf, result.model, valSet.X, valSet.n, valSet.T, valSet.F);
  const mse = regressionMetrics(p.ret, valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const persistenceMse = regressionMetrics(new Float64Array(valSet.n), valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const da = directionalAccuracy(p.ret, valSet.yReturn).accuracy ?? Number.NaN;
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
    returnScale: RETURN_SCALE,
    trainedFrom: trainFrom,
    trainedTo: trainTo,
    metrics: {
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
    },
  };
  const dir = await saveArtifact(loaded.tf, result.model, meta, config.models.storeDir);
  result.model.dispose();
  log(`saved ${dir}: validation MSE ${mse.toExponential(4)} (persistence ${persistenceMse.toExponential(4)}), directional accuracy ${(da * 100).toFixed(1)} %`);
  // Champion/challenger on the same validation windows.
  const reg = await readRegistry(config.models.storeDir, config.models.name);
  let championMse: number | null = null;
  if (reg.champion !== null) {
    championMse = (await mseOf(loaded.tf, artifactDir(config.models.storeDir, config.models.name, reg.champion), series, trainTo, valTo)).mse;
  }
  const decision = decidePromotion({ challengerMse: mse, championMse, persistenceMse, margin: config.models.promotionMargin });
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
