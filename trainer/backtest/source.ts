// Where a backtest's events come from: the market.candles and text.raw topics (read from the
// offsets for the range's timestamps with throwaway consumer groups that never commit, so no live
// group's offsets move) or the same events from the files in the data folder. Both paths end in
// assembleEvents, one pure function that filters, dedupes, sorts, finds gaps and checks coverage,
// so that the two give identical BacktestEvents for the same data (only source and provenance
// differ) and the output never depends on the wall clock or on the order records were read in.
import type { Platform } from '../../core/runtime.js';
import { createAdmin } from '../../core/kafka/client.js';
import { rangesSince, readRange, type PartitionRange } from '../../core/kafka/range.js';
import { BitPredictError, errorMessage } from '../../core/errors.js';
import { validateCandle } from '../../core/domain/candle.js';
import { intervalMs, isKnownInterval, INTERVAL_MS } from '../../core/domain/intervals.js';
import type { Candle, ScoredText, TextItem } from '../../schemas/types.js';
import { resolveDataFile } from '../../core/data/files.js';
import { validateTextItem } from '../../core/text/validate.js';
import { readCandleFile, loadTextsFromFile } from '../../core/data/load.js';
import { describeDroppedLastRow } from '../../core/data/candle-file.js';
import { scoredTextOf, type ScorableText } from '../../core/text/scored.js';
import type { BacktestEvents, BacktestRange, CandleGap } from './types.js';
import { seriesKey } from '../../schemas/keys.js';
import type { Config } from '../../core/config.js';
import type { TextColumns } from '../../core/data/text/index.js';

/** The config default of BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS, for the files path when none is given. */
export const DEFAULT_SENTIMENT_WINDOW_MS = 14_400_000;

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/** "BTCUSDT:1h 2024-03-01T00:00:00.000Z .. 2024-03-15T00:00:00.000Z" */
export function describeRange(range: BacktestRange): string {
  return `${range.symbol}:${range.interval} ${iso(range.from)} .. ${iso(range.to)}`;
}

/**
 * Checks the range and the warm-up length; returns the interval length (ms). A range that cannot
 * be backtested at all is an ERR_BACKTEST_RANGE, like one the data does not cover.
 */
export function checkRange(range: BacktestRange, warmupBars: number): number {
  if (!Number.isSafeInteger(range.from) || !Number.isSafeInteger(range.to)) {
    throw new BitPredictError('ERR_BACKTEST_RANGE', `backtest range from/to must be safe integers (ms), got ${String(range.from)} .. ${String(range.to)}`);
  }
  if (range.from >= range.to) {
    throw new BitPredictError('ERR_BACKTEST_RANGE', `backtest range is empty: from ${iso(range.from)} is not before to ${iso(range.to)}`);
  }
  if (!isKnownInterval(range.interval)) {
    throw new BitPredictError('ERR_BACKTEST_RANGE', `backtest interval "${range.interval}" is unknown; expected one of ${Object.keys(INTERVAL_MS).join(', ')}`);
  }
  if (range.symbol.trim() === '') throw new BitPredictError('ERR_BACKTEST_RANGE', 'backtest symbol is empty');
  if (!Number.isSafeInteger(warmupBars) || warmupBars < 0) {
    throw new BitPredictError('ERR_VALIDATION', `warmupBars must be an integer >= 0, got ${String(warmupBars)}`);
  }
  return intervalMs(range.interval);
}

/** Start of the warm-up: range.from minus warmupBars intervals. */
export function warmupStart(range: BacktestRange, warmupBars: number): number {
  return range.from - warmupBars * intervalMs(range.interval);
}

/**
 * Earliest publishedAt a backtest needs: the first warm-up bar's feature aggregates the texts of
 * (t - W, t], so texts from warmupFrom - W on can count.
 */
export function textStart(warmupFrom: number, sentimentWindowMs: number): number {
  return warmupFrom - sentimentWindowMs;
}

/**
 * A candle with a fixed key order (schema order) and ingestedAt = closeTime. ingestedAt is the
 * wall clock of whoever published the candle (a replay stamps the time it ran), so it differs
 * between a topic and a file of the same data and between two replays; point in time, a closed
 * candle is available at its close, which is what a deterministic backtest must assume.
 */
