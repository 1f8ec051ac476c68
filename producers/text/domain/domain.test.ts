import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_TEXT_CHARS, canonicalUrl, capText, parseDayFirstUtc, parseFeed, parseFeedDate, parseRecentSearch, parseTwitterDate, rateLimitWaitMs, textId, mapTextCsv, detectTextFormat, maxTweetId, feedSource } from './index.js';

const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const fixture = (name: string): string => readFileSync(resolve(ROOT, 'test/fixtures/text', name), 'utf8');
const NOW = Date.UTC(2026, 0, 1);
const opts = { now: NOW, futureToleranceMs: 60_000 };
const ms = (s: string): number | null => {
  const r = parseFeedDate(s);
  return r.ok ? r.ms : null;
};

describe('parseFeedDate', () => {
  it('parses RFC 822 with named zones, numeric offsets, missing seconds and weekday', () => {
    expect(ms('Tue, 05 Jul 2022 04:24:00 +0000')).toBe(Date.UTC(2022, 6, 5, 4, 24));
    expect(ms('Tue, 05 Jul 2022 04:24:00 GMT')).toBe(Date.UTC(2022, 6, 5, 4, 24));
    expect(ms('Tue, 05 Jul 2022 03:29 EDT')).toBe(Date.UTC(2022, 6, 5, 7, 29));
    expect(ms('5 Jul 2022 06:24:00 +0200')).toBe(Date.UTC(2022, 6, 5, 4, 24));
    expect(ms('Tue, 5 Jul 22 04:24:00 PST')).toBe(Date.UTC(2022, 6, 5, 12, 24));
  });
  it('parses RFC 3339 / ISO 8601 with fractions, offsets and missing seconds', () => {
    expect(ms('2022-07-05T02:15:30.250+02:00')).toBe(Date.UTC(2022, 6, 5, 0, 15, 30, 250));
    expect(ms('2022-07-05T01:00Z')).toBe(Date.UTC(2022, 6, 5, 1, 0));
    expect(ms('2022-07-05 01:00:00+0000')).toBe(Date.UTC(2022, 6, 5, 1, 0));
  });
  it('rejects missing, zone-less, impossible and garbage dates with a reason', () => {
    for (const bad of ['', '   ', 'sometime last week', '2022-07-05T01:00:00', '2022-07-05', 'Tue, 31 Feb 2022 04:24:00 GMT', 'Tue, 05 Jul 2022 25:24:00 GMT', 'Tue, 05 Jul 2022 04:24:00 XYZ', 'x'.repeat(500)]) {
      const r = parseFeedDate(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
    expect(parseFeedDate(undefined).ok).toBe(false);
  });
  it('parses the two CSV date formats', () => {
    expect(parseTwitterDate('Fri Aug 15 23:40:12 +0000 2025')).toEqual({ ok: true, ms: Date.UTC(2025, 7, 15, 23, 40, 12) });
    expect(parseDayFirstUtc('5-7-2022 04:24')).toEqual({ ok: true, ms: Date.UTC(2022, 6, 5, 4, 24) });
    expect(parseDayFirstUtc('32-7-2022 04:24').ok).toBe(false);
    expect(parseTwitterDate('2025-08-15').ok).toBe(false);
  });
});

describe('ids and urls', () => {
  it('hashes source and sourceId stably and distinctly', () => {
    expect(textId('x', '1')).toBe(textId('x', '1'));
    expect(textId('x', '1')).toMatch(/^[0-9a-f]{32}$/);
    expect(textId('ab', 'c')).not.toBe(textId('a', 'bc'));
  });
  it('canonicalises links: strips utm_* and fragments, keeps other params', () => {
    expect(canonicalUrl('https://Example.com/a?utm_source=x&id=3&UTM_medium=y#top')).toBe('https://example.com/a?id=3');
    expect(canonicalUrl('https://example.com/a?utm_source=x')).toBe('https://example.com/a');
    expect(canonicalUrl('not a url')).toBeNull();
    expect(canonicalUrl('javascript:alert(1)')).toBeNull();
  });
  it('caps oversized text', () => {
    const t = capText('y'.repeat(MAX_TEXT_CHARS + 50));
    expect(t.length).toBe(MAX_TEXT_CHARS);
    expect(capText('short')).toBe('short');
  });
  it('names feeds by host and path', () => {
    expect(feedSource('https://cointelegraph.com/rss?x=1')).toBe('rss:cointelegraph.com/rss');
  });
});

describe('parseFeed', () => {
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
    expect(items[0]).toMatchObject({ sourceId: 'tag:coindesk.com,2022:/business/2022/07/05/bitcoin-miners-sold', url: 'https://www.coindesk.com/business/2022/07/05/bitcoin-miners-sold/?ref=home', text: 'Public miners sold 14,600 BTC in June.', author: 'Eliza Gkritsi', publishedAt: Date.UTC(2022, 6, 5, 0, 15, 30, 250), kind: 'news' });
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
    expect(r.entries.map((e) => (e.ok ? 'ok' : e.reason.split(':')[0]))).toEqual(['publication date 2099-07-05T04', 'item has neither guid/id nor a usable link', 'item has neither title nor text', 'ok', 'ok']);
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
    expect(r.page.tweets[0]).toMatchObject({ kind: 'tweet', source: 'x', sourceId: '1956506060740538576', title: null, url: 'https://x.com/glitchin888/status/1956506060740538576', publishedAt: Date.UTC(2025, 7, 15, 23, 59, 29) });
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
    for (const bad of ['', '{', '[]', 'null', '{"errors":[{"title":"Invalid Request"}]}', '{"data":{}}']) expect(parseRecentSearch(bad, opts).ok, bad).toBe(false);
    const dup = JSON.stringify({ data: [{ id: '5', text: 'a', created_at: '2025-01-01T00:00:00Z' }, { id: '5', text: 'a', created_at: '2025-01-01T00:00:00Z' }, { id: 'x', text: 'b' }], meta: { result_count: 3 } });
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

describe('CSV mapping', () => {
  it('detects formats from the header', () => {
    expect(detectTextFormat('id,text,user,created_at,retweet_count')).toBe('tweets');
    expect(detectTextFormat('date;sentiment;source;subject;text;title;url')).toBe('news');
    expect(detectTextFormat('a,b,c')).toBeNull();
  });
  it('maps tweets with quoted newlines, sorts by time, dead-letters bad rows with line numbers', () => {
    const csv = [
      'id,text,user,created_at,retweet_count',
      '2,"second\nline two",bob,Fri Aug 15 23:41:00 +0000 2025,1',
      '1,first,alice,Fri Aug 15 23:40:12 +0000 2025,0',
      'abc,bad id,carol,Fri Aug 15 23:40:12 +0000 2025,0',
      '3,bad date,dave,yesterday,0',
      '4,future,erin,Fri Aug 15 23:40:12 +0000 2099,0',
      '1,first again,alice,Fri Aug 15 23:40:12 +0000 2025,0',
      '5,too,many,fields,Fri Aug 15 23:40:12 +0000 2025,0',
      '6,"truncated quote',
    ].join('\n');
    const m = mapTextCsv(csv, 'tweets', 'replay:t.csv', opts);
    expect(m.drafts.map((d) => d.sourceId)).toEqual(['1', '2']);
    expect(m.drafts[1]?.text).toBe('second\nline two');
    expect(m.duplicates).toBe(1);
    expect(m.dead.map((d) => d.line)).toEqual([5, 6, 7, 9, 10]);
    expect(m.dead[0]?.raw).toBe('abc,bad id,carol,Fri Aug 15 23:40:12 +0000 2025,0');
  });
  it('maps the semicolon news format, dedupes by url and keeps url-less rows apart', () => {
    const csv = [
      'date;sentiment;source;subject;text;title;url',
      '5-7-2022 04:24;{};CryptoNews;bitcoin;newest;T1;https://a.com/1?utm_source=x',
      '5-7-2022 03:00;{};CryptoNews;bitcoin;older dup;T1 again;https://a.com/1',
      '4-7-2022 03:00;{};CryptoNews;bitcoin;no url one;T2;',
      '4-7-2022 03:01;{};CryptoNews;bitcoin;no url two;T3;',
      '31-2-2022 03:01;{};CryptoNews;bitcoin;bad day;T4;https://a.com/4',
      '6-7-2022 03:01;{};CryptoNews;bitcoin;"semi;colon ""quoted""";100Âº;https://a.com/5',
    ].join('\n');
    const m = mapTextCsv(csv, 'news', 'replay:n.csv', opts);
    expect(m.drafts.map((d) => d.title)).toEqual(['T2', 'T3', 'T1 again', '100Âº']);
    expect(m.drafts[3]?.text).toBe('semi;colon "quoted"');
    expect(m.duplicates).toBe(1);
    expect(m.dead).toHaveLength(1);
    expect(m.dead[0]?.line).toBe(6);
    expect(() => mapTextCsv('foo;bar\n1;2', 'news', 's', opts)).toThrow(/header/);
  });
  it('maps the real files completely and in time order', () => {
    const data = resolve(ROOT, '../shared/data');
    const tweets = mapTextCsv(readFileSync(resolve(data, 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv'), 'utf8'), 'tweets', 'replay:t', opts);
    expect(tweets.drafts).toHaveLength(4662);
    expect(tweets.dead).toHaveLength(0);
    const news = mapTextCsv(readFileSync(resolve(data, 'crypto_news_2021_2022/cryptonews.csv'), 'utf8'), 'news', 'replay:n', opts);
    expect(news.rows).toBe(7524);
    expect(news.drafts.length + news.duplicates + news.dead.length).toBe(7524);
    for (const m of [tweets, news]) for (let i = 1; i < m.drafts.length; i++) expect((m.drafts[i]?.publishedAt ?? 0) >= (m.drafts[i - 1]?.publishedAt ?? 0)).toBe(true);
    expect(news.drafts[0]?.publishedAt).toBe(Date.UTC(2021, 9, 12, 20, 0));
  });
});
