// X (Twitter) producer: API v2 recent search, paged with since_id so nothing is fetched twice.
// The newest id of a round becomes since_id only after every page of that round was published; a
// round cut short (rate limit, error) resumes from its next_token. The bearer token goes into the
// Authorization header only and is never logged.
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import type { Service, Readiness } from '../../core/service.js';
import type { Logger } from '../../core/logger.js';
import { counter, type Registry } from '../../core/metrics.js';
import { backoffMs, type BackoffPolicy } from '../../core/backoff.js';
import { createPoller, type SourceState } from '../../core/polling.js';
import { maxTweetId, parseRecentSearch, rateLimitWaitMs, type XPage } from './domain/index.js';
import { BoundedSet, deadTextRecord, loadTextTail, textRecord } from './publish.js';
import type { Config } from '../../core/config.js';

export interface XOptions {
  platform: Platform;
  config: Pick<Config, 'events' | 'text'>;
  producer: Producer;
  token?: string;
  apiUrl?: string;
  query?: string;
  pollIntervalMs?: number;
  /** Most pages fetched per round; the rest of a round follows in the next one. */
  maxPagesPerRound?: number;
  fetchTimeoutMs?: number;
  loadSeenFromTail?: boolean;
  now?: () => number;
}

export interface XService extends Service {
  /** One round: pages until done, a rate limit or maxPagesPerRound. Resolves to the wait before the next round (ms). */
  pollOnce(): Promise<number>;
  state(): { sinceId: string | null; pendingToken: string | null; waitUntil: number; published: number; rejected: number; requests: number };
}

/** The search's state: failures, nextAt (= waitUntil) and lastResult are the poller's part. */
interface SearchState extends SourceState {
  sinceId: string | null;
  pendingToken: string | null;
  /** Newest id of the round in progress; it becomes sinceId once the round's last page is published. */
  pendingNewest: string | null;
  published: number;
  rejected: number;
  requests: number;
}

/** The API's rate-limit window: the longest wait between rounds, the backoff cap, the wait after a refused token. */
const MAX_WAIT_MS = 15 * 60_000;

/** What one search round works with: the settings, the state, the dedupe memory and the metrics. */
interface XRound {
  platform: Platform;
  producer: Producer;
  logger: Logger;
  st: SearchState;
  seen: BoundedSet;
  metrics: ReturnType<typeof xMetrics>;
  apiUrl: string;
  query: string;
  token: string;
  interval: number;
  maxPages: number;
  timeoutMs: number;
  futureToleranceMs: number;
  now: () => number;
  /** Counts a failure, schedules the retry and returns its wait. */
  backoff(result: string, detail: Record<string, unknown>, minMs?: number | null): number;
  /** Counts a success of the round's source. */
  succeeded(): void;
}

/** Publishes one page and moves the round on; when Kafka refuses it, the backoff wait instead. */
async function publishPage(x: XRound, page: XPage, t: number): Promise<number | null> {
  const { st, seen, platform } = x;
  const records: OutRecord[] = [];
  const fresh = page.tweets.filter((tw) => !seen.has(tw.id)).sort((a, b) => a.publishedAt - b.publishedAt);
  for (const tw of fresh) records.push(textRecord(platform, tw, t));
  for (const r of page.rejected)
    records.push(
      deadTextRecord(platform, { kind: 'http', source: `${x.apiUrl}/2/tweets/search/recent`, offset: null, raw: r.raw }, 'ERR_VALIDATION', r.reason, t),
    );
  try {
    await x.producer.send(records);
  } catch (err) {
    return x.backoff('kafka', { err });
  }
  for (const tw of fresh) seen.add(tw.id);
  st.published += fresh.length;
  st.rejected += page.rejected.length;
  x.metrics.items.inc(fresh.length);
  if (page.rejected.length > 0) x.metrics.dlqTotal.inc({ group: 'x', reason: 'ERR_VALIDATION' }, page.rejected.length);
  x.metrics.requests.inc({ result: 'ok' });
  x.succeeded();
  st.pendingNewest = maxTweetId(st.pendingNewest, page.newestId);
  st.pendingToken = page.nextToken;
  if (page.nextToken === null) {
    st.sinceId = maxTweetId(st.sinceId, st.pendingNewest);
    st.pendingNewest = null;
  }
  return null;
}

/** One request of the round: a page to publish with the rate-limit wait it leaves, or the wait before the next try. */
async function fetchPage(x: XRound): Promise<{ page: XPage; t: number; limitWait: number } | { waitMs: number }> {
  const { st, now } = x;
  let res: Response;
  let body: string;
  st.requests++;
  try {
    res = await fetch(searchUrl(x.apiUrl, x.query, st), { headers: { authorization: `Bearer ${x.token}` }, signal: AbortSignal.timeout(x.timeoutMs) });
    body = await res.text();
  } catch (err) {
    return { waitMs: x.backoff('network', { err }) };
  }
  const limitWait = rateLimitWaitMs(
    { remaining: res.headers.get('x-rate-limit-remaining'), reset: res.headers.get('x-rate-limit-reset') },
    res.status,
    now(),
    60_000,
  );
  if (res.status === 429) {
    st.nextAt = now() + limitWait;
    x.metrics.requests.inc({ result: 'rate_limited' });
    x.logger.warn({ waitMs: limitWait }, 'X rate limit reached; waiting for the reset');
    return { waitMs: limitWait };
  }
  if (res.status === 401 || res.status === 403) return { waitMs: x.backoff('unauthorized', { status: res.status }, MAX_WAIT_MS) };
  if (res.status < 200 || res.status >= 300) return { waitMs: x.backoff('http_error', { status: res.status, body: body.slice(0, 200) }) };
  const t = now();
  const parsed = parseRecentSearch(body, { now: t, futureToleranceMs: x.futureToleranceMs });
  if (!parsed.ok) return { waitMs: x.backoff('malformed', { reason: parsed.reason }) };
  return { page: parsed.page, t, limitWait };
}

