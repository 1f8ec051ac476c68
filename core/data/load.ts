// Candles and texts from the real files in the data folder (../shared/data), with the replay
// producers' own parsers, so research runs and backtests see exactly the candles and texts a
// replay would publish.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { BitPredictError, errorMessage } from '../errors.js';
import type { Candle, ScoredText } from '../../schemas/types.js';
import { firstLines, resolveDataFile } from './files.js';
import { replayBatches, type DeadRow, type DroppedLastRow } from './candle-file.js';
import { KNOWN_PARTIAL_LAST_ROW, detectLayout, intervalMs, type CandleLayout, type SequencerStats } from './candles/index.js';
import {
  TEXT_FORMATS_HELP,
  detectTextFormat,
  mapGenericTextCsv,
  mapTextCsv,
  type CsvMapping,
  type ExcludedRows,
  type TextColumns,
  type TextFileFormat,
} from './text/index.js';
import { scoredTextOf } from '../text/scored.js';

/** Default tolerance for event times in the future (the config default, BITPREDICT_FUTURE_TOLERANCE_MS). */
const FUTURE_TOLERANCE_MS = 300_000;

export interface LoadCandlesOptions {
  /** Keep candles with openTime >= from (ms). */
  from?: number | null;
  /** Stop at the first candle with openTime >= to (ms). */
  to?: number | null;
  /** At most this many candles (0 = all). */
  limit?: number;
  exchange?: string;
  /** Clock for validation and the candles' ingestedAt (default Date.now). */
  now?: () => number;
  /** Called for each row the replay would dead-letter (malformed, invalid, out of order). */
  onDeadRow?(row: DeadRow): void;
  /** The --columns mapping ("time=datetime,open=o,..."): read the file as a generic CSV with these columns. */
  columns?: string | undefined;
  /** Drop the last row whatever its time (--drop-last). */
  dropLast?: boolean | undefined;
}

/** What reading a candle file gave besides its candles: how it was read and what was left out. */
export interface CandleFileResult {
  path: string;
  layout: CandleLayout;
  candles: Candle[];
  /** The last row when it was dropped as an unfinished candle, and why (print it: describeDroppedLastRow). */
  droppedLastRow: DroppedLastRow | null;
  /** Duplicates, out-of-order rows and gaps, as the replay counts them. */
  stats: SequencerStats;
  /** Rows the replay would dead-letter. */
  deadRows: number;
  /** Rows skipped because they open before `from`: 0 means the file starts at or after it. */
  skippedBeforeFrom: number;
}

/** The layout of a candle file (detectLayout on its first lines), with the --columns mapping when given. */
export function candleFileLayout(path: string, columns?: string): CandleLayout {
  const [first, second] = firstLines(path);
  return detectLayout(basename(path), first, second, { columns });
}

/**
 * The candles a replay of `file` would publish, with the report of how it was read (format,
 * dropped last row, duplicates, gaps, dead rows): loadCandlesFromFile's result for callers that
 * print what was left out.
 */
export async function readCandleFile(
  dataDir: string,
  file: string,
  symbol: string,
  interval: string,
  opts: LoadCandlesOptions = {},
): Promise<CandleFileResult> {
  const path = resolveDataFile(dataDir, file);
  const layout = candleFileLayout(path, opts.columns);
  const now = opts.now ?? Date.now;
  const empty = Buffer.alloc(0);
  const out: Candle[] = [];
  const known = KNOWN_PARTIAL_LAST_ROW(layout.format, basename(path));
  const batches = replayBatches(
    {
      path,
      format: layout.format,
      layout,
      dropLastRow: known || opts.dropLast === true,
      ...(known ? {} : { dropLastReason: 'asked to (--drop-last)' }),
      symbol,
      interval,
      intervalMs: intervalMs(interval),
      exchange: opts.exchange ?? 'binance',
      source: `replay:${basename(path)}`,
      from: opts.from ?? null,
      to: opts.to ?? null,
      limit: opts.limit ?? 0,
      batchSize: 10_000,
      futureToleranceMs: FUTURE_TOLERANCE_MS,
    },
    { encode: () => empty, now, keepCandles: true },
  );
  let droppedLastRow: DroppedLastRow | null = null;
  let stats: SequencerStats = { duplicatesReplaced: 0, duplicatesChanged: 0, outOfOrder: 0, gaps: 0, missingIntervals: 0 };
  let deadRows = 0;
  let skippedBeforeFrom = 0;
  for await (const b of batches) {
    for (const c of b.candles ?? []) out.push(c);
    deadRows += b.dead.length;
    if (opts.onDeadRow) for (const d of b.dead) opts.onDeadRow(d);
    droppedLastRow = b.droppedLastRow;
    stats = b.stats;
    skippedBeforeFrom = b.skippedBeforeFrom;
  }
  return { path, layout, candles: out, droppedLastRow, stats, deadRows, skippedBeforeFrom };
}

/**
 * The candles a replay of `file` would publish (same format detection, parsing, validation,
 * duplicate handling, dropped partial last row and from/to/limit semantics: replayBatches of
 * core/data/candle-file.ts), in publish order. `file` is absolute or relative to dataDir.
 */
