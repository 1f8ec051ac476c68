// News producer: polls RSS/Atom feeds with conditional GET and publishes new items to text.raw.
// Each feed has its own schedule and backoff, so one failing feed never delays the others. A poll
// commits its state (ETag, Last-Modified, seen ids) only after Kafka acknowledged the records, so a
// failed send is retried by the next full fetch instead of being lost behind a 304.
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import type { Service, Readiness } from '../../core/service.js';
import type { Logger } from '../../core/logger.js';
import { counter, gauge, type Registry } from '../../core/metrics.js';
import { feedSource, parseFeed, type FeedEntry } from './domain/index.js';
import { retryAfterMs } from '../../core/domain/http.js';
import { backoffMs, type BackoffPolicy } from '../../core/backoff.js';
import { createPoller, type SourceState } from '../../core/polling.js';
import { BoundedSet, deadTextRecord, loadTextTail, textRecord } from './publish.js';
import type { Config } from '../../core/config.js';

export interface NewsOptions {
  platform: Platform;
  config: Pick<Config, 'events' | 'text'>;
  producer: Producer;
  feeds?: string[];
  pollIntervalMs?: number;
  quietAfterMs?: number;
  /** Per-request timeout (ms). */
  fetchTimeoutMs?: number;
  /** Upper bound of the per-feed backoff (ms). */
  maxBackoffMs?: number;
  /** Poll on the schedule after start() (default true); false leaves polling to pollAll() (tests). */
  schedule?: boolean;
  /** Rebuild the dedupe memory from the tail of text.raw on start (default true). */
  loadSeenFromTail?: boolean;
  now?: () => number;
}

export type FetchResult = 'ok' | 'not_modified' | 'rate_limited' | 'http_error' | 'timeout' | 'network' | 'malformed' | 'kafka';

/** A feed's state: failures, nextAt and lastResult (the poller's part), and what the feed remembers. */
export interface FeedState extends SourceState<FetchResult> {
  url: string;
  source: string;
  label: string;
  etag: string | null;
  lastModified: string | null;
  /** Newest publishedAt among the feed's items, published now or before a restart. */
  lastItemAt: number | null;
  published: number;
  rejected: number;
}

export interface NewsService extends Service {
  /** Polls every feed now, ignoring schedules and backoff (tests, `--once`). */
  pollAll(): Promise<void>;
  feeds(): readonly FeedState[];
}

const SEEN_MAX = 200_000;

export function feedLabel(url: string, index: number): string {
  try {
    return `${index}:${new URL(url).host}`;
  } catch {
    return String(index);
  }
}

