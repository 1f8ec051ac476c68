// News producer: polls RSS/Atom feeds with conditional GET and publishes new items to text.raw.
// Each feed has its own schedule and backoff, so one failing feed never delays the others. A poll
// commits its state (ETag, Last-Modified, seen ids) only after Kafka acknowledged the records, so a
// failed send is retried by the next full fetch instead of being lost behind a 304.
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import type { Service, Readiness } from '../../core/service.js';
import type { Logger } from '../../core/logger.js';
import { errorMessage } from '../../core/errors.js';
import { counter, gauge } from '../../core/metrics.js';
import { feedSource, parseFeed } from './domain/index.js';
import { retryAfterMs } from '../../core/domain/http.js';
import { backoffMs, type BackoffPolicy } from '../../core/backoff.js';
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

export interface FeedState {
  url: string;
  source: string;
  label: string;
  etag: string | null;
  lastModified: string | null;
  failures: number;
  nextAt: number;
  lastResult: FetchResult | null;
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
  const { registry } = platform;
  const { config } = opts;
  const logger: Logger = platform.logger.child({ service: 'news' });
  const now = opts.now ?? Date.now;
  const feedUrls = opts.feeds ?? config.text.rssFeeds;
  const interval = opts.pollIntervalMs ?? config.text.rssPollIntervalMs;
  const quietAfter = opts.quietAfterMs ?? config.text.rssQuietAfterMs;
  const timeoutMs = opts.fetchTimeoutMs ?? 20_000;
  const maxBackoff = opts.maxBackoffMs ?? Math.max(interval, 3_600_000);
  // A failing feed is retried from its own poll interval, doubling; a Retry-After wins when longer.
  const retryPolicy: BackoffPolicy = { baseMs: interval, maxMs: maxBackoff, maxDoublings: 10 };
  const fetches = counter(registry, 'bitpredict_news_fetch_total', 'Feed fetches by result', ['feed', 'result']);
  const items = counter(registry, 'bitpredict_news_items_total', 'News items published to text.raw', ['feed']);
  const rejected = counter(registry, 'bitpredict_news_items_rejected_total', 'Feed items sent to the DLQ (bad or missing date, no id, empty)', ['feed']);
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const quiet = gauge(registry, 'bitpredict_news_feed_quiet', '1 when a feed has published nothing new for BITPREDICT_RSS_QUIET_AFTER_MS', ['feed']);
  const age = gauge(registry, 'bitpredict_news_feed_last_item_age_seconds', 'Age of the newest item of each feed', ['feed']);
  const startedAt = now();
  const states: FeedState[] = feedUrls.map((url, i) => ({
    url, source: feedSource(url), label: feedLabel(url, i), etag: null, lastModified: null, failures: 0, nextAt: 0, lastResult: null, lastItemAt: null, published: 0, rejected: 0,
  }));
  const seen = new BoundedSet(SEEN_MAX);
  // Rejected items are remembered too, so a bad item is dead-lettered once, not on every poll.
  const rejectedSeen = new BoundedSet(SEEN_MAX);
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  let started = false;

  function updateGauges(s: FeedState): void {
    const t = now();
    if (s.lastItemAt !== null) age.set({ feed: s.label }, Math.max(0, (t - s.lastItemAt) / 1000));
    quiet.set({ feed: s.label }, t - (s.lastItemAt ?? startedAt) > quietAfter ? 1 : 0);
  }

  function fail(s: FeedState, result: FetchResult, detail: Record<string, unknown>, waitMs?: number | null): void {
    s.failures++;
    s.lastResult = result;
    fetches.inc({ feed: s.label, result });
    const delay = backoffMs(retryPolicy, s.failures, waitMs ?? null);
    s.nextAt = now() + delay;
    logger.warn({ feed: s.url, result, failures: s.failures, retryInMs: delay, ...detail }, 'feed fetch failed; backing off');
  }