export function normalizeCandle(c: Candle): Candle {
  return {
    symbol: c.symbol,
    interval: c.interval,
    exchange: c.exchange,
    openTime: c.openTime,
    closeTime: c.closeTime,
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    quoteVolume: c.quoteVolume,
    tradeCount: c.tradeCount,
    source: c.source,
    ingestedAt: c.closeTime,
  };
}

/** A TextItem scored as the sentiment processor scores it (VADER; no FinBERT), with scoredAt = publishedAt (no wall clock). */
export function scoreText(item: ScorableText): ScoredText {
  return scoredTextOf(item, null, item.publishedAt);
}

function normalizeText(t: ScoredText): ScoredText {
  return {
    id: t.id,
    source: t.source,
    kind: t.kind,
    publishedAt: t.publishedAt,
    vader: t.vader,
    finbert: t.finbert,
    vaderVersion: t.vaderVersion,
    scoredAt: t.publishedAt,
  };
}

/**
 * The candles of the series with warmupFrom <= openTime and closeTime <= to, sorted by openTime,
 * one per openTime: the last in `read` order wins (a re-replayed candle replaces the earlier
 * one instead of duplicating it). Candles of other series are ignored.
 */
export function selectCandles(read: readonly Candle[], range: BacktestRange, warmupFrom: number): Candle[] {
  const byOpen = new Map<number, Candle>();
  for (const c of read) {
    if (c.symbol !== range.symbol || c.interval !== range.interval) continue;
    // Future-dated candles (closing after the range) are dropped here, before anything can see them.
    if (c.openTime < warmupFrom || c.closeTime > range.to) continue;
    byOpen.set(c.openTime, c);
  }
  return [...byOpen.values()].sort((a, b) => a.openTime - b.openTime).map(normalizeCandle);
}

