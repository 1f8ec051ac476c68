// What a candle file holds, for `bitpredict data inspect|import`: read with the replay's own
// pipeline (readCandleFile: same detection, parsing, validation, duplicates and unfinished last
// row), plus the interval inferred from the open times and the gaps between the candles kept.
import { readFileSync } from 'node:fs';
import { BitPredictError } from '../errors.js';
import type { Candle } from '../../schemas/types.js';
import { readCandleFile, candleFileLayout } from './load.js';
import { headBytes, resolveDataFile } from './files.js';
import { addGap, emptyGapSummary, type GapSummary } from './gap-summary.js';
import { describeDroppedLastRow, type DeadRow } from './candle-file.js';
import { INTERVAL_MS, intervalMs, isKnownInterval, parseCsvRow, parseJsonEntry, type CandleLayout } from './candles/index.js';

export interface InspectOptions {
  columns?: string | undefined;
  symbol?: string | undefined;
  /** The interval; absent: inferred from the open times of the first rows. */
  interval?: string | undefined;
  dropLast?: boolean | undefined;
  now?: () => number;
  /** Bad rows and gaps listed in full up to this many (default 10); all are counted. */
  listLimit?: number;
}

export interface CandleGapInfo {
  /** Close time of the candle before the gap (the first missing open time), ISO. */
  from: string;
  /** Open time of the candle after it, ISO. */
  to: string;
  missing: number;
}