  async function pollFeed(s: FeedState): Promise<void> {
    const headers: Record<string, string> = { accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8', 'user-agent': 'BitPredict/1.0 (+news ingestion)' };
    if (s.etag) headers['if-none-match'] = s.etag;
    if (s.lastModified) headers['if-modified-since'] = s.lastModified;
    let res: Response;
    let body: string;
    try {
      res = await fetch(s.url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
      body = res.status === 304 ? '' : await res.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      fail(s, timedOut ? 'timeout' : 'network', { err: errorMessage(err) });
      return;
    }
    if (res.status === 304) {
      s.failures = 0;
      s.lastResult = 'not_modified';
      s.nextAt = now() + interval;
      fetches.inc({ feed: s.label, result: 'not_modified' });
      return;
    }
    if (res.status === 429) {
      fail(s, 'rate_limited', { status: 429 }, retryAfterMs(res.headers.get('retry-after'), now()));
      return;
    }
    if (res.status < 200 || res.status >= 300) {
      fail(s, 'http_error', { status: res.status }, res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), now()) : null);
      return;
    }
    const t = now();
    const parsed = parseFeed(body, s.source, { now: t, futureToleranceMs: config.events.futureToleranceMs });
    if (!parsed.ok) {
      fail(s, 'malformed', { reason: parsed.reason, bytes: body.length });
      return;
    }
    const fresh = parsed.entries.flatMap((e) => (e.ok && !seen.has(e.item.id) ? [e.item] : [])).sort((a, b) => a.publishedAt - b.publishedAt);
    const bad = parsed.entries.flatMap((e) => (!e.ok && !rejectedSeen.has(`${s.source}\u0000${e.key ?? e.raw}`) ? [e] : []));
    const records: OutRecord[] = [];
    const unique = new Set<string>();
    for (const item of fresh) {
      // The same guid twice in one document is one item.
      if (unique.has(item.id)) continue;
      unique.add(item.id);
      records.push(textRecord(platform, item, t));
    }
    for (const e of bad) records.push(deadTextRecord(platform, { kind: 'http', source: s.url, offset: null, raw: e.raw }, 'ERR_VALIDATION', e.reason, t));
    try {
      await producer.send(records);
    } catch (err) {
      fail(s, 'kafka', { err: errorMessage(err) });
      return;
    }
    for (const id of unique) seen.add(id);
    for (const e of bad) {
      rejectedSeen.add(`${s.source}\u0000${e.key ?? e.raw}`);
      logger.warn({ feed: s.url, reason: e.reason }, 'feed item sent to the DLQ');
    }
    if (bad.length > 0) {
      rejected.inc({ feed: s.label }, bad.length);
      dlqTotal.inc({ group: 'news', reason: 'ERR_VALIDATION' }, bad.length);
    }
    if (unique.size > 0) items.inc({ feed: s.label }, unique.size);
    s.published += unique.size;
    s.rejected += bad.length;
    for (const item of fresh) s.lastItemAt = Math.max(s.lastItemAt ?? 0, item.publishedAt);
    s.etag = res.headers.get('etag');
    s.lastModified = res.headers.get('last-modified');
    s.failures = 0;
    s.lastResult = 'ok';
    s.nextAt = now() + interval;
    fetches.inc({ feed: s.label, result: 'ok' });
    if (unique.size > 0 || bad.length > 0) logger.info({ feed: s.url, published: unique.size, rejected: bad.length }, 'feed polled');
  }

  // Polls never overlap (a scheduled one and pollAll()), so a feed's state has one writer.
  let chain: Promise<void> = Promise.resolve();
  function pollDue(force: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      const t = now();
      await Promise.all(states.filter((s) => force || s.nextAt <= t).map((s) => pollFeed(s)));
      for (const s of states) updateGauges(s);
    };
    chain = chain.then(run, run);
    return chain;
  }

  function schedule(): void {
    if (stopped) return;
    const next = Math.min(...states.map((s) => s.nextAt));
    const delay = Math.min(Math.max(0, next - now()), 60_000);
    timer = setTimeout(() => {
      running = pollDue(false).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'news poll failed'));
      void running.then(() => {
        running = null;
        schedule();
      });
    }, delay);
  }

  return {
    name: 'news',
    async start() {
      if (started) return;
      started = true;
      if (opts.loadSeenFromTail ?? true) {
        const tail = await loadTextTail(platform, 2_000);
        for (const id of tail.ids) seen.add(id);
        for (const s of states) s.lastItemAt = tail.lastPublished.get(s.source) ?? null;
        logger.info({ remembered: tail.ids.length }, 'dedupe memory loaded from the tail of text.raw');
      }
      for (const s of states) updateGauges(s);
      logger.info({ feeds: states.map((s) => s.url), pollIntervalMs: interval }, 'news polling started');
      if (states.length > 0 && (opts.schedule ?? true)) schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await running;
    },
    async pollAll() {
      await pollDue(true);
    },
    feeds: () => states,
    readiness(): Readiness {
      const checks: Record<string, string> = {};
      for (const s of states) checks[`feed ${s.label}`] = s.failures === 0 ? (s.lastResult ?? 'pending') : `backoff after ${s.failures} failure(s): ${s.lastResult ?? ''}`;
      // A failing feed is reported but does not make the service unready: the others still work.
      return { ready: started && !stopped, checks };
    },
  };
}
