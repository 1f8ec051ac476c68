// `bitpredict train`: trains the LSTM-attention model on a training range (early stopping on the
// validation range right after it, never in the final evaluation window), saves a versioned
// artifact in the model store, and applies the champion/challenger rule on the SAME validation
// target times: the new model becomes champion (registry + announcement on the models topic) only
// if it beats the champion by BITPREDICT_MODEL_PROMOTION_MARGIN and does not lose to the best
// baseline — or, with no champion yet, beats the best baseline by the margin — measured by the
// pinball loss of the forecast distributions (horizons from BITPREDICT_FORECAST_HORIZONS).
// `--live` trains for serving instead of research: two years + --val-days ending at the latest data
// of the source, which the final-window rule (a research rule) does not hold back.
// `bitpredict models list|show <version|latest|champion> [--json]|promote <version>|rollback` for people.
import { parseFlags, UsageError } from './flags.js';
import { MODELS_SHOW_FLAGS, TRAIN_FLAGS } from './specs.js';
import type { CommandContext } from './context.js';
import { BitPredictError } from '../core/errors.js';
import { isoTimeFlag as parseTime, textFilesFlags, wholeNumberFlag } from './args.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../core/runtime.js';
import { loadSeries } from './evaluate.js';
import { loadTf } from '../core/models/tf.js';
import { retrain } from '../trainer/retrain.js';
import { assertNotFinal, FINAL_WINDOW_START } from '../core/models/domain/dataset.js';
import { TRAIN_DEFAULTS } from '../trainer/model/train.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import { announce, listVersions, readMeta, readRegistry, recordPromotion, resolveVersion, rollback } from '../core/models/registry.js';
import type { ArtifactMeta } from '../core/models/artifact.js';
import { describeLineage, type ArtifactLineage } from '../core/models/lineage.js';
import { startSigning } from '../core/models/signing.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export async function train(ctx: CommandContext): Promise<number> {
  const { config } = ctx;
  const log = (line: string): void => ctx.output.note(`[train] ${line}`);
  const { values } = parseFlags(TRAIN_FLAGS, ctx.args);
  const symbol = values.symbol ?? config.replay.symbol;
  const interval = values.interval ?? config.replay.interval;
  const valDays = wholeNumberFlag('val-days', values['val-days'], 30, 1);
  const texts = textFilesFlags(values);
  if (texts.own && values.source === 'kafka') throw new UsageError('--text-file applies to --source files: the features topic has its texts joined already');
  const live = values.live;
  if (live && (values['train-to'] !== undefined || values['train-from'] !== undefined))
    throw new UsageError('--live trains on the window that ends at the latest data: it takes no --train-from or --train-to');
  // Research default: two years of training ending where a 30-day validation window ends at the final window.
  const trainToMeaning = `the end of training: the ${valDays} validation days (--val-days) follow it`;
  let valTo = parseTime('train-to', values['train-to'], FINAL_WINDOW_START - valDays * DAY, trainToMeaning) + valDays * DAY;
  let trainTo = valTo - valDays * DAY;
  if (!live && interval === '1h' && valTo > FINAL_WINDOW_START) {
    // The date typed is named as typed: the validation end (valDays later) is the one that collides.
    const iso = (t: number): string => new Date(t).toISOString();
    const typed = values['train-to'] ?? iso(trainTo);
    throw new UsageError(
      `--train-to ${typed} is too late: training ends there and the ${valDays} validation days after it (--val-days ${valDays}) would end at ${iso(valTo)}, inside the final evaluation window that starts ${iso(FINAL_WINDOW_START)}. The latest --train-to that works with --val-days ${valDays} is ${iso(FINAL_WINDOW_START - valDays * DAY)} (or give fewer --val-days)`,
    );
  }
  let trainFrom = parseTime('train-from', values['train-from'], trainTo - 730 * DAY);
  if (!live) assertNotFinal({ from: trainFrom, to: valTo }, interval, 'fit');
  // Live: read up to now with two years of slack (a source may end before today), then end at its last vector.
  const loadFrom = live ? Date.now() - (730 + valDays + 730) * DAY : trainFrom;
  const loadTo = live ? Date.now() : valTo;
  const T = wholeNumberFlag('T', values.T, 48, 1);
  const seed = wholeNumberFlag('seed', values.seed, 42, 1);
  const epochs = wholeNumberFlag('epochs', values.epochs, TRAIN_DEFAULTS.epochs, 1);
  const units = wholeNumberFlag('units', values.units, MODEL_DEFAULTS.units, 1);
  const loaded = await loadTf(values.backend as 'tensorflow' | 'wasm' | 'cpu' | undefined);
  log(`tfjs backend: ${loaded.backend}`);
  const data: { lineage?: Omit<ArtifactLineage, 'commit'> } = {};
  const series = await loadSeries(ctx, { source: values.source, symbol, interval, from: loadFrom, to: loadTo, warmupMs: 200 * HOUR, log, texts }, (l) => {
    data.lineage = l;
  });
  if (live) {
    const first = series[0];
    const last = series[series.length - 1];
    if (first === undefined || last === undefined)
      throw new BitPredictError('ERR_VALIDATION', `--live: no ${symbol}:${interval} feature vectors in the source`);
    valTo = last.eventTime;
    trainTo = valTo - valDays * DAY;
    trainFrom = Math.max(trainTo - 730 * DAY, first.eventTime + 200 * HOUR);
    if (trainFrom >= trainTo)
      throw new BitPredictError(
        'ERR_VALIDATION',
        `--live: the source's data (${new Date(first.eventTime).toISOString()} ..) is too short for ${valDays} validation days`,
      );
    log(
      `live: training ${new Date(trainFrom).toISOString()} .. ${new Date(trainTo).toISOString()}, validating to the latest data ${new Date(valTo).toISOString()}`,
    );
  }
  const out = await retrain({
    config,
    loaded,
    series,
    symbol,
    interval,
    trainFrom,
    trainTo,
    valTo,
    T,
    seed,
    epochs,
    units,
    purpose: live ? 'live' : 'research',
    log,
    progress: (line) => ctx.output.progress(line),
    ...(data.lineage === undefined ? {} : { lineage: data.lineage }),
    announce: values['no-announce']
      ? null
      : async (meta) => {
          const platform = createPlatform({ config, logger: ctx.logger, registry: createMetricsRegistry({ service: 'train' }), clientId: 'train' });
          await prepareTopicsAndSchemas(platform, config.kafka);
          await announce(platform, meta, config.models.storeDir, config.models.artifactChunkBytes, startSigning(config.models, ctx.logger));
        },
  });
  const { version, dir, decision, meta } = out;
  ctx.output.json({ version, dir, promoted: decision.promote, reason: decision.reason, metrics: meta.metrics });
  return 0;
}

