// The file side of the final-window ledger (the rule and the format are trainer/domain/ledger.ts).
// `evaluate --purpose final` and a backtest of hourly data past 2025-01-01 open a run here BEFORE
// they read any final-window data: the ledger is read, the design checked against it (a second
// look is refused unless forced with a reason), and the returned run appends the entry as soon as
// the figures exist, before anything is printed or written, so a run that showed figures is never
// missing from the ledger. The write is a temp file beside the ledger renamed over it: a reader
// (or a crash) never sees half a ledger.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { BitPredictError } from '../core/errors.js';
import { META_FILE, validateMeta } from '../core/models/artifact.js';
import { MODEL_DEFAULTS } from '../core/models/model.js';
import { DEFAULT_HALF_LIFE_STEPS } from '../core/models/domain/baseline.js';
import { FEATURE_SET_VERSION } from '../core/features/indicators.js';
import type { BacktestResult, ModelChoice } from './backtest/engine.js';
import { FINAL_WINDOW_START } from '../core/models/domain/dataset.js';
import {
  appendedLedgerText,
  headlineOf,
  reachesFinalWindow,
  checkFinalWindowRun,
  describeDesign,
  designId,
  parseLedger,
  POINT_HEAD,
  type FinalWindowPermission,
  type Ledger,
  type LedgerEntry,
  type ModelDesign,
} from './domain/ledger.js';

/** The committed ledger, relative to the project root (commands run from there, like reports/). */
export const DEFAULT_LEDGER_PATH = 'docs/final-window-ledger.json';

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    // A missing ledger is an error, not an empty one: run from the wrong folder, a fresh ledger
    // would let every design look again.
    throw new BitPredictError(
      'ERR_CONFIG_INVALID',
      `final-window ledger ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run from the project root or pass --ledger <path>`,
      { cause: err, details: { file: path } },
    );
  }
}

/** The ledger at `path`; ERR_CONFIG_INVALID if it cannot be read, ERR_VALIDATION naming the path if it is malformed. */
export async function readLedger(path: string): Promise<Ledger> {
  const file = resolve(path);
  return parseLedger(await readText(file), file);
}

/** Appends one entry: earlier entries keep their bytes and order; temp file + rename. */
export async function appendEntry(path: string, entry: LedgerEntry): Promise<void> {
  const file = resolve(path);
  const next = appendedLedgerText(await readText(file), entry, file);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, next, { flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new BitPredictError('ERR_VALIDATION', `final-window ledger ${file} could not be written: ${(err as Error).message}`, {
      cause: err,
      details: { file },
    });
  }
}

