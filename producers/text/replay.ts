// Text replay: publishes one of the real text CSVs (tweets, semicolon news, news descriptions,
// CoinDesk headlines: core/data/text) to text.raw with the items' original publication times, in
// publishedAt order (the news file is newest-first with a few rows out of order, so the whole file
// is sorted in memory; the files are 1-3 MB). Bad rows go to the DLQ with their raw text and
// 1-based line; rows a format excludes by rule (descriptions after 2023-12) are counted in the
// summary and the log with the reason; with resume on, ids already in text.raw are skipped.
import { readFileSync, statSync } from 'node:fs';
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import { BitPredictError } from '../../core/errors.js';
import { counter } from '../../core/metrics.js';
import { resolveDataFile } from '../../core/data/files.js';
import type { ExcludedRows, TextFileFormat } from '../../core/data/text/index.js';
import { mapTextFile } from '../../core/data/load.js';
import { deadTextRecord, loadTextTail, textRecord } from './publish.js';
import type { Config } from '../../core/config.js';

export interface TextReplayOptions {
  platform: Platform;
  config: Pick<Config, 'events' | 'data' | 'replay'>;
  producer: Producer;
  /** Absolute, or relative to the data folder. */
  file: string;
  /** Items per second; 0 = as fast as possible. */
  rate?: number;
  /** Publish at most this many items (0 = all). */
  limit?: number;
  /** Skip ids already in the tail of text.raw. */
  resume?: boolean;
  batchSize?: number;
  signal?: AbortSignal;
  now?: () => number;
}

export interface TextReplaySummary {
  file: string;
  /** The detected layout; 'generic' for a CSV read by its time and text columns. */
  format: TextFileFormat | 'generic';
  rows: number;
  published: number;
  deadLettered: number;
  duplicates: number;
  /** Rows left out by the format's rule, with the reason (descriptions after 2023-12); empty for formats without one. */
  excluded: ExcludedRows[];
  skippedAlreadyPublished: number;
  firstPublishedAt: number | null;
  lastPublishedAt: number | null;
  aborted: boolean;
}

const MAX_FILE_BYTES = 200 * 1024 * 1024;

export async function runTextReplay(opts: TextReplayOptions): Promise<TextReplaySummary> {
  const { platform, producer } = opts;
  const { config } = opts;
  const logger = platform.logger.child({ component: 'text-replay' });
  const now = opts.now ?? Date.now;
  const path = resolveDataFile(config.data.dir, opts.file);
  if (statSync(path).size > MAX_FILE_BYTES) throw new BitPredictError('ERR_REPLAY_FILE', `text replay file ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  const content = readFileSync(path, 'utf8');
  const { mapped, format } = mapTextFile(path, content, { now: now(), futureToleranceMs: config.events.futureToleranceMs });
  const published = counter(platform.registry, 'bitpredict_text_replay_items_total', 'Text items published by text replay');
  const dlqTotal = counter(platform.registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  let drafts = mapped.drafts;
  let skipped = 0;
  if (opts.resume ?? config.replay.resume) {
    const tail = new Set((await loadTextTail(platform, Math.max(10_000, drafts.length))).ids);
    const before = drafts.length;
    drafts = drafts.filter((d) => !tail.has(d.id));
    skipped = before - drafts.length;
  }
  if ((opts.limit ?? 0) > 0) drafts = drafts.slice(0, opts.limit);
  const summary: TextReplaySummary = {
    file: path,
    format,
    rows: mapped.rows,
    published: 0,
    deadLettered: 0,
    duplicates: mapped.duplicates,
    excluded: mapped.excluded,
    skippedAlreadyPublished: skipped,
    firstPublishedAt: drafts[0]?.publishedAt ?? null,
    lastPublishedAt: null,
    aborted: false,
  };
  logger.info(
    { file: path, format, items: drafts.length, dead: mapped.dead.length, duplicates: mapped.duplicates, skipped, rate: opts.rate || 'max' },
    'text replay starting',
  );
  for (const e of mapped.excluded) logger.info({ file: path, excluded: e.rows, reason: e.reason }, 'text replay rows excluded by the format rule');
  if (mapped.dead.length > 0) {
    const t = now();
    await producer.send(
      mapped.dead.map((d) => deadTextRecord(platform, { kind: 'file', source: path, offset: d.line, raw: d.raw }, 'ERR_REPLAY_MALFORMED_ROW', d.reason, t)),
    );
    summary.deadLettered = mapped.dead.length;
    dlqTotal.inc({ group: 'text-replay', reason: 'ERR_REPLAY_MALFORMED_ROW' }, mapped.dead.length);
    for (const d of mapped.dead.slice(0, 20)) logger.warn({ line: d.line, reason: d.reason }, 'text replay row sent to the DLQ');
  }
  const rate = opts.rate ?? 0;
  const batchSize = rate > 0 ? 1 : (opts.batchSize ?? 500);
  let nextAt = Date.now();
  for (let i = 0; i < drafts.length; i += batchSize) {
    if (opts.signal?.aborted) {
      summary.aborted = true;
      break;
    }
    if (rate > 0) {
      const wait = nextAt - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      nextAt = Math.max(nextAt + 1000 / rate, Date.now() - 1000);
    }
    const t = now();
    const batch = drafts.slice(i, i + batchSize);
    const records: OutRecord[] = batch.map((d) => textRecord(platform, d, t));
    await producer.send(records);
    summary.published += batch.length;
    summary.lastPublishedAt = batch.at(-1)?.publishedAt ?? summary.lastPublishedAt;
    published.inc(batch.length);
  }
  logger.info(summary, 'text replay finished');
  return summary;
}
