// Replay producer: reads a real candle file (../shared/data) and publishes market.candles with the
// candles' original event times, as fast as possible or at a fixed rate. Rows that cannot be
// parsed, fail validation or arrive out of order go to the DLQ with the raw line and its number;
// gaps in the data stay gaps. Sending is pipelined: the next batch is parsed and encoded while the
// previous one is in flight, and at most one batch is in flight, so ordering per key holds.
import { basename } from 'node:path';
import type { Logger } from '../../core/logger.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import { deadLetterFromSource } from '../../core/kafka/dlq.js';
import { BitPredictError } from '../../core/errors.js';
import { counter } from '../../core/metrics.js';
import { lastOpenTimesByKey } from '../../core/kafka/resume.js';
import type { Candle } from '../../schemas/types.js';
import { KNOWN_PARTIAL_LAST_ROW, detectFormat, intervalMs, type ReplayFormat, type SequencerStats } from '../../core/data/candles/index.js';
import { replayBatches, type PipelineBatch, type PipelineParams } from '../../core/data/candle-file.js';
import { delay } from '../../core/time.js';
import { firstLines, resolveDataFile } from '../../core/data/files.js';
import { seriesKey } from '../../schemas/keys.js';
import type { Config } from '../../core/config.js';

export interface ReplayOptions {
  platform: Platform;
  config: Pick<Config, 'events' | 'data'>;
  producer: Producer;
  /** Absolute path, or relative to the data folder. */
  file: string;
  symbol: string;
  interval: string;
  exchange?: string;
  /** Candles per second; 0 = as fast as possible. Exclusive with speedFactor. */
  rate: number;
  /**
   * Replay at N x real time, spaced by the candles' own open times (3600 = one hour of data per
   * second; a gap in the data is a proportional pause). 0/undefined = off. Exclusive with rate.
   */
  speedFactor?: number;
  /**
   * Skip candles already in market.candles: reads the topic's tail, finds the last openTime of
   * this key and skips every row at or before it (dedupe on restart). Default false here; the CLI
   * passes config.replay.resume (default true).
   */
  resume?: boolean;
  /** Records per partition read from the tail when resuming (default 1000). */
  resumeTailPerPartition?: number;
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
  /** Rows skipped because their candle was already in market.candles (resume). */
  skippedExisting: number;
  /** The last openTime of the key found in market.candles before starting (resume), or null. */
  resumedAfter: number | null;
}

