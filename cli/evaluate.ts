// `bitpredict evaluate`: walk-forward evaluation of the LSTM-attention distributional model beside
// the four baselines (persistence, EWMA, HAR-RV, GARCH; proper scores per horizon) and, for point
// forecasts, persistence, EMA drift and a ridge/logistic model, on the real hourly data (the same feature code the live
// processor runs, over the files in the data folder) or on the features topic. Writes a JSON
// result and a self-contained HTML report, and prints progress on stderr.
//   development (default): folds end before the final evaluation window (2025-01-01, hourly).
//   final: one fold trained and validated before 2025-01-01, tested on the final window only.
//     One look per model design: the final-window ledger (trainer/ledger.ts) is checked before any
//     data is read, and the run's headline figures are appended to it as soon as they exist.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseFlags, UsageError } from './flags.js';
import { EVALUATE_FLAGS } from './specs.js';
import type { CommandContext } from './context.js';
import { BitPredictError } from '../core/errors.js';
import { costsFlags, deadRowReporter, isoTimeFlag as time, textFilesFlags, wholeNumberFlag as int, type TextFilesChoice } from './args.js';
import { progressBar } from '../core/progress.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../core/runtime.js';
import { readCandleFile, loadTextsFromFiles } from '../core/data/load.js';
import { describeDroppedLastRow } from '../core/data/candle-file.js';
import { TEXT_DATA_FILES } from '../core/data/text/index.js';
import { readFeaturesWithSource } from '../trainer/data.js';
import { featuresFromCandles, seriesOf } from '../core/features/batch.js';
import { loadTf } from '../core/models/tf.js';
import { runWalkForward } from '../trainer/walk-forward-run.js';
import { goalsOf, renderReport, verdictOf } from '../trainer/domain/report.js';
import { FINAL_WINDOW_START } from '../core/models/domain/dataset.js';
import { intervalMs } from '../core/domain/intervals.js';
import type { FeatureVector } from '../schemas/types.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import { FEATURE_SET_VERSION } from '../core/features/indicators.js';
import { DEFAULT_LEDGER_PATH, openFinalWindowRun, type FinalWindowRun } from '../trainer/ledger.js';
import { distributionalHeadlineOf, headlineOf, lstmDistributionalDesign } from '../trainer/domain/ledger.js';
import { horizonsFor, parseHorizons } from '../core/forecast/horizons.js';
import { STUDENT_T_DOF } from '../core/models/head.js';
import { codeCommit, filesLineage, type ArtifactLineage } from '../core/models/lineage.js';

const HOUR = 3_600_000;