export async function createNewsService(opts: NewsOptions): Promise<NewsService> {
  const { platform, producer } = opts;
  const { config } = opts;
  const logger: Logger = platform.logger.child({ component: 'news' });
  const now = opts.now ?? Date.now;
  const interval = opts.pollIntervalMs ?? config.text.rssPollIntervalMs;
  const quietAfter = opts.quietAfterMs ?? config.text.rssQuietAfterMs;
  const timeoutMs = opts.fetchTimeoutMs ?? 20_000;
  // A failing feed is retried from its own poll interval, doubling; a Retry-After wins when longer.
  const retryPolicy: BackoffPolicy = { baseMs: interval, maxMs: opts.maxBackoffMs ?? Math.max(interval, 3_600_000), maxDoublings: 10 };
  const metrics = newsMetrics(platform.registry);
  const startedAt = now();
  const states = feedStates(opts.feeds ?? config.text.rssFeeds);
  const memory: FeedMemory = { seen: new BoundedSet(SEEN_MAX), rejected: new BoundedSet(SEEN_MAX) };

  function updateGauges(s: FeedState): void {
    const t = now();
    if (s.lastItemAt !== null) metrics.age.set({ feed: s.label }, Math.max(0, (t - s.lastItemAt) / 1000));
    metrics.quiet.set({ feed: s.label }, t - (s.lastItemAt ?? startedAt) > quietAfter ? 1 : 0);
  }

  function fail(s: FeedState, result: FetchResult, detail: Record<string, unknown>, waitMs?: number | null): void {
    metrics.fetches.inc({ feed: s.label, result });
    const delay = poller.failed(s, result, waitMs ?? null);
    logger.warn({ feed: s.url, result, failures: s.failures, retryInMs: delay, ...detail }, 'feed fetch failed; backing off');
  }

  function succeed(s: FeedState, result: 'ok' | 'not_modified'): void {
    poller.succeeded(s, result, now() + interval);
    metrics.fetches.inc({ feed: s.label, result });
  }

  async function pollFeed(s: FeedState): Promise<void> {
    const got = await fetchFeed(s, timeoutMs, now);
    if (got.kind === 'failed') return fail(s, got.result, got.detail, got.waitMs);
    if (got.kind === 'not_modified') return succeed(s, 'not_modified');
    const t = now();
    const parsed = parseFeed(got.body, s.source, { now: t, futureToleranceMs: config.events.futureToleranceMs });
    if (!parsed.ok) return fail(s, 'malformed', { reason: parsed.reason, bytes: got.body.length });
    const out = feedRecords(platform, s, parsed.entries, memory, t);
    try {
      await producer.send(out.records);
    } catch (err) {
      return fail(s, 'kafka', { err });
    }
    notePublished({ memory, metrics, logger }, s, out);
    s.etag = got.etag;
    s.lastModified = got.lastModified;
    succeed(s, 'ok');
    if (out.ids.size > 0 || out.bad.length > 0) logger.info({ feed: s.url, published: out.ids.size, rejected: out.bad.length }, 'feed polled');
  }

  async function pollDue(force: boolean): Promise<void> {
    const t = now();
    await Promise.all(states.filter((s) => force || s.nextAt <= t).map((s) => pollFeed(s)));
    // Every round, due feeds or not, so that a feed turns quiet on time.
    for (const s of states) updateGauges(s);
  }

  // The next round when the first feed comes due, and at least once a minute for the gauges.
  const untilNextDue = (): number => Math.min(Math.max(0, Math.min(...states.map((s) => s.nextAt)) - now()), 60_000);

  const poller = createPoller({
    now,
    backoff: (failures, serverWaitMs) => backoffMs(retryPolicy, failures, serverWaitMs),
    seed:
      (opts.loadSeenFromTail ?? true)
        ? async () => {
            const tail = await loadTextTail(platform, 2_000);
            for (const id of tail.ids) memory.seen.add(id);
            for (const s of states) s.lastItemAt = tail.lastPublished.get(s.source) ?? null;
            logger.info({ remembered: tail.ids.length }, 'dedupe memory loaded from the tail of text.raw');
          }
        : undefined,
    onStart: () => {
      for (const s of states) updateGauges(s);
      logger.info({ feeds: states.map((s) => s.url), pollIntervalMs: interval }, 'news polling started');
    },
    round: async () => {
      await pollDue(false);
      return untilNextDue();
    },
    onRoundError: (err) => {
      logger.error({ err }, 'news poll failed');
      return untilNextDue();
    },
    schedule: states.length > 0 && (opts.schedule ?? true),
  });

  return {
    name: 'news',
    start: poller.start,
    stop: poller.stop,
    // Polls never overlap (a scheduled one and pollAll()), so a feed's state has one writer.
    pollAll: () => poller.exclusive(() => pollDue(true)),
    feeds: () => states,
    readiness(): Readiness {
      const checks: Record<string, string> = {};
      for (const s of states)
        checks[`feed ${s.label}`] = s.failures === 0 ? (s.lastResult ?? 'pending') : `backoff after ${s.failures} failure(s): ${s.lastResult ?? ''}`;
      // A failing feed is reported but does not make the service unready: the others still work.
      return poller.readiness(checks);
    },
  };
}

function feedStates(urls: readonly string[]): FeedState[] {
  return urls.map((url, i) => ({
    url,
    source: feedSource(url),
    label: feedLabel(url, i),
    etag: null,
    lastModified: null,
    failures: 0,
    nextAt: 0,
    lastResult: null,
    lastItemAt: null,
    published: 0,
    rejected: 0,
  }));
}

