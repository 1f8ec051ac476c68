// `bitpredict backtest`: replays one series' history through the live feature code and a chosen
// model, point in time, and simulates a long/flat (or long/short) rule with fees and slippage.
// Events come from the market.candles and text.raw topics (read from the offsets for the range's
// timestamps with throwaway consumer groups: a live group's offsets never move) or, with
// --source files, the same events from the data folder. Writes a JSON result (byte-identical for
// the same inputs, model and flags) and a self-contained HTML report; progress goes to stderr.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseFlags, UsageError } from './flags.js';
import { BACKTEST_FLAGS } from './specs.js';
import type { CommandContext } from './context.js';
import { BitPredictError } from '../core/errors.js';
import { costsFlags, deadRowReporter, isoTimeFlag as time, textFilesFlags, wholeNumberFlag as int, type TextFilesChoice } from './args.js';
import type { CostModel } from '../trainer/domain/costs.js';
import { progressBar } from '../core/progress.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, prepareTopicsAndSchemas } from '../core/runtime.js';
import { isKnownInterval } from '../core/domain/intervals.js';
import { artifactDir } from '../core/models/artifact.js';
import { resolveVersion } from '../core/models/registry.js';
import { loadTf } from '../core/models/tf.js';
import { loadEventsFromFiles, loadEventsFromKafka } from '../trainer/backtest/source.js';
import { resolveFileArg } from '../core/data/files.js';
import { runBacktest, type ModelChoice } from '../trainer/backtest/engine.js';
import { renderBacktestReport } from '../trainer/backtest/report.js';
import type { BacktestEvents, BacktestRange } from '../trainer/backtest/types.js';
import { openBacktestFinalRun, recordBacktest } from '../trainer/ledger.js';
import { TEXT_DATA_FILES } from '../core/data/text/index.js';

/** The texts of --source files: every real text file (core/data/text TEXT_DATA_FILES), as the demo replays them into text.raw. */
export const BACKTEST_TEXT_FILES: string[] = [...TEXT_DATA_FILES];
/** The 1-minute slice in the data folder (2024-03, three weeks). */
export const MINUTE_FILE = 'btc_binance_spot_1m_2024_03/BTCUSDT-1m.csv';

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new BitPredictError('ERR_CONFIG_INVALID', `--${name} must be a non-negative number, not "${text}"`);
  return n;
}

/**
 * The model of --model: baseline (the EMA-drift baseline), champion (the registry's), latest (the
 * newest trained version in the store, promoted or not) or a version. ERR_CONFIG_INVALID naming
 * the store and listing the versions it holds otherwise.
 */
export async function resolveModel(storeDir: string, name: string, flag: string): Promise<ModelChoice> {
  if (flag === 'baseline') return { kind: 'baseline' };
  let version: string;
  try {
    version = await resolveVersion(storeDir, name, flag);
  } catch (err) {
    if (!(err instanceof BitPredictError) || err.code !== 'ERR_NOT_FOUND') throw err;
    throw new BitPredictError(
      'ERR_CONFIG_INVALID',
      `--model ${flag}: ${err.message}; the model store is ${resolve(storeDir)} (BITPREDICT_MODEL_STORE_DIR); --model takes latest, champion, a version or baseline`,
      { cause: err },
    );
  }
  return { kind: 'artifact', dir: artifactDir(storeDir, name, version), label: flag === 'champion' || flag === 'latest' ? flag : version };
}

type Flags = ReturnType<typeof parseFlags<typeof BACKTEST_FLAGS>>['values'];

/** What one backtest run reads and does, checked before anything connects. */
interface BacktestPlan {
  values: Flags & { from: string; to: string };
  range: BacktestRange;
  source: 'kafka' | 'files';
  mode: 'long-flat' | 'long-short';
  retrainEvery: number | undefined;
  trainPeriods: number;
  valPeriods: number;
  warmupBars: number;
  costs: CostModel;
  texts: TextFilesChoice;
}