/** git short sha of HEAD in `cwd`, or "uncommitted" when tracked files differ from it or git is not there. */
export function currentCommit(cwd: string = process.cwd()): string {
  try {
    const git = (args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const sha = git(['rev-parse', '--short=7', 'HEAD']);
    return git(['status', '--porcelain', '--untracked-files=no']) === '' ? sha : 'uncommitted';
  } catch {
    return 'uncommitted';
  }
}

export interface FinalWindowRunOptions {
  ledgerPath: string;
  design: ModelDesign;
  forceReason?: string;
  kind: LedgerEntry['kind'];
  /** the argv, recorded as run */
  command: string[];
  /** defaults: currentCommit(), new Date() */
  commit?: string;
  now?: () => Date;
}

export interface FinalWindowRun extends FinalWindowPermission {
  /** Appends the run's entry (call as soon as the figures exist); returns it. */
  record(range: { from: string; to: string }, headline: Record<string, number>): Promise<LedgerEntry>;
}

/** Checks the ledger for this design (throws ERR_FINAL_WINDOW on a second, unforced look) and returns the run. */
export async function openFinalWindowRun(o: FinalWindowRunOptions): Promise<FinalWindowRun> {
  const ledger = await readLedger(o.ledgerPath);
  const permission = checkFinalWindowRun(ledger, designId(o.design), o.forceReason);
  const commit = o.commit ?? currentCommit();
  const designDescription = describeDesign(o.design);
  return {
    ...permission,
    async record(range, headline) {
      const entry: LedgerEntry = {
        date: (o.now?.() ?? new Date()).toISOString(),
        commit,
        design: permission.designId,
        designDescription,
        command: [...o.command],
        kind: o.kind,
        range,
        headline,
        ...(permission.forced ? { forced: permission.forced } : {}),
      };
      await appendEntry(o.ledgerPath, entry);
      return entry;
    },
  };
}

/** The design a backtest runs: the artifact's (read from its meta.json, before any data), or the live EMA-drift baseline. */
export async function backtestDesign(model: ModelChoice, walkForwardUnits?: number): Promise<ModelDesign> {
  if (model.kind === 'baseline') {
    return {
      model: 'ema-drift',
      architecture: { halfLifeSteps: DEFAULT_HALF_LIFE_STEPS },
      featureSetVersion: FEATURE_SET_VERSION,
      head: 'point-return',
      horizons: [1],
    };
  }
  const file = join(model.dir, META_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BitPredictError('ERR_VALIDATION', `${file}: cannot be read as JSON (${(err as Error).message})`, { cause: err, details: { file } });
  }
  const meta = validateMeta(raw, file);
  const hp = meta.hyperparameters;
  const num = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  return {
    model: 'lstm-attention',
    // The backtest's walk-forward retrains keep the artifact's T and attention size; --units may change the LSTM.
    architecture: {
      T: meta.T,
      units: walkForwardUnits ?? num(hp.units, MODEL_DEFAULTS.units),
      attentionUnits: num(hp.attentionUnits, MODEL_DEFAULTS.attentionUnits),
      dropout: num(hp.dropout, MODEL_DEFAULTS.dropout),
    },
    featureSetVersion: meta.featureSetVersion,
    // Artifacts so far have the point head only; an artifact that names its head is taken at its word.
    head: typeof hp.head === 'string' && hp.head !== '' ? hp.head : POINT_HEAD,
    horizons: [1],
  };
}

export interface BacktestGuardOptions {
  range: { interval: string; from: number; to: number };
  model: ModelChoice;
  /** --units of a walk-forward retrain (changes the LSTM size of the design) */
  walkForwardUnits?: number;
  ledgerPath?: string;
  forceReason?: string;
  command: string[];
}

/**
 * The guard `bitpredict backtest` calls before it reads events: a backtest of hourly data whose
 * range ends after 2025-01-01 scores the final window, so it is a look like a final evaluation.
 * Undefined (nothing to record) for any other range.
 */
export async function openBacktestFinalRun(o: BacktestGuardOptions): Promise<FinalWindowRun | undefined> {
  if (!reachesFinalWindow(o.range.interval, o.range)) {
    if (o.forceReason !== undefined || o.ledgerPath !== undefined)
      throw new BitPredictError('ERR_CONFIG_INVALID', '--force-reason and --ledger apply only to a backtest of 1h data past 2025-01-01 (the final window)');
    return undefined;
  }
  return openFinalWindowRun({
    ledgerPath: o.ledgerPath ?? DEFAULT_LEDGER_PATH,
    design: await backtestDesign(o.model, o.walkForwardUnits),
    ...(o.forceReason === undefined ? {} : { forceReason: o.forceReason }),
    kind: 'backtest',
    command: o.command,
  });
}

/** A backtest's entry: the final-window part of its range and the figures it printed (model, persistence, EMA drift). */
export async function recordBacktest(run: FinalWindowRun, result: BacktestResult): Promise<LedgerEntry> {
  const m = result.metrics;
  const from = new Date(Math.max(Date.parse(result.range.from), FINAL_WINDOW_START)).toISOString();
  return run.record({ from, to: result.range.to }, headlineOf(result.data.bars, [m.model, m.persistence, m.emaDrift], m.buyAndHold));
}
