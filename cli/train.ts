// `bitpredict train`: trains the LSTM-attention model on a training range (early stopping on the
// validation range right after it, never in the final evaluation window), saves a versioned
// artifact in the model store, and applies the champion/challenger rule on the SAME validation
// windows: the new model becomes champion (registry + announcement on the models topic) only if
// it beats the champion — or, with none yet, persistence — by BITPREDICT_MODEL_PROMOTION_MARGIN.
// `bitpredict models list|promote <version>|rollback` for people.
import { parseArgs } from 'node:util';
import type { CommandContext } from './main.js';
import { BitPredictError } from '../core/errors.js';
import { isoTimeFlag as parseTime, wholeNumberFlag } from './args.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../core/runtime.js';
import { loadSeries } from './evaluate.js';
import { loadTf } from '../trainer/tf.js';
import { assertNotFinal, buildWindows, fitNormalizer, FEATURE_NAMES, FINAL_WINDOW_START, type WindowSet } from '../trainer/domain/dataset.js';
import { directionalAccuracy, regressionMetrics } from '../trainer/domain/metrics.js';
import { decidePromotion } from '../trainer/domain/promotion.js';
import { trainModel, predict, TRAIN_DEFAULTS } from '../trainer/model/train.js';
import { MODEL_DEFAULTS, RETURN_SCALE } from '../trainer/model/model.js';
import { artifactDir, loadArtifact, saveArtifact, type ArtifactMeta } from '../trainer/model/artifact.js';
import { announce, listVersions, readMeta, readRegistry, recordPromotion, recordRejection, rollback } from '../trainer/registry.js';
import type { FeatureVector } from '../schemas/types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const log = (line: string): void => {
  process.stderr.write(`[train] ${line}\n`);
};

function bar(done: number, total: number): string {
  const w = 30;
  const k = Math.round((done / Math.max(total, 1)) * w);
  return `[${'#'.repeat(k)}${'.'.repeat(w - k)}] ${done}/${total}`;
}

/** Validation MSE of a stored model on the series' validation range, with its own normaliser and T. */
async function mseOf(tf: Awaited<ReturnType<typeof loadTf>>['tf'], dir: string, series: FeatureVector[], from: number, to: number): Promise<{ mse: number; n: number }> {
  const a = await loadArtifact(tf, dir, { featureSetVersion: series[0]?.featureSetVersion ?? '' });
  try {
    const set = buildWindows(series, { T: a.meta.T, from, to, normalizer: a.meta.normalizer });
    const p = predict(tf, a.model, set.X, set.n, set.T, set.F, 512, a.meta.returnScale);
    return { mse: regressionMetrics(p.ret, set.yReturn).mse ?? Number.POSITIVE_INFINITY, n: set.n };
  } finally {
    a.model.dispose();
  }
}