export async function runReplay(opts: ReplayOptions): Promise<ReplaySummary> {
  const { platform, producer } = opts;
  const { serde, registry } = platform;
  const { config } = opts;
  const logger: Logger = platform.logger.child({ service: 'replay' });
  const now = opts.now ?? Date.now;
  const path = resolveDataFile(config.data.dir, opts.file);
  const [first, second] = firstLines(path);
  const format = detectFormat(basename(path), first, second);
  const topic = platform.kafka.topic('candles');
  const key = seriesKey(opts.symbol, opts.interval);
  const speedFactor = opts.speedFactor ?? 0;
  if (!(Number.isFinite(speedFactor) && speedFactor >= 0)) {
    throw new BitPredictError('ERR_VALIDATION', `speedFactor ${speedFactor} is not a number >= 0`);
  }
  if (speedFactor > 0 && opts.rate > 0) {
    throw new BitPredictError('ERR_VALIDATION', 'replay: set either rate (candles/s) or speedFactor (x real time), not both');
  }
  const paced = opts.rate > 0 || speedFactor > 0;
  const resumeAfter = opts.resume === true ? await lastPublishedOpenTime(platform, topic, key, opts.resumeTailPerPartition ?? 1000) : null;
  const params: PipelineParams = {
    path, format, dropLastRow: KNOWN_PARTIAL_LAST_ROW(format, basename(path)), symbol: opts.symbol, interval: opts.interval,
    intervalMs: intervalMs(opts.interval), exchange: opts.exchange ?? 'binance', source: `replay:${basename(path)}`,
    from: opts.from ?? null, to: opts.to ?? null, limit: opts.limit ?? 0, batchSize: paced ? 1 : (opts.batchSize ?? 1000),
    futureToleranceMs: config.events.futureToleranceMs, resumeAfter,
  };
  const published = counter(registry, 'bitpredict_replay_candles_total', 'Candles published by replay');
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const summary: ReplaySummary = {
    file: path, format, published: 0, deadLettered: 0, duplicatesReplaced: 0, outOfOrder: 0, gaps: 0, missingIntervals: 0,
    droppedPartialLastRow: false, firstOpenTime: null, lastOpenTime: null, seconds: 0, aborted: false,
    skippedExisting: 0, resumedAfter: resumeAfter,
  };
  const started = process.hrtime.bigint();
  logger.info({ file: path, format, key, rate: opts.rate || 'max', speedFactor: speedFactor || undefined, resumeAfter }, 'replay starting');
  const batches = replayBatches(params, { encode: (c) => serde.encode('candles', c), now, keepCandles: paced });
  // speedFactor: candle k is sent at start + (openTime_k - openTime_first) / speedFactor, so the
  // data's own spacing (and its gaps) is kept, compressed; a slow broker delays, never bunches.
  let paceOrigin: { wall: number; event: number } | null = null;

  let inFlight: Promise<void> | null = null;
  let nextSendAt = Date.now();
  const toRecords = (b: PipelineBatch): OutRecord[] => {
    const records: OutRecord[] = new Array<OutRecord>(b.values.length + b.dead.length);
    let d = 0;
    let c = 0;
    for (let i = 0; i < records.length; i++) {
      const dead = b.dead[d];
      if (dead !== undefined && dead.index === i) {
        d++;
        records[i] = deadLetterFromSource(
          { serde, topicPrefix: platform.kafka.topicPrefix },
          { kind: 'file', source: path, offset: dead.lineNo, raw: Buffer.from(dead.raw, 'utf8') },
          { code: dead.code, message: dead.reason, attempts: 1 },
          dead.at,
        );
        summary.deadLettered++;
        dlqTotal.inc({ group: 'replay', reason: dead.code });
        logger.warn({ line: dead.lineNo, code: dead.code, reason: dead.reason }, 'replay row sent to the DLQ');
        continue;
      }
      records[i] = { topic, key, value: b.values[c] ?? null, timestamp: b.timestamps[c] };
      c++;
    }
    return records;
  };
  const send = async (b: PipelineBatch): Promise<void> => {
    const records = toRecords(b);
    summary.firstOpenTime ??= b.firstOpenTime;
    summary.lastOpenTime = b.lastOpenTime;
    summary.droppedPartialLastRow = b.droppedPartialLastRow;
    summary.skippedExisting = b.skippedExisting;
    if (records.length === 0) return;
    const count = b.values.length;
    if (inFlight) await inFlight;
    if (paced) {
      if (speedFactor > 0) {
        const openTime = b.candles?.[0]?.openTime;
        if (openTime !== undefined) {
          paceOrigin ??= { wall: Date.now(), event: openTime };
          await delay(paceOrigin.wall + (openTime - paceOrigin.event) / speedFactor - Date.now(), opts.signal);
        }
      } else {
        await delay(nextSendAt - Date.now(), opts.signal);
        nextSendAt = Math.max(nextSendAt + 1000 / opts.rate, Date.now() - 1000);
      }
      // Stamp ingestion time at the moment of sending, so latency figures start here. Re-encoding
      // happens only in rate-limited mode, where CPU is not the limit.
      const t = now();
      let c = 0;
      for (const r of records) if (r.topic === topic && b.candles) r.value = serde.encode('candles', { ...(b.candles[c++] as Candle), ingestedAt: t });
    }
    inFlight = producer.send(records).then(() => {
      summary.published += count;
      published.inc(count);
      opts.onProgress?.({ ...summary });
    });
    // A send that fails while the next batch is being computed is awaited (and thrown) at the
    // next send or at the end; until then it must not count as an unhandled rejection.
    inFlight.catch(() => undefined);
    if (paced) await inFlight;
    // kafkajs encodes and writes the request in promise continuations after a few awaits; the
    // next batch is computed in one long synchronous stretch. Yielding once lets the request go
    // out first, so that parsing overlaps the broker's work instead of delaying the request.
    else await new Promise<void>((r) => setImmediate(r));
  };
  let stats: SequencerStats | null = null;
  try {
    for await (const b of batches) {
      // Checked between batches: once aborted, nothing more is sent.
      if (opts.signal?.aborted) {
        summary.aborted = true;
        break;
      }
      stats = b.stats;
      await send(b);
      summary.skippedExisting = b.skippedExisting;
    }
    const last = inFlight as Promise<void> | null;
    if (last) await last;
  } catch (err) {
    // A failed send must not become an unhandled rejection behind the error being thrown.
    const pending = inFlight as Promise<void> | null;
    if (pending) await pending.catch(() => undefined);
    throw err;
  } finally {
    if (stats) {
      summary.duplicatesReplaced = stats.duplicatesReplaced;
      summary.outOfOrder = stats.outOfOrder;
      summary.gaps = stats.gaps;
      summary.missingIntervals = stats.missingIntervals;
    }
    summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  }
  logger.info({ ...summary, recordsPerSecond: Math.round(summary.published / Math.max(summary.seconds, 1e-9)) }, 'replay finished');
  return summary;
}


/** The openTime of the last candle of `key` in the topic's tail, or null (see lastOpenTimesByKey). */
export async function lastPublishedOpenTime(platform: Platform, topic: string, key: string, perPartition: number): Promise<number | null> {
  return (await lastOpenTimesByKey(platform, topic, perPartition)).get(key) ?? null;
}
