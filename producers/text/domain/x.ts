// X API v2 recent search: response bodies -> tweet drafts, and the rate-limit headers -> when the
// next request may go out. Ids are decimal snowflakes beyond 2^53, so they are compared as BigInt
// and never turned into numbers.
import { parseFeedDate } from '../../../core/data/text/dates.js';
import { MAX_FIELD_CHARS, capText, textId } from '../../../core/data/text/ids.js';
import type { TextDraft } from '../../../core/data/text/draft.js';

export const X_SOURCE = 'x';

export interface XPage {
  tweets: TextDraft[];
  rejected: { key: string | null; reason: string; raw: string }[];
  newestId: string | null;
  nextToken: string | null;
}

export type XPageResult = { ok: true; page: XPage } | { ok: false; reason: string };

const TWEET_ID = /^\d{1,20}$/;

export function maxTweetId(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return BigInt(a) >= BigInt(b) ? a : b;
}

export function isTweetId(s: unknown): s is string {
  return typeof s === 'string' && TWEET_ID.test(s);
}

export function parseRecentSearch(body: string, opts: { now: number; futureToleranceMs: number }): XPageResult {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'response is not JSON' };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { ok: false, reason: 'response is not a JSON object' };
  const doc = json as { data?: unknown; includes?: { users?: unknown }; meta?: Record<string, unknown>; errors?: unknown };
  const meta = doc.meta ?? {};
  if (doc.data === undefined && typeof meta.result_count !== 'number') {
    return { ok: false, reason: `response has neither data nor meta.result_count${doc.errors ? `: ${JSON.stringify(doc.errors).slice(0, 300)}` : ''}` };
  }
  if (doc.data !== undefined && !Array.isArray(doc.data)) return { ok: false, reason: 'data is not an array' };
  const users = new Map<string, string>();
  if (Array.isArray(doc.includes?.users)) {
    for (const u of doc.includes.users as { id?: unknown; username?: unknown }[]) {
      if (typeof u?.id === 'string' && typeof u.username === 'string') users.set(u.id, u.username);
    }
  }
  const page: XPage = {
    tweets: [],
    rejected: [],
    newestId: isTweetId(meta.newest_id) ? meta.newest_id : null,
    nextToken: typeof meta.next_token === 'string' && meta.next_token !== '' ? meta.next_token : null,
  };
  const seen = new Set<string>();
  for (const t of (doc.data as unknown[] | undefined) ?? []) {
    const raw = capText(JSON.stringify(t), 20_000);
    const tw = (t ?? {}) as { id?: unknown; text?: unknown; created_at?: unknown; author_id?: unknown };
    if (!isTweetId(tw.id)) {
      page.rejected.push({ key: null, reason: 'tweet without a valid id', raw });
      continue;
    }
    if (seen.has(tw.id)) continue;
    seen.add(tw.id);
    page.newestId = maxTweetId(page.newestId, tw.id);
    if (typeof tw.text !== 'string' || tw.text.trim() === '') {
      page.rejected.push({ key: tw.id, reason: 'tweet without text', raw });
      continue;
    }
    const date = parseFeedDate(typeof tw.created_at === 'string' ? tw.created_at : null);
    if (!date.ok) {
      page.rejected.push({ key: tw.id, reason: `bad created_at: ${date.reason}`, raw });
      continue;
    }
    if (date.ms > opts.now + opts.futureToleranceMs) {
      page.rejected.push({ key: tw.id, reason: `created_at ${new Date(date.ms).toISOString()} is in the future`, raw });
      continue;
    }
    const username = typeof tw.author_id === 'string' ? (users.get(tw.author_id) ?? null) : null;
    page.tweets.push({
      id: textId(X_SOURCE, tw.id),
      source: X_SOURCE,
      sourceId: tw.id,
      kind: 'tweet',
      publishedAt: date.ms,
      title: null,
      text: capText(tw.text),
      url: username ? `https://x.com/${username}/status/${tw.id}` : `https://x.com/i/web/status/${tw.id}`,
      author: username === null ? null : capText(username, MAX_FIELD_CHARS),
    });
  }
  return { ok: true, page };
}

/**
 * How long to wait before the next request, from the x-rate-limit-* headers: zero while requests
 * remain, else until the reset time (epoch seconds). A 429 without usable headers waits `fallbackMs`.
 */
export function rateLimitWaitMs(headers: { remaining: string | null; reset: string | null }, status: number, now: number, fallbackMs: number): number {
  const reset = headers.reset !== null && /^\d+$/.test(headers.reset.trim()) ? Number(headers.reset) * 1000 : null;
  const remaining = headers.remaining !== null && /^\d+$/.test(headers.remaining.trim()) ? Number(headers.remaining) : null;
  if (status === 429 || remaining === 0) {
    if (reset === null) return fallbackMs;
    // A reset far in the future is a clock or header problem; cap it at 15 minutes, the X window.
    return Math.min(Math.max(reset - now, 0), 15 * 60_000);
  }
  return 0;
}
