// X (Twitter) producer: API v2 recent search, paged with since_id so nothing is fetched twice.
// The newest id of a round becomes since_id only after every page of that round was published; a
// round cut short (rate limit, error) resumes from its next_token. The bearer token goes into the
// Authorization header only and is never logged.
import type { Platform } from '../../core/runtime.js';
import type { Producer, OutRecord } from '../../core/kafka/producer.js';
import type { Service, Readiness } from '../../core/service.js';
import type { Logger } from '../../core/logger.js';
import { errorMessage } from '../../core/errors.js';
import { counter } from '../../core/metrics.js';
import { backoffMs, type BackoffPolicy } from '../../core/backoff.js';
import { maxTweetId, parseRecentSearch, rateLimitWaitMs } from './domain/index.js';
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

export async function createXService(opts: XOptions): Promise<XService> {
  const { platform, producer } = opts;
  const { registry } = platform;
  const { config } = opts;
  const logger: Logger = platform.logger.child({ service: 'x' });
  const now = opts.now ?? Date.now;
  const token = opts.token ?? config.text.x.bearerToken;
  const apiUrl = (opts.apiUrl ?? config.text.x.apiUrl).replace(/\/+$/, '');
  const query = opts.query ?? config.text.x.query;
  const interval = opts.pollIntervalMs ?? config.text.x.pollIntervalMs;
  const maxPages = opts.maxPagesPerRound ?? 10;
  const timeoutMs = opts.fetchTimeoutMs ?? 20_000;
  // Doubling from the poll interval (at least 1 s) up to the 15-minute rate-limit window of the API.
  const retryPolicy: BackoffPolicy = { baseMs: Math.max(interval, 1000), maxMs: 15 * 60_000, maxDoublings: 6 };
  const requests = counter(registry, 'bitpredict_x_requests_total', 'X API requests by result', ['result']);
  const items = counter(registry, 'bitpredict_x_tweets_total', 'Tweets published to text.raw');
  const dlqTotal = counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']);
  const seen = new BoundedSet(200_000);
  const st = { sinceId: null as string | null, pendingToken: null as string | null, pendingNewest: null as string | null, waitUntil: 0, published: 0, rejected: 0, requests: 0, failures: 0 };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;
  let started = false;

  function searchUrl(): string {
    const p = new URLSearchParams({ query, 'tweet.fields': 'created_at,author_id', expansions: 'author_id', 'user.fields': 'username', max_results: '100' });
    if (st.sinceId) p.set('since_id', st.sinceId);
    if (st.pendingToken) p.set('pagination_token', st.pendingToken);
    return `${apiUrl}/2/tweets/search/recent?${p.toString()}`;
  }

  function backoff(result: string, detail: Record<string, unknown>, minMs = 0): number {
    st.failures++;
    requests.inc({ result });
    const wait = backoffMs(retryPolicy, st.failures, minMs);
    st.waitUntil = now() + wait;
    logger.warn({ result, failures: st.failures, retryInMs: wait, ...detail }, 'X request failed; backing off');
    return wait;
  }

  async function pollOnce(): Promise<number> {
    for (let page = 0; page < maxPages; page++) {
      const wait = st.waitUntil - now();
      if (wait > 0) return wait;
      let res: Response;
      let body: string;
      st.requests++;
      try {
        res = await fetch(searchUrl(), { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
        body = await res.text();
      } catch (err) {
        return backoff('network', { err: errorMessage(err) });
      }
      const limitWait = rateLimitWaitMs({ remaining: res.headers.get('x-rate-limit-remaining'), reset: res.headers.get('x-rate-limit-reset') }, res.status, now(), 60_000);
      if (res.status === 429) {
        st.waitUntil = now() + limitWait;
        requests.inc({ result: 'rate_limited' });
        logger.warn({ waitMs: limitWait }, 'X rate limit reached; waiting for the reset');
        return limitWait;
      }
      if (res.status === 401 || res.status === 403) return backoff('unauthorized', { status: res.status }, 15 * 60_000);
      if (res.status < 200 || res.status >= 300) return backoff('http_error', { status: res.status, body: body.slice(0, 200) });
      const t = now();
      const parsed = parseRecentSearch(body, { now: t, futureToleranceMs: config.events.futureToleranceMs });
      if (!parsed.ok) return backoff('malformed', { reason: parsed.reason });
      const { tweets, rejected, newestId, nextToken } = parsed.page;
      const records: OutRecord[] = [];
      const fresh = tweets.filter((tw) => !seen.has(tw.id)).sort((a, b) => a.publishedAt - b.publishedAt);
      for (const tw of fresh) records.push(textRecord(platform, tw, t));
      for (const r of rejected) records.push(deadTextRecord(platform, { kind: 'http', source: `${apiUrl}/2/tweets/search/recent`, offset: null, raw: r.raw }, 'ERR_VALIDATION', r.reason, t));
      try {
        await producer.send(records);
      } catch (err) {
        return backoff('kafka', { err: errorMessage(err) });
      }
      for (const tw of fresh) seen.add(tw.id);
      st.published += fresh.length;
      st.rejected += rejected.length;
      items.inc(fresh.length);
      if (rejected.length > 0) dlqTotal.inc({ group: 'x', reason: 'ERR_VALIDATION' }, rejected.length);
      requests.inc({ result: 'ok' });
      st.failures = 0;
      st.pendingNewest = maxTweetId(st.pendingNewest, newestId);
      st.pendingToken = nextToken;
      if (nextToken === null) {
        st.sinceId = maxTweetId(st.sinceId, st.pendingNewest);
        st.pendingNewest = null;
      }
      if (limitWait > 0) {
        st.waitUntil = now() + limitWait;
        logger.info({ waitMs: limitWait }, 'X rate-limit window used up; waiting for the reset');
        return limitWait;
      }
      if (nextToken === null) return interval;
    }
    return 0;
  }

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      const p = pollOnce().catch((err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'X poll failed');
        return interval;
      });
      running = p;
      void p.then((next) => {
        running = null;
        schedule(Math.max(next, 0));
      });
    }, Math.min(delay, 15 * 60_000));
  }

  return {
    name: 'x',
    async start() {
      if (started) return;
      started = true;
      if (opts.loadSeenFromTail ?? true) {
        const tail = await loadTextTail(platform, 2_000);
        for (const id of tail.ids) seen.add(id);
        st.sinceId = tail.newestTweetId;
      }
      logger.info({ query, sinceId: st.sinceId, pollIntervalMs: interval }, 'X recent search started');
      schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (running) await running;
    },
    pollOnce,
    state: () => ({ sinceId: st.sinceId, pendingToken: st.pendingToken, waitUntil: st.waitUntil, published: st.published, rejected: st.rejected, requests: st.requests }),
    readiness(): Readiness {
      return { ready: started && !stopped, checks: { x: st.failures === 0 ? 'ok' : `backoff after ${st.failures} failure(s)` } };
    },
  };
}