export interface CandleFileReport {
  file: string;
  format: string;
  header: boolean;
  /** 1-based columns read, for the layouts read by position. */
  columns: Record<string, number> | null;
  interval: string;
  intervalInferred: boolean;
  /** Data rows in the file (the header not counted). */
  rows: number;
  candles: number;
  first: string | null;
  last: string | null;
  gaps: GapSummary<CandleGapInfo>;
  /** Rows whose open time repeats an earlier row's; the later copy is kept. */
  duplicates: number;
  duplicatesChanged: number;
  outOfOrder: number;
  /** Rows that do not parse or fail validation (not counting out-of-order ones). */
  badRows: number;
  rejected: { line: number; code: string; reason: string }[];
  /** The dropped last row and why, or null when the last candle is complete. */
  unfinishedLastRow: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Open times of the first rows (at most `max`), for inferring the interval. */
function sampleOpenTimes(path: string, layout: CandleLayout, max: number): number[] {
  const out: number[] = [];
  if (layout.format === 'freqtrade-json') {
    let entries: unknown;
    try {
      entries = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      return out;
    }
    if (!Array.isArray(entries)) return out;
    for (const e of entries.slice(0, max)) {
      const r = parseJsonEntry(e);
      if (r.ok) out.push(r.row.openTime);
    }
    return out;
  }
  const buf = headBytes(path, 1 << 16);
  const lines = buf.toString('utf8').split('\n');
  if (buf.length === 1 << 16) lines.pop(); // possibly cut in the middle
  for (const line of lines.slice(layout.header ? 1 : 0, max + 1)) {
    const r = parseCsvRow(layout.format, line, layout.columns);
    if (r.ok) out.push(r.row.openTime);
  }
  return out;
}

/** The known interval that the most frequent positive step between consecutive open times equals, or null. */
export function inferInterval(openTimes: readonly number[]): string | null {
  const counts = new Map<number, number>();
  for (let i = 1; i < openTimes.length; i++) {
    const d = (openTimes[i] as number) - (openTimes[i - 1] as number);
    if (d > 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best: number | null = null;
  for (const [d, n] of counts) if (best === null || n > (counts.get(best) ?? 0) || (n === counts.get(best) && d < best)) best = d;
  if (best === null) return null;
  return Object.entries(INTERVAL_MS).find(([, ms]) => ms === best)?.[0] ?? null;
}

function gapsOf(candles: readonly Candle[], lenMs: number, listLimit: number): CandleFileReport['gaps'] {
  const gaps = emptyGapSummary<CandleGapInfo>();
  for (let i = 1; i < candles.length; i++) {
    const prev = candles[i - 1] as Candle;
    const cur = candles[i] as Candle;
    if (cur.openTime <= prev.closeTime) continue;
    addGap(gaps, { from: iso(prev.closeTime), to: iso(cur.openTime), missing: Math.round((cur.openTime - prev.closeTime) / lenMs) }, listLimit);
  }
  return gaps;
}

/** The report on a candle file and the candles a replay of it would publish. */
export async function inspectCandleFile(dataDir: string, file: string, opts: InspectOptions = {}): Promise<{ report: CandleFileReport; candles: Candle[] }> {
  const path = resolveDataFile(dataDir, file);
  const layout = candleFileLayout(path, opts.columns);
  let interval = opts.interval;
  const intervalInferred = interval === undefined;
  if (interval === undefined) {
    const sample = sampleOpenTimes(path, layout, 500);
    const inferred = inferInterval(sample);
    if (inferred === null) {
      throw new BitPredictError(
        'ERR_REPLAY_FILE',
        `${path}: cannot infer the candle interval from the first ${sample.length} open times (no step between them is one of ${Object.keys(INTERVAL_MS).join(', ')}); give it with --interval`,
      );
    }
    interval = inferred;
  } else if (!isKnownInterval(interval)) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `--interval ${interval}: not one of ${Object.keys(INTERVAL_MS).join(', ')}`);
  }
  const listLimit = opts.listLimit ?? 10;
  const dead: DeadRow[] = [];
  const read = await readCandleFile(dataDir, path, opts.symbol ?? 'BTCUSDT', interval, {
    columns: opts.columns,
    dropLast: opts.dropLast,
    ...(opts.now ? { now: opts.now } : {}),
    onDeadRow: (d) => void dead.push(d),
  });
  const { candles, stats } = read;
  const outOfOrder = stats.outOfOrder;
  const columns =
    read.layout.columns === null
      ? null
      : Object.fromEntries(
          Object.entries(read.layout.columns)
            .filter(([k, v]) => k !== 'width' && v !== null)
            .map(([k, v]) => [k, (v as number) + 1]),
        );
  const report: CandleFileReport = {
    file: path,
    format: read.layout.format,
    header: read.layout.header,
    columns,
    interval,
    intervalInferred,
    rows: candles.length + dead.length + stats.duplicatesReplaced + (read.droppedLastRow === null ? 0 : 1),
    candles: candles.length,
    first: candles[0] ? iso(candles[0].openTime) : null,
    last: candles.at(-1) ? iso((candles.at(-1) as Candle).openTime) : null,
    gaps: gapsOf(candles, intervalMs(interval), listLimit),
    duplicates: stats.duplicatesReplaced,
    duplicatesChanged: stats.duplicatesChanged,
    outOfOrder,
    badRows: dead.length - outOfOrder,
    rejected: dead.map((d) => ({ line: d.lineNo, code: d.code, reason: d.reason })),
    unfinishedLastRow: read.droppedLastRow === null ? null : describeDroppedLastRow(read.droppedLastRow),
  };
  return { report, candles };
}

/** The report as text lines (inspect and import print it). */
export function formatCandleFileReport(r: CandleFileReport, listLimit = 10): string[] {
  const lines = [
    `file:        ${r.file}`,
    `format:      ${r.format}${r.header ? '' : ' (no header)'}${
      r.columns
        ? ` (columns ${Object.entries(r.columns)
            .map(([k, v]) => `${k}=${v}`)
            .join(',')})`
        : ''
    }`,
    `interval:    ${r.interval}${r.intervalInferred ? ' (inferred)' : ''}`,
    `rows:        ${r.rows} (${r.candles} candles kept)`,
    `first:       ${r.first ?? '-'}`,
    `last:        ${r.last ?? '-'}`,
    `gaps:        ${r.gaps.count}${r.gaps.count > 0 ? ` (${r.gaps.missingCandles} candles missing, largest ${r.gaps.largest?.missing ?? 0} from ${r.gaps.largest?.from ?? ''})` : ''}`,
  ];
  for (const g of r.gaps.first.slice(0, listLimit)) lines.push(`  gap ${g.from} .. ${g.to}: ${g.missing} missing`);
  if (r.gaps.count > r.gaps.first.length) lines.push(`  ... ${r.gaps.count - r.gaps.first.length} more gaps`);
  lines.push(
    `duplicates:  ${r.duplicates}${r.duplicates > 0 ? ` (${r.duplicatesChanged} with different values; the later copy is kept)` : ''}`,
    `out of order: ${r.outOfOrder}`,
    `bad rows:    ${r.badRows}`,
  );
  for (const d of r.rejected.slice(0, listLimit)) lines.push(`  line ${d.line}: ${d.code}: ${d.reason}`);
  if (r.rejected.length > listLimit) lines.push(`  ... ${r.rejected.length - listLimit} more rejected rows`);
  lines.push(`last candle: ${r.unfinishedLastRow ?? 'complete'}`);
  return lines;
}