export async function loadSeries(
  ctx: CommandContext,
  o: {
    source: string;
    symbol: string;
    interval: string;
    from: number;
    to: number;
    warmupMs: number;
    log(line: string): void;
    /** --text-file / --text-columns (the built-in list when absent). */
    texts?: TextFilesChoice;
  },
  /** Receives the data lineage of the series (file hashes or topic offsets). */
  onLineage?: (lineage: Omit<ArtifactLineage, 'commit'>) => void,
): Promise<FeatureVector[]> {
  const { config } = ctx;
  if (o.source === 'kafka') {
    if (o.texts?.own) throw new BitPredictError('ERR_CONFIG_INVALID', '--text-file applies to --source files: the features topic has its texts joined already');
    const platform = createPlatform({ config, logger: ctx.logger, registry: createMetricsRegistry({ service: 'evaluate' }), clientId: 'evaluate' });
    await prepareTopicsAndSchemas(platform, config.kafka);
    const { series, source } = await readFeaturesWithSource(platform, { symbol: o.symbol, interval: o.interval, from: o.from - o.warmupMs, to: o.to });
    onLineage?.({ sources: [source] });
    o.log(`read ${series.length} feature vectors of ${o.symbol}:${o.interval} from the features topic`);
    return series;
  }
  if (o.source !== 'files') throw new BitPredictError('ERR_CONFIG_INVALID', `--source must be files or kafka, not "${o.source}"`);
  const read = await readCandleFile(config.data.dir, config.replay.file, o.symbol, o.interval, {
    from: o.from - o.warmupMs,
    to: o.to,
    columns: config.replay.columns,
    dropLast: config.replay.dropLast,
  });
  const { candles } = read;
  if (read.droppedLastRow !== null) o.log(describeDroppedLastRow(read.droppedLastRow));
  const textFiles = o.texts?.files ?? TEXT_DATA_FILES;
  const columns = o.texts?.columns;
  const { texts, files } = loadTextsFromFiles(config.data.dir, textFiles, {
    ...(columns ? { columns } : {}),
    onDeadRow: deadRowReporter(o.log, { moreNote: '(the count is in the line per file)' }),
  });
  for (const f of files)
    o.log(
      `texts: ${f.texts} from ${f.file} (${f.format}${f.columns ? ` columns ${JSON.stringify(f.columns)}` : ''}; ${f.rows} rows, ${f.dead} malformed or future-dated, ${f.duplicates} duplicates${f.excluded.map((e) => `, ${e.rows} excluded: ${e.reason}`).join('')})`,
    );
  const windowMs = config.features.sentimentWindowMs;
  if (onLineage) onLineage(await filesLineage(config.data.dir, config.replay.file, candles, textFiles, texts, windowMs));
  o.log(`computing features over ${candles.length} candles and ${texts.length} texts from ${config.data.dir} (the live processor's code)`);
  return seriesOf(featuresFromCandles(candles, texts, { windowMs }), o.symbol, o.interval);
}

export async function evaluate(ctx: CommandContext): Promise<number> {
  const { values } = parseFlags(EVALUATE_FLAGS, ctx.args);
  const purpose = values.purpose;
  if (purpose !== 'development' && purpose !== 'final')
    throw new BitPredictError('ERR_CONFIG_INVALID', `--purpose must be development or final, not "${purpose}"`);
  const trainMode = values['train-mode'];
  if (trainMode !== 'rolling' && trainMode !== 'expanding')
    throw new BitPredictError('ERR_CONFIG_INVALID', `--train-mode must be rolling or expanding, not "${trainMode}"`);
  const symbol = values.symbol ?? ctx.config.replay.symbol;
  const interval = values.interval ?? ctx.config.replay.interval;
  const from = time('from', values.from, purpose === 'final' ? Date.UTC(2022, 0, 1) : Date.UTC(2019, 0, 1));
  const to = time('to', values.to, purpose === 'final' ? Date.UTC(2026, 1, 1) : FINAL_WINDOW_START);
  const T = int('T', values.T, 48);
  const units = values.units ? int('units', values.units, MODEL_DEFAULTS.units) : MODEL_DEFAULTS.units;
  const horizons = horizonsFor(parseHorizons(ctx.config.forecast.horizons), interval);
  const costs = costsFlags(values);
  const texts = textFilesFlags(values);
  if (texts.own && values.source === 'kafka') throw new UsageError('--text-file applies to --source files: the features topic has its texts joined already');
  const log = (line: string): void => ctx.output.note(`[evaluate] ${line}`);
  const finalRun = await openFinalRun(ctx, purpose, { T, units, horizons, forceReason: values['force-reason'], ledger: values.ledger }, log);
  const backendFlag = values.backend as 'tensorflow' | 'wasm' | 'cpu' | undefined;
  const loaded = await loadTf(backendFlag);
  log(`tfjs backend: ${loaded.backend}`);
  const data: { lineage?: ArtifactLineage } = {};
  const series = await loadSeries(ctx, { source: values.source, symbol, interval, from, to, warmupMs: 200 * HOUR, log, texts }, (l) => {
    data.lineage = { commit: codeCommit(), ...l };
  });
  const started = Date.now();
  const result = await runWalkForward({
    loaded,
    series,
    symbol,
    interval,
    purpose,
    start: from,
    end: to,
    T,
    horizons,
    trainMode,
    trainPeriods: int('train-periods', values['train-periods'], 2 * 8760),
    valPeriods: int('val-periods', values['val-periods'], 720),
    testPeriods: int(
      'test-periods',
      values['test-periods'],
      purpose === 'final' ? Math.max(1, Math.ceil((to - FINAL_WINDOW_START) / intervalMs(interval))) : 4380,
    ),
    ...(values.epochs ? { epochs: int('epochs', values.epochs, 8) } : {}),
    units,
    costs,
    seed: int('seed', values.seed, 42),
    onProgress: log,
    onBatch: (fold, folds, b, bs) => {
      if (b % 20 === 0 || b === bs) ctx.output.progress(`\r[evaluate] fold ${fold}/${folds} ${progressBar(b, bs)}`);
    },
    onEpoch: (fold, folds, e) =>
      ctx.output.progress(
        `\r[evaluate]   fold ${fold}/${folds} epoch ${e.epoch}: loss ${e.loss.toFixed(4)}${e.valLoss === null ? '' : `, val ${e.valLoss.toFixed(4)}`} (${e.seconds.toFixed(1)} s)${' '.repeat(24)}\n`,
      ),
  });
  // Recorded before anything is written: a run whose figures exist is a look, whatever happens next.
  if (finalRun) {
    const { overall } = result;
    const dist = result.distributional;
    await finalRun.record(
      { from: result.data.from, to: result.data.to },
      { ...headlineOf(overall.n, overall.models, overall.buyAndHold), ...(dist ? distributionalHeadlineOf(dist.model, dist.scores) : {}) },
    );
    log(`recorded in the final-window ledger (design ${finalRun.designId}${finalRun.forced ? ', forced' : ''})`);
  }
  const out = resolve(values.out ?? `reports/evaluation-${purpose}-${symbol}-${interval}`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.json`, `${JSON.stringify({ ...result, lineage: data.lineage }, null, 2)}\n`);
  writeFileSync(`${out}.html`, renderReport(result));
  const verdict = verdictOf(result);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s: ${out}.json and ${out}.html`);
  const goals = result.distributional ? goalsOf(result.distributional) : [];
  for (const g of goals) log(`goal ${g.id}: ${g.text}`);
  ctx.output.json({ purpose, folds: result.folds.length, windows: result.overall.n, costs: result.costs, verdict, goals });
  return 0;
}

