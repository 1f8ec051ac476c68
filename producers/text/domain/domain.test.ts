import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_TEXT_CHARS } from '../../../core/data/text/index.js';
import { feedSource, parseFeed, parseRecentSearch, rateLimitWaitMs, maxTweetId } from './index.js';

const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const fixture = (name: string): string => readFileSync(resolve(ROOT, 'test/fixtures/text', name), 'utf8');
const NOW = Date.UTC(2026, 0, 1);
const opts = { now: NOW, futureToleranceMs: 60_000 };

describe('parseFeed', () => {
  it('names feeds by host and path', () => {
    expect(feedSource('https://cointelegraph.com/rss?x=1')).toBe('rss:cointelegraph.com/rss');
  });
  it('maps an RSS 2.0 feed, rejects bad dates and keeps a duplicate guid to one id', () => {
    const r = parseFeed(fixture('cointelegraph-rss.xml'), 'rss:cointelegraph.com/rss', opts);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.format).toBe('rss');
    const good = r.entries.flatMap((e) => (e.ok ? [e.item] : []));
    const bad = r.entries.flatMap((e) => (e.ok ? [] : [e]));
    expect(good).toHaveLength(3);
    expect(new Set(good.map((g) => g.id)).size).toBe(2);
    const first = good[0];
    expect(first?.url).toBe('https://cointelegraph.com/news/bitcoin-price-reclaims-20k');
    expect(first?.text).toBe('Bitcoin price climbed above the USD 20,000 resistance & Ethereum jumped over 9%.');
    expect(first?.author).toBe('Marcel Pechman');
    expect(first?.publishedAt).toBe(Date.UTC(2022, 6, 5, 4, 24));
    expect(good[1]?.url).toBe('https://cointelegraph.com/news/crypto-community-eyeing-three-macro-events');
    expect(good[1]?.publishedAt).toBe(Date.UTC(2022, 6, 5, 7, 29));
    expect(bad.map((b) => b.reason)).toEqual([expect.stringContaining('bad publication date'), expect.stringContaining('missing date')]);
    expect(bad[1]?.key).toBe('https://cointelegraph.com/news/no-date');
  });
  it('maps an Atom feed with alternate links, html summaries and updated as fallback', () => {
    const r = parseFeed(fixture('coindesk-atom.xml'), 'rss:www.coindesk.com/atom', opts);
    expect(r.ok && r.format).toBe('atom');
    if (!r.ok) return;
    const items = r.entries.flatMap((e) => (e.ok ? [e.item] : []));
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({
      sourceId: 'tag:coindesk.com,2022:/business/2022/07/05/bitcoin-miners-sold',
      url: 'https://www.coindesk.com/business/2022/07/05/bitcoin-miners-sold/?ref=home',
      text: 'Public miners sold 14,600 BTC in June.',
      author: 'Eliza Gkritsi',
      publishedAt: Date.UTC(2022, 6, 5, 0, 15, 30, 250),
      kind: 'news',
    });
    expect(items[1]?.publishedAt).toBe(Date.UTC(2022, 6, 5, 1, 0));
  });
  it('rejects truncated, empty, non-feed and oversized documents as a whole', () => {
    const xml = fixture('cointelegraph-rss.xml');
    for (const cut of [xml.slice(0, xml.length / 2), xml.slice(0, 120), '', '<html><body>hi</body></html>', '{"not":"xml"}']) {
      expect(parseFeed(cut, 's', opts).ok).toBe(false);
    }
    expect(parseFeed(`<rss><channel>${'<item/>'.repeat(10)}${' '.repeat(5_000_001)}</channel></rss>`, 's', opts).ok).toBe(false);
  });
  it('rejects future-dated items and items without id or text; caps oversized bodies', () => {
    const xml = `<rss version="2.0"><channel>
      <item><title>future</title><guid>f</guid><pubDate>Tue, 05 Jul 2099 04:24:00 GMT</pubDate></item>
      <item><pubDate>Tue, 05 Jul 2022 04:24:00 GMT</pubDate><description>no id</description></item>
      <item><guid>e</guid><pubDate>Tue, 05 Jul 2022 04:24:00 GMT</pubDate></item>
      <item><guid>big</guid><pubDate>Tue, 05 Jul 2022 04:24:00 GMT</pubDate><description>${'z'.repeat(50_000)}</description></item>
      <item><guid>12345678901234567890123</guid><title>numeric guid stays a string</title><pubDate>Tue, 05 Jul 2022 04:24:00 GMT</pubDate></item>
    </channel></rss>`;
    const r = parseFeed(xml, 's', opts);
    if (!r.ok) throw new Error(r.reason);
    expect(r.entries.map((e) => (e.ok ? 'ok' : e.reason.split(':')[0]))).toEqual([
      'publication date 2099-07-05T04',
      'item has neither guid/id nor a usable link',
      'item has neither title nor text',
      'ok',
      'ok',
    ]);
    const big = r.entries[3];
    expect(big?.ok && big.item.text.length).toBe(MAX_TEXT_CHARS);
    const num = r.entries[4];
    expect(num?.ok && num.item.sourceId).toBe('12345678901234567890123');
  });
});