/** The flags as a plan; a UsageError for flags that make none. */
function planBacktest(ctx: CommandContext): BacktestPlan {
  const { values } = parseFlags(BACKTEST_FLAGS, ctx.args);
  const { config } = ctx;
  const { from, to } = values;
  if (from === undefined || to === undefined) throw new UsageError('--from and --to are required');
  const symbol = (values.symbol ?? config.replay.symbol).toUpperCase();
  const interval = values.interval ?? config.replay.interval;
  if (!isKnownInterval(interval)) throw new BitPredictError('ERR_CONFIG_INVALID', `--interval ${interval}: not a known interval`);
  const range: BacktestRange = { symbol, interval, from: time('from', from, 0), to: time('to', to, 0) };
  if (range.from >= range.to) throw new BitPredictError('ERR_CONFIG_INVALID', `--from must be before --to (${from} .. ${to})`);
  const source = values.source;
  if (source !== 'kafka' && source !== 'files') throw new BitPredictError('ERR_CONFIG_INVALID', `--source must be kafka or files, not "${source}"`);
  const texts = textFilesFlags(values);
  if (texts.own && source !== 'files') throw new UsageError('--text-file applies to --source files (with --source kafka the texts are the text.raw topic)');
  const mode = values.mode;
  if (mode !== 'long-flat' && mode !== 'long-short') throw new BitPredictError('ERR_CONFIG_INVALID', `--mode must be long-flat or long-short, not "${mode}"`);
  const retrainEvery = values['retrain-every'] === undefined ? undefined : int('retrain-every', values['retrain-every'], 0, 1);
  const trainPeriods = int('train-periods', values['train-periods'], 2 * 8760);
  const valPeriods = int('val-periods', values['val-periods'], 720);
  // Walk-forward retrains read train + validation bars (and a window) before the first retrain
  // point, which is --from: the warm-up must hold them.
  const warmupBars = int('warmup-bars', values['warmup-bars'], retrainEvery === undefined ? 200 : trainPeriods + valPeriods + 200);
  return { values: { ...values, from, to }, range, source, mode, retrainEvery, trainPeriods, valPeriods, warmupBars, costs: costsFlags(values), texts };
}

/** The range's candles and texts from the topics or the files, with what was read said on stderr. */
async function readEvents(
  ctx: CommandContext,
  plan: BacktestPlan,
  log: (line: string) => void,
  bar: (done: number, total: number, what: string) => void,
): Promise<BacktestEvents> {
  const { config } = ctx;
  const { range, warmupBars } = plan;
  const started = Date.now();
  let events: BacktestEvents;
  // Bad text rows on stderr with their lines (the first 20; the per-file count is in the provenance).
  const deadText = deadRowReporter(log);
  if (plan.source === 'kafka') {
    const platform = createPlatform({
      config,
      logger: ctx.logger,
      registry: createMetricsRegistry({ service: 'backtest', defaultMetrics: false }),
      clientId: 'backtest',
    });
    await prepareTopicsAndSchemas(platform, config.kafka);
    events = await loadEventsFromKafka(platform, { config, range, warmupBars, onProgress: bar });
  } else {
    const flag = plan.values['candle-file'];
    const candleFile = flag !== undefined ? resolveFileArg(config.data.dir, flag) : range.interval === '1m' ? MINUTE_FILE : config.replay.file;
    events = await loadEventsFromFiles({
      dataDir: config.data.dir,
      candleFile,
      textFiles: plan.texts.own ? [...plan.texts.files] : BACKTEST_TEXT_FILES,
      ...(plan.texts.columns ? { textColumns: plan.texts.columns } : {}),
      onDeadTextRow: (file, row) => deadText({ ...row, file }),
      range,
      warmupBars,
      sentimentWindowMs: config.features.sentimentWindowMs,
      columns: plan.values.columns ?? config.replay.columns,
      dropLast: plan.values['drop-last'] === true || config.replay.dropLast,
      onProgress: log,
    });
  }
  const readSeconds = (Date.now() - started) / 1000;
  log(`${events.candles.length} candles and ${events.texts.length} texts from ${plan.source} in ${readSeconds.toFixed(1)} s`);
  if (events.texts.length === 0) {
    log("no texts in the range: every sentiment feature is zero (the data folder's news cover 2021-10 .. 2022-07 and the tweets 2025-08 .. 09)");
  }
  for (const g of events.gaps) {
    log(
      `gap: ${g.missingBars} missing ${range.interval} bar(s) from ${new Date(g.from).toISOString()} to ${new Date(g.to).toISOString()} (no window or trade spans it)`,
    );
  }
  return events;
}

