// Trainer data loading (I/O glue): candles and texts from the real files in ../shared/data, with
// the replay producers' own parsers (so research runs see exactly the candles a replay would
// publish), and feature vectors from the features topic over a time range.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Platform } from '../core/runtime.js';
import { createAdmin } from '../core/kafka/client.js';
import { rangesSince, readRange, type PartitionRange } from '../core/kafka/range.js';
import { BitPredictError, errorMessage } from '../core/errors.js';
import { topicName } from '../schemas/index.js';
import type { Candle, FeatureVector, ScoredText } from '../schemas/types.js';
import { resolveReplayFile } from '../producers/replay/service.js';
import { replayBatches, type DeadRow } from '../producers/replay/pipeline.js';
import { KNOWN_PARTIAL_LAST_ROW, detectFormat, intervalMs } from '../producers/replay/domain/index.js';
import { detectTextFormat, mapTextCsv } from '../producers/text/domain/index.js';
import { scoredTextOf } from '../processors/sentiment/domain/scored.js';

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
}

function readHead(path: string): [string, string | undefined] {
  // The header and first data line, for format detection (the files are a few MB: read whole).
  const head = readFileSync(path, 'utf8').slice(0, 4096);
  const lines = head.split('\n');
  return [lines[0] ?? '', lines[1]];
}

/**
 * The candles a replay of `file` would publish (same format detection, parsing, validation,
 * duplicate handling, dropped partial last row and from/to/limit semantics: replayBatches of
 * producers/replay/pipeline.ts), in publish order. `file` is absolute or relative to dataDir.
 */
export async function loadCandlesFromFile(dataDir: string, file: string, symbol: string, interval: string, opts: LoadCandlesOptions = {}): Promise<Candle[]> {
  const path = resolveReplayFile(dataDir, file);
  const [first, second] = readHead(path);
  const format = detectFormat(basename(path), first, second);
  const now = opts.now ?? Date.now;
  const empty = Buffer.alloc(0);
  const out: Candle[] = [];
  const batches = replayBatches(
    {
      path, format, dropLastRow: KNOWN_PARTIAL_LAST_ROW(format, basename(path)), symbol, interval, intervalMs: intervalMs(interval),
      exchange: opts.exchange ?? 'binance', source: `replay:${basename(path)}`, from: opts.from ?? null, to: opts.to ?? null,
      limit: opts.limit ?? 0, batchSize: 10_000, futureToleranceMs: FUTURE_TOLERANCE_MS,
    },
    { encode: () => empty, now, keepCandles: true },
  );
  for await (const b of batches) {
    for (const c of b.candles ?? []) out.push(c);
    if (opts.onDeadRow) for (const d of b.dead) opts.onDeadRow(d);
  }
  return out;
}

export interface LoadTextsOptions {
  /** Clock for validation and scoredAt (default Date.now). */
  now?: () => number;
  /** Called for each row the text replay would dead-letter. */
  onDeadRow?(row: { line: number; raw: string; reason: string }): void;
}

/**
 * The texts of the tweets or news CSV (producers/text/domain mapTextCsv, as the text replay maps
 * them: sorted by publishedAt, duplicate ids dropped), scored with VADER as the sentiment
 * processor scores them (no FinBERT here: finbert = null).
 */
export function loadTextsFromFile(dataDir: string, file: string, opts: LoadTextsOptions = {}): ScoredText[] {
  const path = resolveReplayFile(dataDir, file);
  const content = readFileSync(path, 'utf8');
  const nl = content.indexOf('\n');
  const format = detectTextFormat(content.slice(0, nl >= 0 ? nl : 4096));
  if (format === null) throw new BitPredictError('ERR_REPLAY_FILE', `${path}: header is neither the tweets CSV (id,text,user,created_at) nor the news CSV (date;...;text;title;url)`);
  const now = (opts.now ?? Date.now)();
  let mapped;
  try {
    mapped = mapTextCsv(content, format, `replay:${basename(path)}`, { now, futureToleranceMs: FUTURE_TOLERANCE_MS });
  } catch (err) {
    throw new BitPredictError('ERR_REPLAY_FILE', `${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (opts.onDeadRow) for (const d of mapped.dead) opts.onDeadRow(d);
  return mapped.drafts.map((d) => scoredTextOf(d, null, now));
}


export interface FeatureRangeQuery {
  symbol: string;
  interval: string;
  /** Inclusive start of eventTime (ms). */
  from: number;
  /** Exclusive end of eventTime (ms). */
  to: number;
  /** Per-partition read timeout (default 120 s). */
  timeoutMs?: number;
}

/**
 * The feature vectors of one series with from <= eventTime < to in the features topic, sorted by
 * eventTime, one per eventTime (the last written wins: a recomputed vector replaces an older one).
 * Start offsets come from the record timestamps (= eventTime) via offsetsForTime; every partition
 * is read from there to its current end with a throwaway consumer group that never commits
 * (records of other series may interleave with older timestamps, so the end is not looked up by
 * time). Only committed records are read (read_committed).
 */
export async function readFeaturesFromTopic(platform: Platform, q: FeatureRangeQuery): Promise<FeatureVector[]> {
  if (!Number.isSafeInteger(q.from) || !Number.isSafeInteger(q.to) || q.from >= q.to) {
    throw new BitPredictError('ERR_VALIDATION', `readFeaturesFromTopic: from/to must be safe integers (ms) with from < to, got ${String(q.from)}..${String(q.to)}`);
  }
  const topic = topicName('features', platform.config.kafka.topicPrefix);
  const key = `${q.symbol}:${q.interval}`;
  const admin = await createAdmin(platform.kafka);
  let ranges: PartitionRange[];
  try {
    ranges = await rangesSince(admin, topic, q.from);
  } finally {
    await admin.close();
  }
  const byTime = new Map<number, FeatureVector>();
  for (const { partition, from, to } of ranges) {
    if (from >= to) continue;
    await readRange(
      platform.kafka,
      topic,
      partition,
      from,
      to,
      async (rec) => {
        if (rec.value === null) return;
        if (rec.key !== null && rec.key.toString('utf8') !== key) return;
        if (rec.timestamp >= q.to && rec.key !== null) return;
        const f = await platform.serde.decode('features', rec.value);
        if (f.symbol !== q.symbol || f.interval !== q.interval) return;
        if (f.eventTime < q.from || f.eventTime >= q.to) return;
        byTime.set(f.eventTime, f);
      },
      { timeoutMs: q.timeoutMs },
    );
  }
  return [...byTime.values()].sort((a, b) => a.eventTime - b.eventTime);
}