export async function loadCandlesFromFile(dataDir: string, file: string, symbol: string, interval: string, opts: LoadCandlesOptions = {}): Promise<Candle[]> {
  return (await readCandleFile(dataDir, file, symbol, interval, opts)).candles;
}

export interface LoadTextsOptions {
  /** Clock for validation and scoredAt (default Date.now). */
  now?: () => number;
  /** Called for each row the text replay would dead-letter. */
  onDeadRow?(row: { line: number; raw: string; reason: string }): void;
  /** Called once per exclusion rule of the file's format, with how many rows it left out and why. */
  onExcluded?(excluded: ExcludedRows): void;
  /**
   * The columns of a generic text CSV (--text-columns): given, the file is read as one even when its
   * header is one of the known layouts. Absent, a header that is none of them is read as a generic
   * CSV whose columns are found by their common names (core/data/text/generic.ts).
   */
  columns?: Partial<TextColumns>;
}

/** What reading one text file gave: its rows and where each went, as the text replay counts them. */
export interface TextFileReport {
  file: string;
  format: TextFileFormat | 'generic';
  rows: number;
  texts: number;
  dead: number;
  duplicates: number;
  excluded: ExcludedRows[];
  /** The columns read, for a generic CSV. */
  columns?: TextColumns;
}

/**
 * A text file's rows mapped to drafts, by the layout its header names (the four real ones) or, for
 * any other header or when `columns` is given, as a generic CSV with time and text columns; the
 * one reading of a text file that the text replay and the research loaders share.
 * ERR_REPLAY_FILE naming the file when neither reads it.
 */
export function mapTextFile(
  path: string,
  content: string,
  opts: { now: number; futureToleranceMs: number; columns?: Partial<TextColumns> | undefined },
): { mapped: CsvMapping & { columns?: TextColumns }; format: TextFileFormat | 'generic' } {
  const nl = content.indexOf('\n');
  const known = opts.columns === undefined ? detectTextFormat(content.slice(0, nl >= 0 ? nl : 4096)) : null;
  const source = `replay:${basename(path)}`;
  const { now, futureToleranceMs } = opts;
  try {
    const mapped =
      known === null
        ? mapGenericTextCsv(content, source, { now, futureToleranceMs, ...(opts.columns ? { columns: opts.columns } : {}) })
        : mapTextCsv(content, known, source, { now, futureToleranceMs });
    return { mapped, format: known ?? 'generic' };
  } catch (err) {
    const layouts = known === null && opts.columns === undefined ? `; the header is none of ${TEXT_FORMATS_HELP} either` : '';
    throw new BitPredictError('ERR_REPLAY_FILE', `${path}: ${errorMessage(err)}${layouts}`, { cause: err });
  }
}

function readTextFile(dataDir: string, file: string, opts: LoadTextsOptions): { texts: ScoredText[]; report: TextFileReport } {
  const path = resolveDataFile(dataDir, file);
  const content = readFileSync(path, 'utf8');
  const now = (opts.now ?? Date.now)();
  const { mapped, format } = mapTextFile(path, content, { now, futureToleranceMs: FUTURE_TOLERANCE_MS, columns: opts.columns });
  if (opts.onDeadRow) for (const d of mapped.dead) opts.onDeadRow(d);
  if (opts.onExcluded) for (const e of mapped.excluded) opts.onExcluded(e);
  const texts = mapped.drafts.map((d) => scoredTextOf(d, null, now));
  const { rows, duplicates, excluded } = mapped;
  return {
    texts,
    report: {
      file: path,
      format,
      rows,
      texts: texts.length,
      dead: mapped.dead.length,
      duplicates,
      excluded,
      ...(mapped.columns ? { columns: mapped.columns } : {}),
    },
  };
}

/**
 * The texts of one of the text CSVs (core/data/text mapTextCsv, as the text replay maps them:
 * sorted by publishedAt, duplicate ids dropped, rows the format excludes left out and reported to
 * onExcluded), scored with VADER as the sentiment processor scores them (no FinBERT here:
 * finbert = null).
 */
export function loadTextsFromFile(dataDir: string, file: string, opts: LoadTextsOptions = {}): ScoredText[] {
  return readTextFile(dataDir, file, opts).texts;
}

/**
 * The scored texts of several files (for the research paths: TEXT_DATA_FILES of core/data/text),
 * concatenated in file order (featuresFromCandles indexes them by time whatever the order), with a
 * report per file so a caller can say what was read, dead-lettered and excluded.
 */
export function loadTextsFromFiles(dataDir: string, files: readonly string[], opts: LoadTextsOptions = {}): { texts: ScoredText[]; files: TextFileReport[] } {
  const texts: ScoredText[] = [];
  const reports: TextFileReport[] = [];
  for (const f of files) {
    const r = readTextFile(dataDir, f, opts);
    for (const t of r.texts) texts.push(t);
    reports.push(r.report);
  }
  return { texts, files: reports };
}