export async function train(ctx: CommandContext): Promise<number> {
  const { config } = ctx;
  const { values } = parseArgs({
    args: ctx.args,
    options: {
      source: { type: 'string', default: 'files' }, symbol: { type: 'string' }, interval: { type: 'string' },
      'train-from': { type: 'string' }, 'train-to': { type: 'string' }, 'val-days': { type: 'string' },
      T: { type: 'string' }, epochs: { type: 'string' }, units: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' },
      'no-announce': { type: 'boolean', default: false },
    },
  });
  const symbol = values.symbol ?? config.replay.symbol;
  const interval = values.interval ?? config.replay.interval;
  const valDays = wholeNumberFlag('val-days', values['val-days'], 30, 1);
  // Default: two years of training ending where a 30-day validation window ends at the final window.
  const valTo = parseTime('train-to', values['train-to'], FINAL_WINDOW_START - valDays * DAY) + valDays * DAY;
  const trainTo = valTo - valDays * DAY;
  const trainFrom = parseTime('train-from', values['train-from'], trainTo - 730 * DAY);
  assertNotFinal({ from: trainFrom, to: valTo }, interval, 'fit');
  const T = wholeNumberFlag('T', values.T, 48, 1);
  const seed = wholeNumberFlag('seed', values.seed, 42, 1);
  const epochs = wholeNumberFlag('epochs', values.epochs, TRAIN_DEFAULTS.epochs, 1);
  const units = wholeNumberFlag('units', values.units, MODEL_DEFAULTS.units, 1);
  const loaded = await loadTf(values.backend as 'tensorflow' | 'wasm' | 'cpu' | undefined);
  log(`tfjs backend: ${loaded.backend}`);
  const series = await loadSeries(ctx, { source: values.source, symbol, interval, from: trainFrom, to: valTo, warmupMs: 200 * HOUR, log });
  const normalizer = fitNormalizer(series, { from: trainFrom, to: trainTo });
  const trainSet: WindowSet = buildWindows(series, { T, from: trainFrom, to: trainTo, normalizer });
  const valSet: WindowSet = buildWindows(series, { T, from: trainTo, to: valTo, normalizer });
  log(`training on ${trainSet.n} windows (${new Date(trainFrom).toISOString()} .. ${new Date(trainTo).toISOString()}), validating on ${valSet.n}`);
  const started = Date.now();
  const result = await trainModel(loaded.tf, trainSet, valSet.n > 0 ? valSet : null, {
    epochs, batchSize: TRAIN_DEFAULTS.batchSize, learningRate: TRAIN_DEFAULTS.learningRate, seed, units, patience: TRAIN_DEFAULTS.patience,
    onBatch: (b, bs) => {
      if (b % 20 === 0 || b === bs) process.stderr.write(`\r[train] ${bar(b, bs)}`);
    },
    onEpoch: (e) => process.stderr.write(`\r[train] epoch ${e.epoch}/${epochs}: loss ${e.loss.toFixed(4)}${e.valLoss === null ? '' : `, val ${e.valLoss.toFixed(4)}`} (${e.seconds.toFixed(1)} s)${' '.repeat(20)}\n`),
  });
  const p = predict(loaded.tf, result.model, valSet.X, valSet.n, valSet.T, valSet.F);
  const mse = regressionMetrics(p.ret, valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const persistenceMse = regressionMetrics(new Float64Array(valSet.n), valSet.yReturn).mse ?? Number.POSITIVE_INFINITY;
  const da = directionalAccuracy(p.ret, valSet.yReturn).accuracy ?? Number.NaN;
  const now = new Date();
  const version = now.toISOString().replace(/[:.]/g, '-');
  const meta: ArtifactMeta = {
    name: config.models.name, version, featureSetVersion: series[0]?.featureSetVersion ?? 'unknown', featureColumns: [...FEATURE_NAMES],
    normalizer, T, F: FEATURE_NAMES.length, returnScale: RETURN_SCALE, trainedFrom: trainFrom, trainedTo: trainTo,
    metrics: { valMse: mse, valPersistenceMse: persistenceMse, valDirectionalAccuracy: da, valWindows: valSet.n, trainWindows: trainSet.n, bestEpoch: result.bestEpoch, trainSeconds: (Date.now() - started) / 1000 },
    backend: loaded.backend, codeVersion: process.env.npm_package_version ?? '0.1.0', createdAt: now.toISOString(),
    expiresAt: config.models.expiryDays > 0 ? new Date(now.getTime() + config.models.expiryDays * DAY).toISOString() : null,
    seed, hyperparameters: { units, epochs, batchSize: TRAIN_DEFAULTS.batchSize, learningRate: TRAIN_DEFAULTS.learningRate, symbol, interval, valFrom: new Date(trainTo).toISOString(), valTo: new Date(valTo).toISOString() },
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
    if (!values['no-announce']) {
      const platform = createPlatform({ config, logger: ctx.logger, registry: createMetricsRegistry({ service: 'train' }), clientId: 'train' });
      await prepareTopicsAndSchemas(platform);
      await announce(platform, meta, config.models.storeDir);
    }
    log(`promoted ${version} to champion: ${decision.reason}`);
  } else {
    await recordRejection(config.models.storeDir, config.models.name, version, decision.reason);
    log(`kept ${reg.champion ?? 'no champion'}: ${decision.reason}`);
  }
  process.stdout.write(`${JSON.stringify({ version, dir, promoted: decision.promote, reason: decision.reason, metrics: meta.metrics })}\n`);
  return 0;
}

export async function models(ctx: CommandContext): Promise<number> {
  const { config } = ctx;
  const [sub, arg] = ctx.args;
  const name = config.models.name;
  const store = config.models.storeDir;
  if (sub === 'list' || sub === undefined) {
    const reg = await readRegistry(store, name);
    for (const v of await listVersions(store, name)) {
      const mark = v.version === reg.champion ? '*' : ' ';
      const m = v.meta?.metrics;
      process.stdout.write(`${mark} ${v.version}  ${v.meta ? `valMse ${m?.valMse?.toExponential(3)} (persistence ${m?.valPersistenceMse?.toExponential(3)})  expires ${v.meta.expiresAt ?? 'never'}  ${v.meta.backend}` : `UNREADABLE: ${v.problem ?? ''}`}\n`);
    }
    if (reg.champion === null) process.stdout.write(`no champion for ${name} yet\n`);
    return 0;
  }
  const announceChampion = async (version: string): Promise<void> => {
    const platform = createPlatform({ config, logger: ctx.logger, registry: createMetricsRegistry({ service: 'models' }), clientId: 'models' });
    await prepareTopicsAndSchemas(platform);
    await announce(platform, await readMeta(store, name, version), store);
  };
  if (sub === 'promote') {
    if (!arg) throw new BitPredictError('ERR_CONFIG_INVALID', 'usage: bitpredict models promote <version>');
    await recordPromotion(store, name, arg, 'promoted by hand');
    await announceChampion(arg);
    process.stdout.write(`${name}: champion is now ${arg}\n`);
    return 0;
  }
  if (sub === 'rollback') {
    const s = await rollback(store, name);
    await announceChampion(s.champion as string);
    process.stdout.write(`${name}: rolled back; champion is now ${String(s.champion)}\n`);
    return 0;
  }
  throw new BitPredictError('ERR_CONFIG_INVALID', `usage: bitpredict models list|promote <version>|rollback (got "${sub}")`);
}
