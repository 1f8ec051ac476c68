// Replay producer: reads a real candle file (../shared/data) and publishes market.candles with the
// candles' original event times, as fast as possible or at a fixed rate. Rows that cannot be
// parsed, fail validation or arrive out of order go to the DLQ with the raw line and its number;
// gaps in the data stay gaps. Sending is pipelined: the next batch is parsed and encoded while the
// previous one is in flight, and at most one batch is in flight, so ordering per key holds.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import type { Logger } from '../../core/logger.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import { deadLetterFromSource } from '../../core/kafka/dlq.js';
import { BitPredictError, errorMessage } from '../../core/errors.js';
import { counter } from '../../core/metrics.js';
import { topicName } from '../../schemas/index.js';
import type { Candle } from '../../schemas/types.js';
import {
  KNOWN_PARTIAL_LAST_ROW,
  createRowSequencer,
  detectFormat,
  intervalMs,
  parseCsvRow,
  parseJsonEntry,
  toCandle,
  validateCandle,
  type CandleRow,
  type ReplayFormat,
  type RowResult,
} from './domain/index.js';

export interface ReplayOptions {
  platform: Platform;
  producer: Producer;
  /** Absolute path, or relative to the data folder. */
  file: string;
  symbol: string;
  interval: string;
  exchange?: string;
  /** Candles per second; 0 = as fast as possible. */
  rate: number;
  from?: number | null;
  to?: number | null;
  limit?: number;
  batchSize?: number;
  now?: () => number;
  /** Aborts the replay between batches (Ctrl-C). */
  signal?: AbortSignal;
  /** Called after each batch is acknowledged, for progress and tests. */
  onProgress?(p: ReplaySummary): void;
}

export interface ReplaySummary {
  file: string;
  format: ReplayFormat | null;
  published: number;
  deadLettered: number;
  duplicatesReplaced: number;
  outOfOrder: number;
  gaps: number;
  missingIntervals: number;
  droppedPartialLastRow: boolean;
  firstOpenTime: number | null;
  lastOpenTime: number | null;
  seconds: number;
  aborted: boolean;
}

export function resolveReplayFile(dataDir: string, file: string, cwd = process.cwd()): string {
  const path = isAbsolute(file) ? file : resolve(cwd, dataDir, file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new BitPredictError('ERR_REPLAY_FILE', `replay file not found: ${path} (set BITPREDICT_DATA_DIR / BITPREDICT_REPLAY_FILE)`);
  }
  return path;
}

interface Entry {
  lineNo: number;
  text: string;
  entry?: unknown;
}

/**
 * Entries of the file in chunks (1-based line numbers; the CSV header is skipped). Reading in
 * chunks and handling each chunk's lines synchronously keeps per-row cost to parsing itself,
 * without an await per line. The JSON format is one array, parsed whole (the largest is 3 MB).
 */
async function* readChunks(path: string, format: ReplayFormat): AsyncGenerator<Entry[]> {
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
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop() ?? '';
    const out: Entry[] = [];
    for (const line of lines) {
      lineNo++;
      if (lineNo > 1) out.push({ lineNo, text: line.endsWith('\r') ? line.slice(0, -1) : line });
    }
    yield out;
  }
  if (rest !== '') {
    lineNo++;
    if (lineNo > 1) yield [{ lineNo, text: rest.endsWith('\r') ? rest.slice(0, -1) : rest }];
  }
}

function firstLines(path: string): [string, string | undefined] {
  const head = readFileSync(path, { encoding: 'utf8', flag: 'r' }).slice(0, 4096);
  const lines = head.split('\n');
  return [lines[0] ?? '', lines[1]];
}