/** Up to maxPages pages of one round; returns how long to wait before the next round. */
async function pollPages(x: XRound): Promise<number> {
  const { st, now } = x;
  for (let page = 0; page < x.maxPages; page++) {
    const wait = st.nextAt - now();
    if (wait > 0) return wait;
    const got = await fetchPage(x);
    if ('waitMs' in got) return got.waitMs;
    const refused = await publishPage(x, got.page, got.t);
    if (refused !== null) return refused;
    if (got.limitWait > 0) {
      st.nextAt = now() + got.limitWait;
      x.logger.info({ waitMs: got.limitWait }, 'X rate-limit window used up; waiting for the reset');
      return got.limitWait;
    }
    if (got.page.nextToken === null) return x.interval;
  }
  return 0;
}

export async function createXService(opts: XOptions): Promise<XService> {
  const { platform, producer, config } = opts;
  const logger: Logger = platform.logger.child({ component: 'x' });
  const now = opts.now ?? Date.now;
  const interval = opts.pollIntervalMs ?? config.text.x.pollIntervalMs;
  // Doubling from the poll interval (at least 1 s) up to the rate-limit window.
  const retryPolicy: BackoffPolicy = { baseMs: Math.max(interval, 1000), maxMs: MAX_WAIT_MS, maxDoublings: 6 };
  const metrics = xMetrics(platform.registry);
  const st: SearchState = {
    sinceId: null,
    pendingToken: null,
    pendingNewest: null,
    nextAt: 0,
    published: 0,
    rejected: 0,
    requests: 0,
    failures: 0,
    lastResult: null,
  };
  const x: XRound = {
    platform,
    producer,
    logger,
    st,
    seen: new BoundedSet(200_000),
    metrics,
    apiUrl: (opts.apiUrl ?? config.text.x.apiUrl).replace(/\/+$/, ''),
    query: opts.query ?? config.text.x.query,
    token: opts.token ?? config.text.x.bearerToken,
    interval,
    maxPages: opts.maxPagesPerRound ?? 10,
    timeoutMs: opts.fetchTimeoutMs ?? 20_000,
    futureToleranceMs: config.events.futureToleranceMs,
    now,
    backoff(result, detail, minMs = null) {
      metrics.requests.inc({ result });
      const wait = poller.failed(st, result, minMs);
      logger.warn({ result, failures: st.failures, retryInMs: wait, ...detail }, 'X request failed; backing off');
      return wait;
    },
    succeeded: () => poller.succeeded(st, 'ok'),
  };

  const poller = createPoller({
    now,
    backoff: (failures, serverWaitMs) => backoffMs(retryPolicy, failures, serverWaitMs),
    seed:
      (opts.loadSeenFromTail ?? true)
        ? async () => {
            const tail = await loadTextTail(platform, 2_000);
            for (const id of tail.ids) x.seen.add(id);
            st.sinceId = tail.newestTweetId;
          }
        : undefined,
    onStart: () => logger.info({ query: x.query, sinceId: st.sinceId, pollIntervalMs: interval }, 'X recent search started'),
    round: async () => Math.min(Math.max(await pollPages(x), 0), MAX_WAIT_MS),
    onRoundError: (err) => {
      logger.error({ err }, 'X poll failed');
      return Math.min(interval, MAX_WAIT_MS);
    },
  });

  return {
    name: 'x',
    start: poller.start,
    stop: poller.stop,
    pollOnce: () => poller.exclusive(() => pollPages(x)),
    state: () => ({
      sinceId: st.sinceId,
      pendingToken: st.pendingToken,
      waitUntil: st.nextAt,
      published: st.published,
      rejected: st.rejected,
      requests: st.requests,
    }),
    readiness(): Readiness {
      return poller.readiness({ x: st.failures === 0 ? 'ok' : `backoff after ${st.failures} failure(s)` });
    },
  };
}

function searchUrl(apiUrl: string, query: string, st: Pick<SearchState, 'sinceId' | 'pendingToken'>): string {
  const p = new URLSearchParams({ query, 'tweet.fields': 'created_at,author_id', expansions: 'author_id', 'user.fields': 'username', max_results: '100' });
  if (st.sinceId) p.set('since_id', st.sinceId);
  if (st.pendingToken) p.set('pagination_token', st.pendingToken);
  return `${apiUrl}/2/tweets/search/recent?${p.toString()}`;
}

function xMetrics(registry: Registry) {
  return {
    requests: counter(registry, 'bitpredict_x_requests_total', 'X API requests by result', ['result']),
    items: counter(registry, 'bitpredict_x_tweets_total', 'Tweets published to text.raw'),
    dlqTotal: counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']),
  };
}
