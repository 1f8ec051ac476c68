// The CPU side of the replay: reads the file, parses, validates, sequences and Avro-encodes rows
// into batches ready to send. It talks to no broker and logs nothing (plain data in, batches
// out), which keeps the per-row path free of I/O concerns and testable without a stack. Bad rows
// leave as descriptors; the caller turns them into DLQ records, logs and counts them.
import { createReadStream, readFileSync } from 'node:fs';
import { BitPredictError, errorMessage } from '../errors.js';
import type { Candle } from '../../schemas/types.js';
import {
  KNOWN_PARTIAL_REASON,
  createRowSequencer,
  parseCsvRow,
  parseJsonEntry,
  toCandle,
  validateCandle,
  type CandleLayout,
  type ReplayFormat,
  type RejectedRow,
  type RowResult,
  type SequencerStats,
} from './candles/index.js';

export interface PipelineParams {
  path: string;
  format: ReplayFormat;
  /**
   * Header and columns of the file (detectLayout); absent: the fixed format's, with a header.
   * Needed for 'generic-csv' and 'binance-kline-csv'.
   */
  layout?: CandleLayout;
  /**
   * Drop the file's last row whatever its time: the README marks it in progress
   * (KNOWN_PARTIAL_LAST_ROW) or the user asked (--drop-last). Without it, the last row is dropped
   * only when its candle closes after now. Either drop is reported (droppedLastRow).
   */
  dropLastRow: boolean;
  /** Why dropLastRow is set, for the report (default: KNOWN_PARTIAL_REASON). */
  dropLastReason?: string;
  symbol: string;
  interval: string;
  intervalMs: number;
  exchange: string;
  source: string;
  from: number | null;
  to: number | null;
  /** Candles to publish at most; 0 = all. */
  limit: number;
  /** Records (candles and dead rows) per batch. */
  batchSize: number;
  futureToleranceMs: number;
  /**
   * Open time of the last candle of this key already in market.candles (resume), or null. Rows
   * at or before it are skipped and counted, and still count towards `limit`, so that `limit`
   * always names the same slice of the file however often the replay is restarted.
   */
  resumeAfter?: number | null;
}

export type DeadRowCode = 'ERR_REPLAY_MALFORMED_ROW' | 'ERR_VALIDATION';

/** A row for the DLQ, at `index` among the batch's records (candles and dead rows in file order). */
export interface DeadRow {
  index: number;
  lineNo: number;
  raw: string;
  code: DeadRowCode;
  reason: string;
  /** Clock when the row was rejected (the DLQ record's failedAt). */
  at: number;
}

export interface PipelineBatch {
  /** Framed Avro values of the candles, in publish order. */
  values: Buffer[];
  /** Kafka timestamps of those candles (their close times). */
  timestamps: number[];
  /** The candles themselves, only when asked for (keepCandles: re-encoding at send time). */
  candles: Candle[] | null;
  dead: DeadRow[];
  firstOpenTime: number | null;
  lastOpenTime: number | null;
  /** Sequencer counters so far. */
  stats: SequencerStats;
  droppedPartialLastRow: boolean;
  /** The file's last row when it was dropped as an unfinished candle, and why; null when it was read. */
  droppedLastRow: DroppedLastRow | null;
  /** Rows skipped so far because their candle is already published (resumeAfter). */
  skippedExisting: number;
  /** Rows skipped so far because they open before `from` (so 0 at the end: the file starts at or after `from`). */
  skippedBeforeFrom: number;
  /** The final batch (possibly empty); nothing follows it. */
  last: boolean;
}

export interface DroppedLastRow {
  lineNo: number;
  /** Its open time, or null when the row does not parse. */
  openTime: number | null;
  reason: string;
}

/** The report line of a dropped last row, for the replay's log, the backtest's and inspect's output. */
export function describeDroppedLastRow(d: DroppedLastRow): string {
  const at = d.openTime === null ? '' : ` (open ${new Date(d.openTime).toISOString()})`;
  return `dropped the last row, line ${d.lineNo}${at}: ${d.reason}`;
}