export async function runReplay(opts: ReplayOptions): Promise<ReplaySummary> {
  const { platform, producer } = opts;
  const { config, serde, registry } = platform;
  const logger: Logger = platform.logger.child({ service: 'replay' });
  const now = opts.now ?? Date.now;
  const path = resolveReplayFile(config.data.dir, opts.file);
  const [first, second] = firstLines(path);
  const format = detectFormat(basename(path), first, second);
  const len = intervalMs(opts.interval);
  const topic = topicName('candles', config.kafka.topicPrefix);
  const key = `${opts.symbol}:${opts.interval}`;
  const source = `replay:${basename(path)}`;
  const batchSize = opts.rate > 0 ? 1 : (opts.batchSize ?? 1000);
  const published = counter(registry, 'bitpredict_replay_candles_total', 'Candles published by replay');
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const sequencer = createRowSequencer(len);
  const summary: ReplaySummary = {
    file: path, format, published: 0, deadLettered: 0, duplicatesReplaced: 0, outOfOrder: 0, gaps: 0, missingIntervals: 0,
    droppedPartialLastRow: false, firstOpenTime: null, lastOpenTime: null, seconds: 0, aborted: false,
  };
  const started = process.hrtime.bigint();
  logger.info({ file: path, format, key, rate: opts.rate || 'max' }, 'replay starting');

  let batch: OutRecord[] = [];
  let inFlight: Promise<void> | null = null;
  let batchCandles = 0;
  let nextSendAt = Date.now();
  const dlq = (lineNo: number, raw: string, code: 'ERR_REPLAY_MALFORMED_ROW' | 'ERR_VALIDATION', reason: string): void => {
    batch.push(deadLetterFromSource({ serde, topicPrefix: config.kafka.topicPrefix }, { kind: 'file', source: path, offset: lineNo, raw: Buffer.from(raw, 'utf8') }, { code, message: reason, attempts: 1 }, now()));
    summary.deadLettered++;
    dlqTotal.inc({ group: 'replay', reason: code });
    logger.warn({ line: lineNo, code, reason }, 'replay row sent to the DLQ');
  };
  const drain = async (): Promise<void> => {
    if (inFlight) await inFlight;
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const records = batch;
    const count = batchCandles;
    batch = [];
    batchCandles = 0;
    if (inFlight) await inFlight;
    if (opts.rate > 0) {
      const wait = nextSendAt - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      nextSendAt = Math.max(nextSendAt + 1000 / opts.rate, Date.now() - 1000);
      // Stamp ingestion time at the moment of sending, so latency figures start here.
      const t = now();
      for (const r of records) if (r.topic === topic && r.value) r.value = restamp(r, t);
    }
    inFlight = producer.send(records).then(() => {
      summary.published += count;
      published.inc(count);
      opts.onProgress?.({ ...summary });
    });
    if (opts.rate > 0) await inFlight;
  };
  // Re-encoding to update ingestedAt only happens in rate-limited mode, where CPU is not the limit.
  const pendingCandles = new WeakMap<OutRecord, Candle>();
  const restamp = (r: OutRecord, t: number): Buffer => {
    const c = pendingCandles.get(r);
    if (!c) return r.value as Buffer;
    return serde.encode('candles', { ...c, ingestedAt: t });
  };
  const publishRow = (row: CandleRow): void => {
    const candle = toCandle(row, { symbol: opts.symbol, interval: opts.interval, exchange: opts.exchange ?? 'binance', source, ingestedAt: now() });
    const rec: OutRecord = { topic, key, value: serde.encode('candles', candle), timestamp: candle.closeTime };
    if (opts.rate > 0) pendingCandles.set(rec, candle);
    batch.push(rec);
    batchCandles++;
    summary.firstOpenTime ??= row.openTime;
    summary.lastOpenTime = row.openTime;
  };

  let held: Entry | null = null;
  let accepted = 0;
  const limit = opts.limit ?? 0;
  /** Handles one entry synchronously; false once the replay should stop (limit or `to` reached). */
  const handle = (item: Entry): boolean => {
    if (item.text.trim() === '' && item.entry === undefined) return true;
    const parsed: RowResult = item.entry !== undefined ? parseJsonEntry(item.entry) : parseCsvRow(format, item.text);
    if (!parsed.ok) {
      dlq(item.lineNo, item.text, parsed.code, parsed.reason);
      return true;
    }
    const row = parsed.row;
    if (opts.from != null && row.openTime < opts.from) return true;
    if (opts.to != null && row.openTime >= opts.to) return false;
    const invalid = validateCandle(toCandle(row, { symbol: opts.symbol, interval: opts.interval, exchange: 'x', source, ingestedAt: 0 }), now(), config.consumer.futureToleranceMs);
    if (invalid) {
      dlq(item.lineNo, item.text, invalid.code, invalid.reason);
      return true;
    }
    const out = sequencer.push(row);
    for (const r of out.rejected) dlq(item.lineNo, item.text, r.code, r.reason);
    for (const r of out.emit) {
      publishRow(r);
      accepted++;
    }
    return !(limit > 0 && accepted >= limit);
  };

  try {
    let stopped = false;
    reading: for await (const chunk of readChunks(path, format)) {
      for (const item of chunk) {
        if (opts.signal?.aborted) {
          summary.aborted = true;
          break reading;
        }
        // Hold one entry back: the file's final row may be an in-progress candle (data README).
        if (held && !handle(held)) {
          held = null;
          stopped = true;
          break reading;
        }
        held = item;
        if (batch.length >= batchSize) await flush();
      }
    }
    if (held && !summary.aborted && !stopped) {
      if (KNOWN_PARTIAL_LAST_ROW(format, basename(path))) summary.droppedPartialLastRow = true;
      else handle(held);
    }
    if (!summary.aborted && !(limit > 0 && accepted >= limit)) {
      for (const r of sequencer.flush()) publishRow(r);
    }
    await flush();
    await drain();
  } finally {
    const s = sequencer.stats();
    summary.duplicatesReplaced = s.duplicatesReplaced;
    summary.outOfOrder = s.outOfOrder;
    summary.gaps = s.gaps;
    summary.missingIntervals = s.missingIntervals;
    summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  }
  logger.info({ ...summary, recordsPerSecond: Math.round(summary.published / Math.max(summary.seconds, 1e-9)) }, 'replay finished');
  return summary;
}
