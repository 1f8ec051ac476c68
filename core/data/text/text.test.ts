import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_TEXT_CHARS, canonicalUrl, capText, parseDayFirstUtc, parseFeedDate, parseTwitterDate, textId, mapTextCsv, detectTextFormat } from './index.js';

const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
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
    for (const bad of [
      '',
      '   ',
      'sometime last week',
      '2022-07-05T01:00:00',
      '2022-07-05',
      'Tue, 31 Feb 2022 04:24:00 GMT',
      'Tue, 05 Jul 2022 25:24:00 GMT',
      'Tue, 05 Jul 2022 04:24:00 XYZ',
      'x'.repeat(500),
    ]) {
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
    const tweets = mapTextCsv(
      readFileSync(resolve(data, 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv'), 'utf8'),
      'tweets',
      'replay:t',
      opts,
    );
    expect(tweets.drafts).toHaveLength(4662);
    expect(tweets.dead).toHaveLength(0);
    const news = mapTextCsv(readFileSync(resolve(data, 'crypto_news_2021_2022/cryptonews.csv'), 'utf8'), 'news', 'replay:n', opts);
    expect(news.rows).toBe(7524);
    expect(news.drafts.length + news.duplicates + news.dead.length).toBe(7524);
    for (const m of [tweets, news])
      for (let i = 1; i < m.drafts.length; i++) expect((m.drafts[i]?.publishedAt ?? 0) >= (m.drafts[i - 1]?.publishedAt ?? 0)).toBe(true);
    expect(news.drafts[0]?.publishedAt).toBe(Date.UTC(2021, 9, 12, 20, 0));
  });
});