/**
 * A final run's place in the final-window ledger, checked before any data is read: ERR_FINAL_WINDOW
 * if this design has looked already and no --force-reason is given. Development runs need none.
 */
async function openFinalRun(
  ctx: CommandContext,
  purpose: 'development' | 'final',
  o: { T: number; units: number; horizons: readonly number[]; forceReason: string | undefined; ledger: string | undefined },
  log: (line: string) => void,
): Promise<FinalWindowRun | undefined> {
  if (purpose !== 'final') {
    if (o.forceReason !== undefined || o.ledger !== undefined)
      throw new BitPredictError(
        'ERR_CONFIG_INVALID',
        '--force-reason and --ledger apply to --purpose final only (development runs never read the final window)',
      );
    return undefined;
  }
  // The design evaluate trains: the distributional LSTM-attention on today's feature set.
  const design = lstmDistributionalDesign({
    T: o.T,
    units: o.units,
    attentionUnits: MODEL_DEFAULTS.attentionUnits,
    dropout: MODEL_DEFAULTS.dropout,
    featureSetVersion: FEATURE_SET_VERSION,
    horizons: o.horizons,
    dof: STUDENT_T_DOF,
  });
  const ledgerPath = o.ledger ?? DEFAULT_LEDGER_PATH;
  const run = await openFinalWindowRun({
    ledgerPath,
    design,
    ...(o.forceReason === undefined ? {} : { forceReason: o.forceReason }),
    kind: 'evaluate',
    command: ['bitpredict', 'evaluate', ...ctx.args],
  });
  log(
    run.forced
      ? `final window: design ${run.designId} looked ${run.previous.length} time(s) before; forced ("${run.forced.reason}"), recorded in ${ledgerPath}`
      : `final window: first look at design ${run.designId}; the run will be recorded in ${ledgerPath}`,
  );
  return run;
}