/** After Kafka acknowledged a feed's records: remember what was published and rejected, and count it. */
function notePublished(
  c: { memory: FeedMemory; metrics: ReturnType<typeof newsMetrics>; logger: Logger },
  s: FeedState,
  out: ReturnType<typeof feedRecords>,
): void {
  for (const id of out.ids) c.memory.seen.add(id);
  for (const e of out.bad) {
    c.memory.rejected.add(rejectedKey(s, e));
    c.logger.warn({ feed: s.url, reason: e.reason }, 'feed item sent to the DLQ');
  }
  if (out.bad.length > 0) {
    c.metrics.rejected.inc({ feed: s.label }, out.bad.length);
    c.metrics.dlq.inc({ group: 'news', reason: 'ERR_VALIDATION' }, out.bad.length);
  }
  if (out.ids.size > 0) c.metrics.items.inc({ feed: s.label }, out.ids.size);
  s.published += out.ids.size;
  s.rejected += out.bad.length;
  for (const item of out.fresh) s.lastItemAt = Math.max(s.lastItemAt ?? 0, item.publishedAt);
}

function newsMetrics(registry: Registry) {
  return {
    fetches: counter(registry, 'bitpredict_news_fetch_total', 'Feed fetches by result', ['feed', 'result']),
    items: counter(registry, 'bitpredict_news_items_total', 'News items published to text.raw', ['feed']),
    rejected: counter(registry, 'bitpredict_news_items_rejected_total', 'Feed items sent to the DLQ (bad or missing date, no id, empty)', ['feed']),
    dlq: counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']),
    quiet: gauge(registry, 'bitpredict_news_feed_quiet', '1 when a feed has published nothing new for BITPREDICT_RSS_QUIET_AFTER_MS', ['feed']),
    age: gauge(registry, 'bitpredict_news_feed_last_item_age_seconds', 'Age of the newest item of each feed', ['feed']),
  };
}

type FeedFetch =
  | { kind: 'body'; body: string; etag: string | null; lastModified: string | null }
  | { kind: 'not_modified' }
  | { kind: 'failed'; result: FetchResult; detail: Record<string, unknown>; waitMs?: number | null };

/** One conditional GET of a feed, classified; a 429 or 503 carries the Retry-After wait. */
async function fetchFeed(s: FeedState, timeoutMs: number, now: () => number): Promise<FeedFetch> {
  const headers: Record<string, string> = {
    accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8',
    'user-agent': 'BitPredict/1.0 (+news ingestion)',
  };
  if (s.etag) headers['if-none-match'] = s.etag;
  if (s.lastModified) headers['if-modified-since'] = s.lastModified;
  let res: Response;
  let body: string;
  try {
    res = await fetch(s.url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    body = res.status === 304 ? '' : await res.text();
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { kind: 'failed', result: timedOut ? 'timeout' : 'network', detail: { err } };
  }
  if (res.status === 304) return { kind: 'not_modified' };
  if (res.status === 429)
    return { kind: 'failed', result: 'rate_limited', detail: { status: 429 }, waitMs: retryAfterMs(res.headers.get('retry-after'), now()) };
  if (res.status < 200 || res.status >= 300) {
    return {
      kind: 'failed',
      result: 'http_error',
      detail: { status: res.status },
      waitMs: res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), now()) : null,
    };
  }
  return { kind: 'body', body, etag: res.headers.get('etag'), lastModified: res.headers.get('last-modified') };
}

/** Ids already published, and rejected items already dead-lettered (so each bad item goes to the DLQ once, not every poll). */
interface FeedMemory {
  seen: BoundedSet;
  rejected: BoundedSet;
}

type RejectedEntry = Extract<FeedEntry, { ok: false }>;

const rejectedKey = (s: FeedState, e: RejectedEntry): string => `${s.source}\u0000${e.key ?? e.raw}`;

/** The records of one parsed feed: new items in publish order, then new rejected items for the DLQ. */
function feedRecords(platform: Platform, s: FeedState, entries: FeedEntry[], memory: FeedMemory, t: number) {
  const fresh = entries.flatMap((e) => (e.ok && !memory.seen.has(e.item.id) ? [e.item] : [])).sort((a, b) => a.publishedAt - b.publishedAt);
  const bad = entries.flatMap((e) => (!e.ok && !memory.rejected.has(rejectedKey(s, e)) ? [e] : []));
  const records: OutRecord[] = [];
  const ids = new Set<string>();
  for (const item of fresh) {
    // The same guid twice in one document is one item.
    if (ids.has(item.id)) continue;
    ids.add(item.id);
    records.push(textRecord(platform, item, t));
  }
  for (const e of bad) records.push(deadTextRecord(platform, { kind: 'http', source: s.url, offset: null, raw: e.raw }, 'ERR_VALIDATION', e.reason, t));
  return { records, ids, fresh, bad };
}
