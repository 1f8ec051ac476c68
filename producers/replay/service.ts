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
import { counter, type Counter } from '../../core/metrics.js';
import { lastOpenTimesByKey } from '../../core/kafka/resume.js';
import type { Candle } from '../../schemas/types.js';
import { KNOWN_PARTIAL_LAST_ROW, detectLayout, intervalMs, type ReplayFormat, type SequencerStats } from '../../core/data/candles/index.js';
import { describeDroppedLastRow, replayBatches, type PipelineBatch, type PipelineParams } from '../../core/data/candle-file.js';
import { delay } from '../../core/time.js';
import { backoffMs } from '../../core/backoff.js';
import { classifyFailure } from '../../core/kafka/runner/classify.js';
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
  /** The --columns mapping of a CSV (BITPREDICT_REPLAY_COLUMNS); empty or absent: detected. */
  columns?: string;
  /** Drop the file's last row whatever its time (BITPREDICT_REPLAY_DROP_LAST). */
  dropLast?: boolean;
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
  /** The dropped last row and why (describeDroppedLastRow), or null when the last row was read. */
  droppedLastRow: string | null;
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
  const { platform } = opts;
  const logger: Logger = platform.logger.child({ component: 'replay' });
  const now = opts.now ?? Date.now;
  const plan = await planReplay(opts);
  const metrics = {
    published: counter(platform.registry, 'bitpredict_replay_candles_total', 'Candles published by replay'),
    dlq: counter(platform.registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']),
  };
  const summary: ReplaySummary = {
    file: plan.params.path,
    format: plan.params.format,
    published: 0,
    deadLettered: 0,
    duplicatesReplaced: 0,
    outOfOrder: 0,
    gaps: 0,
    missingIntervals: 0,
    droppedPartialLastRow: false,
    droppedLastRow: null,
    firstOpenTime: null,
    lastOpenTime: null,
    seconds: 0,
    aborted: false,
    skippedExisting: 0,
    resumedAfter: plan.params.resumeAfter ?? null,
  };
  const started = process.hrtime.bigint();
  logger.info(
    {
      file: plan.params.path,
      format: plan.params.format,
      key: plan.key,
      rate: opts.rate || 'max',
      speedFactor: plan.speedFactor || undefined,
      resumeAfter: summary.resumedAfter,
    },
    'replay starting',
  );
  const batches = replayBatches(plan.params, { encode: (c) => platform.serde.encode('candles', c), now, keepCandles: plan.paced });
  const sender = createBatchSender({ opts, plan, logger, metrics, summary, now });
  let stats: SequencerStats | null = null;
  try {
    for await (const b of batches) {
      // Checked between batches: once aborted, nothing more is sent.
      if (opts.signal?.aborted) {
        summary.aborted = true;
        break;
      }
      stats = b.stats;
      await sender.send(b);
      summary.skippedExisting = b.skippedExisting;
    }
    await sender.drain();
  } catch (err) {
    // A failed send must not become an unhandled rejection behind the error being thrown.
    await sender.settle();
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

/** What one replay reads and how it sends: the file, its format, the key, the pacing and the pipeline's parameters. */
interface ReplayPlan {
  params: PipelineParams;
  topic: string;
  key: string;
  speedFactor: number;
  /** One candle per batch, sent at a rate or at N x real time. */
  paced: boolean;
}

/** Checks the options, detects the file's format and, when resuming, finds the last candle already published. */
async function planReplay(opts: ReplayOptions): Promise<ReplayPlan> {
  const { platform, config } = opts;
  const path = resolveDataFile(config.data.dir, opts.file);
  const [first, second] = firstLines(path);
  const layout = detectLayout(basename(path), first, second, { columns: opts.columns });
  const format = layout.format;
  const known = KNOWN_PARTIAL_LAST_ROW(format, basename(path));
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
    path,
    format,
    layout,
    dropLastRow: known || opts.dropLast === true,
    ...(known ? {} : { dropLastReason: 'asked to (BITPREDICT_REPLAY_DROP_LAST)' }),
    symbol: opts.symbol,
    interval: opts.interval,
    intervalMs: intervalMs(opts.interval),
    exchange: opts.exchange ?? 'binance',
    source: `replay:${basename(path)}`,
    from: opts.from ?? null,
    to: opts.to ?? null,
    limit: opts.limit ?? 0,
    batchSize: paced ? 1 : (opts.batchSize ?? 1000),
    futureToleranceMs: config.events.futureToleranceMs,
    resumeAfter,
  };
  return { params, topic, key, speedFactor, paced };
}

/** Waits between tries of a batch while Kafka is away. */
const SEND_BACKOFF = { baseMs: 500, maxMs: 10_000, jitter: 'half', random: Math.random } as const;

/**
 * Sends the pipeline's batches: candles to market.candles and dead rows to the DLQ, in file order.
 * At most one batch is in flight; unpaced, the next batch is parsed while the previous one is sent.
 */
function createBatchSender(c: {
  opts: ReplayOptions;
  plan: ReplayPlan;
  logger: Logger;
  metrics: { published: Counter; dlq: Counter<'group' | 'reason'> };
  summary: ReplaySummary;
  now: () => number;
}) {
  const { opts, plan, logger, metrics, summary } = c;
  const { platform, producer } = opts;
  const { serde } = platform;
  let inFlight: Promise<void> | null = null;
  let nextSendAt = Date.now();
  // speedFactor: candle k is sent at start + (openTime_k - openTime_first) / speedFactor, so the
  // data's own spacing (and its gaps) is kept, compressed; a slow broker delays, never bunches.
  let paceOrigin: { wall: number; event: number } | null = null;

  const toRecords = (b: PipelineBatch): OutRecord[] => {
    const records: OutRecord[] = new Array<OutRecord>(b.values.length + b.dead.length);
    let d = 0;
    let k = 0;
    for (let i = 0; i < records.length; i++) {
      const dead = b.dead[d];
      if (dead !== undefined && dead.index === i) {
        d++;
        records[i] = deadLetterFromSource(
          { serde, topicPrefix: platform.kafka.topicPrefix },
          { kind: 'file', source: plan.params.path, offset: dead.lineNo, raw: Buffer.from(dead.raw, 'utf8') },
          { code: dead.code, message: dead.reason, attempts: 1 },
          dead.at,
        );
        summary.deadLettered++;
        metrics.dlq.inc({ group: 'replay', reason: dead.code });
        logger.warn({ line: dead.lineNo, code: dead.code, reason: dead.reason }, 'replay row sent to the DLQ');
        continue;
      }
      records[i] = { topic: plan.topic, key: plan.key, value: b.values[k] ?? null, timestamp: b.timestamps[k] };
      k++;
    }
    return records;
  };

  /** Waits until the batch is due (rate or speedFactor), then stamps ingestion time at the moment of sending. */
  async function pace(b: PipelineBatch, records: OutRecord[]): Promise<void> {
    if (plan.speedFactor > 0) {
      const openTime = b.candles?.[0]?.openTime;
      if (openTime !== undefined) {
        paceOrigin ??= { wall: Date.now(), event: openTime };
        await delay(paceOrigin.wall + (openTime - paceOrigin.event) / plan.speedFactor - Date.now(), opts.signal);
      }
    } else {
      await delay(nextSendAt - Date.now(), opts.signal);
      nextSendAt = Math.max(nextSendAt + 1000 / opts.rate, Date.now() - 1000);
    }
    // Stamped here so that latency figures start at the send. Re-encoding happens only in
    // rate-limited mode, where CPU is not the limit.
    const t = c.now();
    let k = 0;
    for (const r of records) if (r.topic === plan.topic && b.candles) r.value = serde.encode('candles', { ...(b.candles[k++] as Candle), ingestedAt: t });
  }

  /**
   * Sends the batch, waiting out Kafka being away (a broker restarting, the cluster unreachable):
   * the same batch goes again after a backoff (0.5 s doubling to 10 s) until the broker takes it
   * or the replay is aborted. Records the failed try had appended come twice; the processors
   * skip a candle they have (same series and open time). Other errors end the replay.
   */
  async function sendUntilKafkaAnswers(records: OutRecord[]): Promise<void> {
    let failures = 0;
    let since = 0;
    let lastLog = 0;
    for (;;) {
      try {
        await producer.send(records);
        if (failures > 0) logger.info({ attempts: failures + 1, waitedMs: Date.now() - since }, 'Kafka answers again; the replay goes on');
        return;
      } catch (err) {
        const failure = classifyFailure(err);
        if (failure.kind !== 'dependency' || !failure.code.startsWith('ERR_KAFKA') || opts.signal?.aborted) throw err;
        failures++;
        const t = Date.now();
        if (failures === 1) since = t;
        if (failures === 1 || t - lastLog >= 30_000) {
          lastLog = t;
          logger.warn({ code: failure.code, err, attempts: failures, waitedMs: t - since }, 'Kafka is unavailable; the replay waits and sends the batch again');
        }
        await delay(backoffMs(SEND_BACKOFF, failures), opts.signal);
        if (opts.signal?.aborted) throw err;
      }
    }
  }

  async function send(b: PipelineBatch): Promise<void> {
    const records = toRecords(b);
    summary.firstOpenTime ??= b.firstOpenTime;
    summary.lastOpenTime = b.lastOpenTime;
    summary.droppedPartialLastRow = b.droppedPartialLastRow;
    if (b.droppedLastRow !== null && summary.droppedLastRow === null) {
      summary.droppedLastRow = describeDroppedLastRow(b.droppedLastRow);
      logger.info({ line: b.droppedLastRow.lineNo, openTime: b.droppedLastRow.openTime, reason: b.droppedLastRow.reason }, summary.droppedLastRow);
    }
    summary.skippedExisting = b.skippedExisting;
    if (records.length === 0) return;
    const count = b.values.length;
    if (inFlight) await inFlight;
    if (plan.paced) await pace(b, records);
    inFlight = sendUntilKafkaAnswers(records).then(() => {
      summary.published += count;
      metrics.published.inc(count);
      opts.onProgress?.({ ...summary });
    });
    // A send that fails while the next batch is being computed is awaited (and thrown) at the
    // next send or at the end; until then it must not count as an unhandled rejection.
    inFlight.catch(() => undefined);
    if (plan.paced) await inFlight;
    // kafkajs encodes and writes the request in promise continuations after a few awaits; the
    // next batch is computed in one long synchronous stretch. Yielding once lets the request go
    // out first, so that parsing overlaps the broker's work instead of delaying the request.
    else await new Promise<void>((r) => setImmediate(r));
  }

  return {
    send,
    /** Waits for the last send; throws its error. */
    async drain(): Promise<void> {
      if (inFlight) await inFlight;
    },
    /** Waits for the last send, ignoring its error (another error is being thrown). */
    async settle(): Promise<void> {
      if (inFlight) await inFlight.catch(() => undefined);
    },
  };
}

/** The openTime of the last candle of `key` in the topic's tail, or null (see lastOpenTimesByKey). */
export async function lastPublishedOpenTime(platform: Platform, topic: string, key: string, perPartition: number): Promise<number | null> {
  return (await lastOpenTimesByKey(platform, topic, perPartition)).get(key) ?? null;
}