/** The validation score of a listed version: pinball loss for distributional artifacts, MSE for older point-forecast ones. */
function scoreText(m: Record<string, number> | undefined): string {
  if (m?.valPinball !== undefined) return `valPinball ${m.valPinball.toExponential(3)} (persistence ${m.valPersistencePinball?.toExponential(3)})`;
  return `valMse ${m?.valMse?.toExponential(3)} (persistence ${m?.valPersistenceMse?.toExponential(3)}; point forecast: retrain)`;
}

const USAGE = 'usage: bitpredict models list|show <version|latest|champion> [--json]|promote <version>|rollback';

/** An artifact's meta for people: identity, training range, head, hyperparameters, every metric, and the lineage. */
export function describeMeta(meta: ArtifactMeta, champion: string | null): string[] {
  const iso = (t: number): string => new Date(t).toISOString();
  const kv = (o: Record<string, number | string | boolean>, fmt: (v: number | string | boolean) => string): string[] =>
    Object.keys(o)
      .sort()
      .map((k) => `  ${k.padEnd(28)} ${fmt(o[k]!)}`);
  const num = (v: number | string | boolean): string => {
    if (typeof v !== 'number' || Number.isInteger(v)) return String(v);
    return Math.abs(v) < 1e-3 ? v.toExponential(4) : v.toPrecision(6);
  };
  return [
    `model ${meta.name} version ${meta.version}${meta.version === champion ? ' (champion)' : ''}`,
    `  created       ${meta.createdAt}, expires ${meta.expiresAt ?? 'never'}`,
    `  trained on    ${iso(meta.trainedFrom)} .. ${iso(meta.trainedTo)} (window end times)`,
    `  model         T=${meta.T}, F=${meta.F}, ${meta.forecast ? `horizons ${meta.forecast.horizons.join(',')}` : 'point forecast (no distributional head)'}`,
    `  backend       ${meta.backend}, seed ${meta.seed}, code version ${meta.codeVersion}`,
    'hyperparameters:',
    ...kv(meta.hyperparameters, String),
    'metrics:',
    ...kv(meta.metrics, num),
    ...describeLineage(meta.lineage, meta.featureSetVersion),
  ];
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
      ctx.output.line(
        `${mark} ${v.version}  ${v.meta ? `${scoreText(m)}  expires ${v.meta.expiresAt ?? 'never'}  ${v.meta.backend}` : `UNREADABLE: ${v.problem ?? ''}`}`,
      );
    }
    if (reg.champion === null) ctx.output.line(`no champion for ${name} yet`);
    return 0;
  }
  const announceChampion = async (version: string): Promise<void> => {
    const platform = createPlatform({ config, logger: ctx.logger, registry: createMetricsRegistry({ service: 'models' }), clientId: 'models' });
    await prepareTopicsAndSchemas(platform, config.kafka);
    await announce(platform, await readMeta(store, name, version), store, config.models.artifactChunkBytes, startSigning(config.models, ctx.logger));
  };
  if (sub === 'promote') {
    if (!arg) throw new BitPredictError('ERR_CONFIG_INVALID', 'usage: bitpredict models promote <version>');
    await recordPromotion(store, name, arg, 'promoted by hand');
    await announceChampion(arg);
    ctx.output.line(`${name}: champion is now ${arg}`);
    return 0;
  }
  if (sub === 'rollback') {
    const s = await rollback(store, name);
    await announceChampion(s.champion as string);
    ctx.output.line(`${name}: rolled back; champion is now ${String(s.champion)}`);
    return 0;
  }
  if (sub === 'show') {
    const { values, positionals } = parseFlags(MODELS_SHOW_FLAGS, ctx.args.slice(1), true);
    if (positionals.length !== 1) throw new UsageError(`show takes one version, got ${positionals.length}`);
    const version = await resolveVersion(store, name, positionals[0]!);
    const meta = await readMeta(store, name, version);
    if (values.json) ctx.output.json(meta);
    else ctx.output.text(`${describeMeta(meta, (await readRegistry(store, name)).champion).join('\n')}\n`);
    return 0;
  }
  throw new BitPredictError('ERR_CONFIG_INVALID', `${USAGE} (got "${sub}")`);
}