/** Texts with from <= publishedAt < to, sorted by (publishedAt, id), one per id (the last in `read` order wins). */
export function selectTexts(read: readonly ScoredText[], from: number, to: number): ScoredText[] {
  const byId = new Map<string, ScoredText>();
  for (const t of read) {
    if (t.publishedAt < from || t.publishedAt >= to) continue;
    byId.set(t.id, t);
  }
  return [...byId.values()].sort((a, b) => a.publishedAt - b.publishedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(normalizeText);
}

/**
 * Holes in the series inside [warmupFrom, to): between consecutive candles more than one interval
 * apart, before the first candle (from the first aligned openTime >= warmupFrom) and after the
 * last (up to the last bar that closes by `to`; that gap's `to` is the openTime just past it).
 * `candles` sorted by openTime, one per openTime, aligned to the interval.
 */
export function findGaps(candles: readonly Candle[], warmupFrom: number, to: number, len: number): CandleGap[] {
  const gaps: CandleGap[] = [];
  const first = candles[0];
  const last = candles.at(-1);
  if (first === undefined || last === undefined) return gaps;
  const firstExpected = Math.ceil(warmupFrom / len) * len;
  // The bar after the last one that closes at or before `to`.
  const endExpected = Math.floor(to / len) * len;
  const push = (from: number, next: number): void => {
    if (next > from) gaps.push({ from, to: next, missingBars: Math.round((next - from) / len) });
  };
  push(firstExpected, first.openTime);
  for (let i = 1; i < candles.length; i++) {
    const prev = candles[i - 1] as Candle;
    const cur = candles[i] as Candle;
    if (cur.openTime - prev.openTime > len) push(prev.openTime + len, cur.openTime);
  }
  push(last.openTime + len, endExpected);
  return gaps;
}

/**
 * Throws ERR_BACKTEST_RANGE when the candles do not cover the range: none at all, the first opens
 * after range.from (the data starts later, e.g. retention removed it), or the last closes before
 * range.to minus one interval. `where` names the data read (topic or file).
 */
export function checkCoverage(
  candles: readonly Candle[],
  range: BacktestRange,
  warmupFrom: number,
  where: string,
  extent: { from: number; to: number } | null = null,
): void {
  const len = intervalMs(range.interval);
  const first = candles[0];
  const last = candles.at(-1);
  const wanted = `requested ${describeRange(range)} (warm-up from ${iso(warmupFrom)})`;
  if (first === undefined || last === undefined) {
    // Candles read beyond range.to still tell the user where the data is.
    const later = extent ? `; it holds ${range.symbol}:${range.interval} candles from ${iso(extent.from)} to ${iso(extent.to)}` : '';
    throw new BitPredictError(
      'ERR_BACKTEST_RANGE',
      `${wanted}, but ${where} holds no ${range.symbol}:${range.interval} candle between ${iso(warmupFrom)} and ${iso(range.to)}${later}`,
      {
        details: { range, warmupFrom, available: extent },
      },
    );
  }
  // What the source holds from the warm-up start on (beyond range.to too, when it was read).
  const held = { from: Math.min(first.openTime, extent?.from ?? first.openTime), to: Math.max(last.closeTime, extent?.to ?? last.closeTime) };
  const available = `${where} holds ${range.symbol}:${range.interval} candles from ${iso(held.from)} to ${iso(held.to)}`;
  if (first.openTime > range.from) {
    throw new BitPredictError('ERR_BACKTEST_RANGE', `${wanted}, but ${available}: the data starts after the range does`, {
      details: { range, warmupFrom, available: held },
    });
  }
  if (last.closeTime < range.to - len) {
    throw new BitPredictError('ERR_BACKTEST_RANGE', `${wanted}, but ${available}: the data ends before the range does`, {
      details: { range, warmupFrom, available: held },
    });
  }
}

export interface AssembleInput {
  source: BacktestEvents['source'];
  range: BacktestRange;
  warmupBars: number;
  sentimentWindowMs: number;
  /** Candles as read (any series, any order; later ones replace earlier ones of the same openTime). */
  candles: readonly Candle[];
  /** Scored texts as read (later ones replace earlier ones of the same id). */
  texts: readonly ScoredText[];
  provenance: string[];
  /** Names the data in range errors, e.g. "market.candles" or a file path. */
  where: string;
}

/** First openTime and last closeTime of the series' candles read from warmupFrom on, or null. */
function seriesExtent(read: readonly Candle[], range: BacktestRange, warmupFrom: number): { from: number; to: number } | null {
  let from = Infinity;
  let to = -Infinity;
  for (const c of read) {
    if (c.symbol !== range.symbol || c.interval !== range.interval || c.openTime < warmupFrom) continue;
    if (c.openTime < from) from = c.openTime;
    if (c.closeTime > to) to = c.closeTime;
  }
  return from <= to ? { from, to } : null;
}

/** The BacktestEvents of what was read: the common rules of both sources, in one pure function. */
export function assembleEvents(input: AssembleInput): BacktestEvents {
  const { range } = input;
  const len = checkRange(range, input.warmupBars);
  const warmupFrom = range.from - input.warmupBars * len;
  const candles = selectCandles(input.candles, range, warmupFrom);
  checkCoverage(candles, range, warmupFrom, input.where, seriesExtent(input.candles, range, warmupFrom));
  return {
    source: input.source,
    range: { symbol: range.symbol, interval: range.interval, from: range.from, to: range.to },
    warmupFrom,
    candles,
    texts: selectTexts(input.texts, textStart(warmupFrom, input.sentimentWindowMs), range.to),
    gaps: findGaps(candles, warmupFrom, range.to, len),
    provenance: input.provenance,
  };
}

export interface FileSourceOptions {
  dataDir: string;
  /** The candle file (absolute or relative to dataDir), as the replay reads it. */
  candleFile: string;
  /** Tweets / news CSVs, in the order a text replay would publish them (a later file's id wins). */
  textFiles: string[];
  /** The columns of generic text CSVs (--text-columns; core/data/text/generic.ts). */
  textColumns?: Partial<TextColumns>;
  /** Each text row the replay would dead-letter (malformed, future-dated...), with its file and line. */
  onDeadTextRow?(file: string, row: { line: number; reason: string }): void;
  range: BacktestRange;
  warmupBars: number;
  /** W of the feature processor (config.features.sentimentWindowMs); default the config default. */
  sentimentWindowMs?: number;
  /** Clock for the replay's validation (future-dated rows); never part of the output. */
  now?: () => number;
  /** The --columns mapping of a CSV candle file; absent: detected. */
  columns?: string | undefined;
  /** Drop the candle file's last row whatever its time (--drop-last). */
  dropLast?: boolean | undefined;
  onProgress?(line: string): void;
}

/**
 * ERR_BACKTEST_RANGE when the candle file itself starts inside the warm-up (no row before
 * warmupFrom, first candle after it): the missing warm-up is not a gap to warn about but a range
 * the file cannot serve. Names the file's first candle and the earliest --from that works.
 */
function checkFileStart(path: string, firstOpenTime: number, range: BacktestRange, warmupBars: number, warmupFrom: number): void {
  const len = intervalMs(range.interval);
  const earliest = firstOpenTime + warmupBars * len;
  const lower = warmupBars > 0 ? ` or lower --warmup-bars (the ${Math.floor((range.from - firstOpenTime) / len)} candles before --from that the file has)` : '';
  throw new BitPredictError(
    'ERR_BACKTEST_RANGE',
    `requested ${describeRange(range)} with ${warmupBars} warm-up candles from ${iso(warmupFrom)}, but ${path} holds ${range.symbol}:${range.interval} candles from ${iso(firstOpenTime)} (its first row): ` +
      `the earliest --from that works is ${iso(earliest)}${earliest >= range.to ? ` (after --to ${iso(range.to)}: move --to too)` : ''}${firstOpenTime <= range.from ? lower : ''}`,
    { details: { range, warmupFrom, fileStart: firstOpenTime, earliestFrom: earliest } },
  );
}

/** The backtest's events from the files: the candles and texts a replay of them would publish. */
export async function loadEventsFromFiles(o: FileSourceOptions): Promise<BacktestEvents> {
  const len = checkRange(o.range, o.warmupBars);
  const warmupFrom = o.range.from - o.warmupBars * len;
  const windowMs = o.sentimentWindowMs ?? DEFAULT_SENTIMENT_WINDOW_MS;
  const provenance: string[] = [];
  const candlePath = resolveDataFile(o.dataDir, o.candleFile);
  let deadCandles = 0;
  const read = await readCandleFile(o.dataDir, candlePath, o.range.symbol, o.range.interval, {
    from: warmupFrom,
    to: o.range.to,
    ...(o.now ? { now: o.now } : {}),
    columns: o.columns,
    dropLast: o.dropLast,
    onDeadRow: () => void deadCandles++,
  });
  const { candles } = read;
  const dropped = read.droppedLastRow === null ? null : describeDroppedLastRow(read.droppedLastRow);
  provenance.push(
    `file ${candlePath} (${read.layout.format}): ${candles.length} candles of ${o.range.symbol}:${o.range.interval} from ${iso(warmupFrom)}${deadCandles > 0 ? `, ${deadCandles} rows the replay would dead-letter` : ''}${dropped === null ? '' : `; ${dropped}`}`,
  );
  o.onProgress?.(`read ${candles.length} candles from ${candlePath} (${read.layout.format})`);
  if (dropped !== null) o.onProgress?.(dropped);
  const first = candles[0];
  if (first !== undefined && read.skippedBeforeFrom === 0 && first.openTime > warmupFrom)
    checkFileStart(candlePath, first.openTime, o.range, o.warmupBars, warmupFrom);
  const texts: ScoredText[] = [];
  for (const file of o.textFiles) {
    const path = resolveDataFile(o.dataDir, file);
    let dead = 0;
    const read = loadTextsFromFile(o.dataDir, path, {
      ...(o.now ? { now: o.now } : {}),
      ...(o.textColumns ? { columns: o.textColumns } : {}),
      onDeadRow: (row) => {
        dead++;
        o.onDeadTextRow?.(path, row);
      },
    });
    for (const t of read) texts.push(t);
    provenance.push(`file ${path}: ${read.length} texts${dead > 0 ? `, ${dead} rows the replay would dead-letter` : ''}`);
    o.onProgress?.(`read and scored ${read.length} texts from ${path}`);
  }
  return assembleEvents({
    source: 'files',
    range: o.range,
    warmupBars: o.warmupBars,
    sentimentWindowMs: windowMs,
    candles,
    texts,
    provenance,
    where: candlePath,
  });
}

export interface KafkaSourceOptions {
  /** Validation tolerance and the sentiment window of the live processors. */
  config: Pick<Config, 'events' | 'features'>;
  range: BacktestRange;
  warmupBars: number;
  /** Clock for the live consumers' validation (future-dated records); never part of the output. */
  now?: () => number;
  /** Records read so far / records to read in total, and what is being read. */
  onProgress?(done: number, total: number, what: string): void;
  /** Per-partition read timeout (default 120 s). */
  timeoutMs?: number;
}

interface PartitionPlan extends PartitionRange {
  topic: string;
}

async function planReads(platform: Platform, reads: { topic: string; since: number }[]): Promise<PartitionPlan[]> {
  const admin = await createAdmin(platform.kafka);
  const plans: PartitionPlan[] = [];
  try {
    for (const { topic, since } of reads) {
      for (const r of await rangesSince(admin, topic, since)) plans.push({ topic, ...r });
    }
  } finally {
    await admin.close();
  }
  return plans.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

/**
 * The backtest's events from market.candles and text.raw. Candles: only records keyed
 * `symbol:interval`, decoded and validated as the feature processor does (what it would
 * dead-letter is skipped and counted in the provenance). Texts: every text.raw record validated as
 * the sentiment processor does and scored with VADER. Each partition is read by readRange with its
 * own throwaway consumer group that never commits (read_committed).
 */
export async function loadEventsFromKafka(platform: Platform, o: KafkaSourceOptions): Promise<BacktestEvents> {
  const { range } = o;
  const len = checkRange(range, o.warmupBars);
  const { serde } = platform;
  const { config } = o;
  const now = o.now ?? Date.now;
  const tolerance = config.events.futureToleranceMs;
  const warmupFrom = range.from - o.warmupBars * len;
  const textFrom = textStart(warmupFrom, config.features.sentimentWindowMs);
  const candleTopic = platform.kafka.topic('candles');
  const textTopic = platform.kafka.topic('textRaw');
  const key = seriesKey(range.symbol, range.interval);
  const plans = await planReads(platform, [
    { topic: candleTopic, since: warmupFrom },
    { topic: textTopic, since: textFrom },
  ]);
  const total = plans.reduce((n, p) => n + Number(p.to - p.from), 0);
  let done = 0;
  const report = (what: string): void => o.onProgress?.(done, total, what);
  report(candleTopic);

  const candles: Candle[] = [];
  const texts: ScoredText[] = [];
  const provenance: string[] = [];
  for (const plan of plans) {
    const isCandles = plan.topic === candleTopic;
    let kept = 0;
    // By kind (bounded), with the first reason of each as an example.
    const skipped = new Map<string, { n: number; example: string }>();
    const skip = (kind: string, reason: string): void => {
      const s = skipped.get(kind);
      if (s) s.n++;
      else skipped.set(kind, { n: 1, example: reason });
    };
    const base = done;
    if (plan.from < plan.to) {
      await readRange(
        platform.kafka,
        plan.topic,
        plan.partition,
        plan.from,
        plan.to,
        async (rec) => {
          done++;
          if (done % 5000 === 0) report(plan.topic);
          if (isCandles) {
            // Other series share the topic: skip them before paying for a decode.
            if (rec.key === null || rec.key.toString('utf8') !== key) return;
            if (rec.value === null) return;
            let c: Candle;
            try {
              c = await serde.decode('candles', rec.value);
            } catch (err) {
              skip('undecodable', errorMessage(err));
              return;
            }
            const invalid = validateCandle(c, now(), tolerance);
            if (invalid) return skip('invalid', invalid.reason);
            if (seriesKey(c.symbol, c.interval) !== key) return skip('wrong key', `key "${key}" does not match the candle's series ${c.symbol}:${c.interval}`);
            candles.push(c);
            kept++;
            return;
          }
          if (rec.value === null) return;
          let item: TextItem;
          try {
            item = await serde.decode('textRaw', rec.value);
          } catch (err) {
            skip('undecodable', errorMessage(err));
            return;
          }
          const invalid = validateTextItem(item, now(), tolerance);
          if (invalid) return skip('invalid', invalid);
          // Scoring is the costly part: only texts the backtest can use (assembleEvents filters again).
          if (item.publishedAt < textFrom || item.publishedAt >= range.to) return;
          texts.push(scoreText(item));
          kept++;
        },
        { ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) },
      );
    }
    // Transaction markers take offsets but never reach the callback: count the partition as done.
    done = base + Number(plan.to - plan.from);
    report(plan.topic);
    const what = isCandles ? `candles of ${key}` : 'texts in the window';
    const skips = [...skipped].map(([kind, s]) => `${s.n} skipped as ${kind} (e.g. ${s.example})`);
    provenance.push(
      `kafka ${plan.topic}[${plan.partition}] offsets ${plan.from}..${plan.to}: ${kept} ${what}${skips.length > 0 ? `; ${skips.join('; ')}` : ''}`,
    );
  }
  return assembleEvents({
    source: 'kafka',
    range,
    warmupBars: o.warmupBars,
    sentimentWindowMs: config.features.sentimentWindowMs,
    candles,
    texts,
    provenance,
    where: `topic ${candleTopic}`,
  });
}