describe('X recent search', () => {
  it('maps tweets with usernames, rejects bad dates, reports newest id and next token', () => {
    const r = parseRecentSearch(fixture('x-recent-page1.json'), opts);
    if (!r.ok) throw new Error(r.reason);
    expect(r.page.tweets.map((t) => t.author)).toEqual(['glitchin888', 'LuckyMrRai']);
    expect(r.page.tweets[0]).toMatchObject({
      kind: 'tweet',
      source: 'x',
      sourceId: '1956506060740538576',
      title: null,
      url: 'https://x.com/glitchin888/status/1956506060740538576',
      publishedAt: Date.UTC(2025, 7, 15, 23, 59, 29),
    });
    expect(r.page.newestId).toBe('1956506060740538576');
    expect(r.page.nextToken).toBe('b26v89c19zqg8o3fpdg6xwaj');
    const p2 = parseRecentSearch(fixture('x-recent-page2.json'), opts);
    if (!p2.ok) throw new Error(p2.reason);
    expect(p2.page.tweets).toHaveLength(1);
    expect(p2.page.rejected[0]?.reason).toContain('bad created_at');
    expect(p2.page.nextToken).toBeNull();
  });
  it('handles empty results, errors, garbage and duplicated tweets', () => {
    const e = parseRecentSearch(fixture('x-recent-empty.json'), opts);
    expect(e.ok && e.page.tweets.length).toBe(0);
    for (const bad of ['', '{', '[]', 'null', '{"errors":[{"title":"Invalid Request"}]}', '{"data":{}}'])
      expect(parseRecentSearch(bad, opts).ok, bad).toBe(false);
    const dup = JSON.stringify({
      data: [
        { id: '5', text: 'a', created_at: '2025-01-01T00:00:00Z' },
        { id: '5', text: 'a', created_at: '2025-01-01T00:00:00Z' },
        { id: 'x', text: 'b' },
      ],
      meta: { result_count: 3 },
    });
    const d = parseRecentSearch(dup, opts);
    expect(d.ok && d.page.tweets.length).toBe(1);
    expect(d.ok && d.page.rejected.length).toBe(1);
  });
  it('compares snowflake ids beyond 2^53 exactly', () => {
    expect(maxTweetId('1956506060740538576', '1956506060740538577')).toBe('1956506060740538577');
    expect(maxTweetId(null, '3')).toBe('3');
  });
  it('derives waits from rate-limit headers and Retry-After', () => {
    const now = 1_000_000_000_000;
    expect(rateLimitWaitMs({ remaining: '5', reset: String(now / 1000 + 10) }, 200, now, 60_000)).toBe(0);
    expect(rateLimitWaitMs({ remaining: '0', reset: String(now / 1000 + 10) }, 200, now, 60_000)).toBe(10_000);
    expect(rateLimitWaitMs({ remaining: null, reset: null }, 429, now, 60_000)).toBe(60_000);
    expect(rateLimitWaitMs({ remaining: '0', reset: String(now / 1000 + 99_999) }, 429, now, 60_000)).toBe(15 * 60_000);
    expect(rateLimitWaitMs({ remaining: 'abc', reset: 'soon' }, 429, now, 7)).toBe(7);
  });
});