export interface PipelineDeps {
  encode(candle: Candle): Buffer;
  now(): number;
  keepCandles?: boolean;
}

interface Entry {
  lineNo: number;
  text: string;
  entry?: unknown;
}

/**
 * Entries of the file in chunks (1-based line numbers; the CSV header is skipped). Reading in
 * chunks and handling each chunk's lines synchronously keeps per-row cost to parsing itself,
 * without an await per line. Chunks are small (64 KiB, about 1000 rows) so that a chunk's line
 * strings die young instead of surviving into the old generation across several sends. The
 * JSON format is one array, parsed whole (the largest is 3 MB).
 */
async function* readChunks(path: string, format: ReplayFormat, header: boolean): AsyncGenerator<Entry[]> {
  const firstRow = header ? 2 : 1;
  if (format === 'freqtrade-json') {
    let entries: unknown;
    try {
      entries = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new BitPredictError('ERR_REPLAY_FILE', `${path} is not valid JSON: ${errorMessage(err)}`);
    }
    if (!Array.isArray(entries)) throw new BitPredictError('ERR_REPLAY_FILE', `${path}: expected a JSON array of [time, open, high, low, close, volume]`);
    const all = entries as unknown[];
    for (let i = 0; i < all.length; i += 5000) {
      yield all.slice(i, i + 5000).map((entry, j) => ({ lineNo: i + j + 1, text: JSON.stringify(entry), entry }));
    }
    return;
  }
  let lineNo = 0;
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop() ?? '';
    const out: Entry[] = [];
    for (const line of lines) {
      lineNo++;
      if (lineNo >= firstRow) out.push({ lineNo, text: line.endsWith('\r') ? line.slice(0, -1) : line });
    }
    yield out;
  }
  if (rest !== '') {
    lineNo++;
    if (lineNo >= firstRow) yield [{ lineNo, text: rest.endsWith('\r') ? rest.slice(0, -1) : rest }];
  }
}

/**
 * Batches of the replay in file order, ending with one marked `last`. Rows before `from` are
 * skipped; the first row at or after `to`, or reaching `limit`, ends the replay. One entry is held
 * back so that the file's final row can be dropped when it is an in-progress candle.
 */