export async function backtest(ctx: CommandContext): Promise<number> {
  const plan = planBacktest(ctx);
  const { config } = ctx;
  const { values, range, retrainEvery } = plan;
  const model = await resolveModel(config.models.storeDir, config.models.name, values.model);
  // One look per design at the final window (docs/trainer.md): checked before any event is read.
  const finalRun = await openBacktestFinalRun({
    range,
    model,
    ...(retrainEvery !== undefined && values.units ? { walkForwardUnits: int('units', values.units, 32) } : {}),
    ...(values.ledger === undefined ? {} : { ledgerPath: values.ledger }),
    ...(values['force-reason'] === undefined ? {} : { forceReason: values['force-reason'] }),
    command: ['bitpredict', 'backtest', ...ctx.args],
  });

  const log = (line: string): void => ctx.output.note(`[backtest] ${line}`);
  let lastBar = '';
  const bar = (done: number, total: number, what: string): void => {
    const line = `[backtest] ${what.padEnd(22)} ${progressBar(done, total)}`;
    if (line === lastBar) return;
    lastBar = line;
    ctx.output.progress(`\r${line}${done >= total ? '\n' : ''}`);
  };

  const started = Date.now();
  const events = await readEvents(ctx, plan, log, bar);
  const loaded =
    model.kind === 'artifact' || retrainEvery !== undefined ? await loadTf(values.backend as 'tensorflow' | 'wasm' | 'cpu' | undefined) : undefined;
  if (loaded) log(`tfjs backend: ${loaded.backend}`);
  const result = await runBacktest({
    events,
    model,
    sentimentWindowMs: config.features.sentimentWindowMs,
    trading: {
      feeBps: plan.costs.feeBps,
      slippageBps: plan.costs.slippageBps,
      mode: plan.mode,
      threshold: number('threshold', values.threshold, 0),
    },
    ...(retrainEvery === undefined
      ? {}
      : {
          walkForward: {
            retrainEvery,
            trainPeriods: plan.trainPeriods,
            valPeriods: plan.valPeriods,
            epochs: int('epochs', values.epochs, 8),
            ...(values.units ? { units: int('units', values.units, 32) } : {}),
            seed: int('seed', values.seed, 42),
          },
        }),
    ...(loaded ? { loaded } : {}),
    onProgress: bar,
  });
  if (finalRun) await recordBacktest(finalRun, result);
  const out = resolve(values.out ?? `reports/backtest-${range.symbol}-${range.interval}-${values.from.slice(0, 10)}-${values.to.slice(0, 10)}-${values.model}`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${out}.html`, renderBacktestReport(result));
  const seconds = (Date.now() - started) / 1000;
  log(`done in ${seconds.toFixed(1)} s: ${out}.json and ${out}.html`);
  const m = result.metrics;
  ctx.output.json({
    bars: result.data.bars,
    gaps: events.gaps.length,
    // The baseline has no trained version ("1" is its code's): it is named; a trained model by its version.
    model: result.model.choice === 'baseline' ? result.model.name : result.model.version,
    modelChoice: result.model.label,
    totalReturn: m.model.trading.totalReturn,
    buyAndHold: m.buyAndHold.totalReturn,
    directionalAccuracy: m.model.direction.accuracy,
    costs: result.costs,
    seconds: Number(seconds.toFixed(1)),
    json: `${out}.json`,
    html: `${out}.html`,
  });
  return 0;
}
