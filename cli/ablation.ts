// `bitpredict ablation sentiment`: trains the LSTM-attention distributional model with and without
// the sentiment columns on the same development folds (trainer/ablation.ts) and writes the per-fold,
// per-horizon pinball losses, NLLs and Diebold-Mariano tests as JSON and a markdown table.
// The real hourly candles and every real text file go through the live feature code (loadSeries of
// `evaluate`). Development only: the folds end at --end (default 2024-01-01, the end of the dense
// news descriptions), never past the final evaluation window.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseFlags, UsageError } from './flags.js';
import { ABLATION_FLAGS } from './specs.js';
import type { CommandContext } from './context.js';
import { isoTimeFlag as time, wholeNumberFlag as int } from './args.js';
import { progressBar } from '../core/progress.js';
import { loadTf } from '../core/models/tf.js';
import { horizonsFor, parseHorizons } from '../core/forecast/horizons.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import { ablationFolds, renderAblationMarkdown, runSentimentAblation } from '../trainer/ablation.js';
import { loadSeries } from './evaluate.js';

const HOUR = 3_600_000;

export async function ablation(ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseFlags(ABLATION_FLAGS, ctx.args, true);
  if (positionals.length !== 1 || positionals[0] !== 'sentiment')
    throw new UsageError(`ablation takes one subcommand, sentiment; got "${positionals.join(' ')}"`);
  const symbol = values.symbol ?? ctx.config.replay.symbol;
  // Hourly only: the fold spans and the final-window guard are written for hourly data.
  const interval = '1h';
  const folds = ablationFolds({
    end: time('end', values.end, Date.UTC(2024, 0, 1)),
    count: int('folds', values.folds, 3, 1),
    testMonths: int('test-months', values['test-months'], 3, 1),
    valDays: int('val-days', values['val-days'], 30, 1),
    trainDays: int('train-days', values['train-days'], 365, 1),
  });
  const T = int('T', values.T, 48, 1);
  const epochs = int('epochs', values.epochs, 3, 1);
  const units = int('units', values.units, MODEL_DEFAULTS.units, 1);
  const seed = int('seed', values.seed, 42);
  const horizons = horizonsFor(parseHorizons(ctx.config.forecast.horizons), interval);
  const log = (line: string): void => ctx.output.note(`[ablation] ${line}`);
  const backendFlag = values.backend as 'tensorflow' | 'wasm' | 'cpu' | undefined;
  const loaded = await loadTf(backendFlag);
  log(`tfjs backend: ${loaded.backend}; horizons ${horizons.join(', ')}; ${folds.length} folds; epochs <= ${epochs}`);
  const from = folds[0]!.trainFrom;
  const to = folds.at(-1)!.testTo;
  const series = await loadSeries(ctx, { source: 'files', symbol, interval, from, to, warmupMs: 200 * HOUR, log });
  const started = Date.now();
  const result = await runSentimentAblation({
    loaded,
    series,
    interval,
    horizons,
    folds,
    T,
    epochs,
    units,
    seed,
    onProgress: log,
    onBatch: (fold, arm, b, bs) => {
      if (b % 10 === 0 || b === bs) ctx.output.progress(`\r[ablation] fold ${fold} ${arm.padEnd(7)} ${progressBar(b, bs)}`);
    },
    onEpoch: (fold, arm, e) =>
      ctx.output.progress(
        `\r[ablation]   fold ${fold} ${arm} sentiment, epoch ${e.epoch}: loss ${e.loss.toFixed(4)}${e.valLoss === null ? '' : `, val ${e.valLoss.toFixed(4)}`} (${e.seconds.toFixed(1)} s)${' '.repeat(16)}\n`,
      ),
  });
  const dir = resolve(values.out);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `ablation-sentiment-${symbol}-${interval}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...result, generatedAt: new Date().toISOString(), symbol, backend: loaded.backend }, null, 2)}\n`);
  writeFileSync(`${base}.md`, renderAblationMarkdown(result));
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s: ${base}.json and ${base}.md`);
  for (const v of result.verdicts) log(v);
  ctx.output.json({ folds: result.folds.map((f) => ({ test: `${f.testFrom}..${f.testTo}`, n: f.nTest })), verdicts: result.verdicts });
  return 0;
}