export async function* replayBatches(p: PipelineParams, deps: PipelineDeps): AsyncGenerator<PipelineBatch> {
  const sequencer = createRowSequencer<Candle>(p.intervalMs);
  const keep = deps.keepCandles === true;
  const meta = { symbol: p.symbol, interval: p.interval, exchange: p.exchange, source: p.source, ingestedAt: 0 };
  let values: Buffer[] = [];
  let timestamps: number[] = [];
  let candles: Candle[] = [];
  let dead: DeadRow[] = [];
  let firstOpenTime: number | null = null;
  let lastOpenTime: number | null = null;
  let droppedPartialLastRow = false;
  let droppedLastRow: DroppedLastRow | null = null;
  let accepted = 0;
  const columns = p.layout?.columns ?? null;
  const resumeAfter = p.resumeAfter ?? null;
  let skippedExisting = 0;
  let skippedBeforeFrom = 0;
  let lastSkipped: number | null = null;
  // Bad rows met while still inside the already-published part of the file wait here: a later
  // row that is also already published proves they were handled (dead-lettered) by an earlier
  // run, so they are dropped; the first new candle releases them to the DLQ instead.
  let pendingDead: { item: Entry; code: DeadRowCode; reason: string; at: number }[] = [];
  let resuming = resumeAfter !== null;

  const take = (last: boolean): PipelineBatch => {
    const stats = sequencer.stats();
    const batch: PipelineBatch = {
      values,
      timestamps,
      candles: keep ? candles : null,
      dead,
      firstOpenTime,
      lastOpenTime,
      stats,
      droppedPartialLastRow,
      droppedLastRow,
      skippedExisting,
      skippedBeforeFrom,
      last,
    };
    values = [];
    timestamps = [];
    candles = [];
    dead = [];
    return batch;
  };
  const reject = (item: Entry, code: DeadRowCode, reason: string, at: number): void => {
    if (resuming) {
      pendingDead.push({ item, code, reason, at });
      return;
    }
    dead.push({ index: values.length + dead.length, lineNo: item.lineNo, raw: item.text, code, reason, at });
  };
  const publish = (c: Candle): void => {
    values.push(deps.encode(c));
    timestamps.push(c.closeTime);
    if (keep) candles.push(c);
    firstOpenTime ??= c.openTime;
    lastOpenTime = c.openTime;
    accepted++;
  };
  let current: Entry | null = null;
  const onOutOfOrder = (r: RejectedRow<Candle>): void => reject(current as Entry, r.code, r.reason, deps.now());
  /** Handles one entry; false once the replay should stop (limit or `to` reached). */
  const handle = (item: Entry): boolean => {
    if (item.entry === undefined && item.text.trim() === '') return true;
    const parsed: RowResult = item.entry !== undefined ? parseJsonEntry(item.entry) : parseCsvRow(p.format, item.text, columns);
    if (!parsed.ok) {
      reject(item, parsed.code, parsed.reason, deps.now());
      return true;
    }
    const row = parsed.row;
    if (p.from !== null && row.openTime < p.from) {
      skippedBeforeFrom++;
      return true;
    }
    if (p.to !== null && row.openTime >= p.to) return false;
    if (resumeAfter !== null && row.openTime <= resumeAfter) {
      pendingDead = [];
      // A repeated open time (the 1m file's page overlaps) is one candle, counted once.
      if (row.openTime !== lastSkipped) {
        lastSkipped = row.openTime;
        skippedExisting++;
        accepted++;
      }
      return !(p.limit > 0 && accepted >= p.limit);
    }
    if (resuming) {
      resuming = false;
      for (const d of pendingDead) reject(d.item, d.code, d.reason, d.at);
      pendingDead = [];
    }
    const now = deps.now();
    meta.ingestedAt = now;
    const candle = toCandle(row, meta);
    const invalid = validateCandle(candle, now, p.futureToleranceMs);
    if (invalid) {
      reject(item, invalid.code, invalid.reason, now);
      return true;
    }
    current = item;
    const out = sequencer.offer(candle, onOutOfOrder);
    if (out !== null) publish(out);
    return !(p.limit > 0 && accepted >= p.limit);
  };

  let held: Entry | null = null;
  let stopped = false;
  /** Why the file's last row is not read, or null: the known or asked-for drop, or a candle that closes after now. */
  const lastRowDrop = (item: Entry): DroppedLastRow | null => {
    const parsed = item.entry !== undefined ? parseJsonEntry(item.entry) : item.text.trim() === '' ? null : parseCsvRow(p.format, item.text, columns);
    const openTime = parsed?.ok === true ? parsed.row.openTime : null;
    if (p.dropLastRow) return { lineNo: item.lineNo, openTime, reason: p.dropLastReason ?? KNOWN_PARTIAL_REASON };
    if (openTime === null || (p.from !== null && openTime < p.from) || (p.to !== null && openTime >= p.to)) return null;
    const now = deps.now();
    const closeTime = openTime + p.intervalMs;
    if (closeTime <= now) return null;
    return {
      lineNo: item.lineNo,
      openTime,
      reason: `the candle had not closed: its close time ${new Date(closeTime).toISOString()} is after now (${new Date(now).toISOString()})`,
    };
  };

  reading: for await (const chunk of readChunks(p.path, p.format, p.layout?.header ?? true)) {
    for (const item of chunk) {
      if (held && !handle(held)) {
        held = null;
        stopped = true;
        break reading;
      }
      held = item;
      if (values.length + dead.length >= p.batchSize) yield take(false);
    }
  }
  if (held && !stopped) {
    droppedLastRow = lastRowDrop(held);
    if (droppedLastRow !== null) droppedPartialLastRow = true;
    else handle(held);
  }
  if (!(p.limit > 0 && accepted >= p.limit)) {
    for (const c of sequencer.flush()) publish(c);
  }
  yield take(true);
}
