import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  DESCRIPTIONS_EXCLUSION_REASON,
  MAX_TEXT_CHARS,
  TEXT_DATA_FILE,
  canonicalUrl,
  capText,
  parseDayFirstUtc,
  parseFeedDate,
  parseTwitterDate,
  parseUtcDateTime,
  textId,
  mapTextCsv,
  detectTextFormat,
} from './index.js';
import { hasSharedData, SHARED_DATA_DIR } from '../../../test/helpers/shared-data.js';

const TWEETS_FILE = 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv';
const NEWS_FILE = 'crypto_news_2021_2022/cryptonews.csv';
const HAS_2C_2D = hasSharedData(TEXT_DATA_FILE.descriptions, TEXT_DATA_FILE.headlines);
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
    expect(parseUtcDateTime('2023-03-10 14:05:07')).toEqual({ ok: true, ms: Date.UTC(2023, 2, 10, 14, 5, 7) });
    expect(parseUtcDateTime(' 2023-03-10 14:05 ')).toEqual({ ok: true, ms: Date.UTC(2023, 2, 10, 14, 5) });
    for (const bad of ['2023-02-30 10:00:00', '2023-03-10', '2023-03-10T14:05:00Z', '10-03-2023 14:05:00', '2023-03-10 24:00:00', '', 'NaN'])
      expect(parseUtcDateTime(bad).ok, bad).toBe(false);
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
    expect(detectTextFormat('Date,Short Description,Accurate Sentiments')).toBe('descriptions');
    expect(detectTextFormat('\uFEFFDate,"Short Description",Accurate Sentiments\r')).toBe('descriptions');
    expect(detectTextFormat('Publish Date,headline,link')).toBe('headlines');
    expect(detectTextFormat('Date,Accurate Sentiments')).toBeNull();
    expect(detectTextFormat('Publish Date,headline')).toBeNull();
    expect(detectTextFormat('a,b,c')).toBeNull();
    expect(detectTextFormat('')).toBeNull();
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
  it('maps news descriptions: UTC dates, content ids, the 2024 rows excluded and counted, bad rows dead with lines', () => {
    const csv = [
      'Date,Short Description,Accurate Sentiments',
      '2023-03-10 14:05:00,"Bitcoin falls below USD 20,000 as SVB collapses.",0.12',
      '2023-03-10 09:30:00,Regulators close Silvergate.,0.0',
      '2023-03-10 09:30:00,Regulators close Silvergate.,0.0',
      '2023-03-11 09:30:00,Regulators close Silvergate.,0.0',
      '2023-02-30 10:00:00,no such day,0.1',
      '2023-03-10,date only,0.1',
      '2023-03-10 10:00:00,,0.5',
      '2023-03-10 10:00:00,too,many,fields',
      '2099-01-01 10:00:00,from the future,0.1',
      '2023-12-31 23:59:59,the last kept,0.2',
      '2024-01-01 00:00:00,first excluded,0.9',
      '2024-05-01 00:00:00,"excluded, too",0.9',
      '2023-03-12 10:00:00,"truncated quote',
    ].join('\n');
    const m = mapTextCsv(csv, 'descriptions', 'replay:d.csv', opts);
    expect(m.rows).toBe(12);
    expect(m.drafts.map((d) => [new Date(d.publishedAt).toISOString(), d.text])).toEqual([
      ['2023-03-10T09:30:00.000Z', 'Regulators close Silvergate.'],
      ['2023-03-10T14:05:00.000Z', 'Bitcoin falls below USD 20,000 as SVB collapses.'],
      ['2023-03-11T09:30:00.000Z', 'Regulators close Silvergate.'],
      ['2023-12-31T23:59:59.000Z', 'the last kept'],
    ]);
    expect(m.drafts[0]).toMatchObject({ source: 'replay:d.csv', kind: 'news', title: null, url: null, author: null });
    expect(m.drafts[0]?.id).toBe(textId('replay:d.csv', m.drafts[0]?.sourceId ?? ''));
    expect(m.drafts[0]?.id).not.toBe(m.drafts[2]?.id);
    expect(m.duplicates).toBe(1);
    expect(m.excluded).toEqual([{ reason: DESCRIPTIONS_EXCLUSION_REASON, rows: 2 }]);
    expect(m.excluded[0]?.reason).toMatch(/^README 2c: rows after 2023-12 are /);
    expect(m.dead.map((d) => [d.line, d.reason.split(':')[0]])).toEqual([
      [6, 'bad Date'],
      [7, 'bad Date'],
      [8, 'empty Short Description'],
      [9, 'row has 4 fields, header has 3'],
      [10, 'Date is in the future'],
      [14, 'unparseable row'],
    ]);
    expect(m.drafts.length + m.duplicates + m.dead.length + 2).toBe(13);
    expect(() => mapTextCsv('Date,Sentiment\n2023-01-01 00:00:00,1', 'descriptions', 's', opts)).toThrow(/header lacks the descriptions columns/);
  });
  it('reports an exclusion count of 0 for descriptions inside the range, and none for formats without a rule', () => {
    const d = mapTextCsv('Date,Short Description,Accurate Sentiments\n2022-01-01 00:01:00,a,0\n', 'descriptions', 's', opts);
    expect(d.excluded).toEqual([{ reason: DESCRIPTIONS_EXCLUSION_REASON, rows: 0 }]);
    expect(mapTextCsv('Date,Short Description,Accurate Sentiments\n', 'descriptions', 's', opts)).toMatchObject({ rows: 0, drafts: [], dead: [] });
    expect(mapTextCsv('Publish Date,headline,link\n2024-06-01 00:00:00,a,https://c.com/a\n', 'headlines', 's', opts).excluded).toEqual([]);
  });
  it('maps CoinDesk headlines: title and text are the headline, links canonical and deduped, bad rows dead', () => {
    const csv = [
      'Publish Date,headline,link',
      '2023-06-05 18:00:12,SEC sues Binance,https://www.coindesk.com/policy/2023/06/05/sec-sues-binance?utm_source=x',
      '2023-06-05 17:00:00,SEC sues Binance (first version),https://www.coindesk.com/policy/2023/06/05/sec-sues-binance',
      '2023-06-06 09:00,"Bitcoin, ether slide",https://coindesk.com/markets/a',
      '2023-06-06 09:00:00,No link here,',
      '2023-06-06 25:00:00,bad hour,https://coindesk.com/b',
      '2023-06-06 10:00:00,bad link,ftp://coindesk.com/c',
      '2023-06-06 10:00:00,,https://coindesk.com/d',
      '2099-06-06 10:00:00,from the future,https://coindesk.com/e',
      '2023-06-07 10:00:00,cut off',
    ].join('\n');
    const m = mapTextCsv(csv, 'headlines', 'replay:h.csv', opts);
    expect(m.rows).toBe(9);
    expect(m.drafts.map((d) => [d.publishedAt, d.title, d.url])).toEqual([
      [Date.UTC(2023, 5, 5, 17), 'SEC sues Binance (first version)', 'https://www.coindesk.com/policy/2023/06/05/sec-sues-binance'],
      [Date.UTC(2023, 5, 6, 9), 'Bitcoin, ether slide', 'https://coindesk.com/markets/a'],
      [Date.UTC(2023, 5, 6, 9), 'No link here', null],
    ]);
    expect(m.drafts[0]).toMatchObject({
      kind: 'news',
      text: 'SEC sues Binance (first version)',
      author: null,
      sourceId: 'https://www.coindesk.com/policy/2023/06/05/sec-sues-binance',
    });
    expect(m.drafts[2]?.sourceId).toMatch(/^nourl:[0-9a-f]{32}$/);
    expect(m.duplicates).toBe(1);
    expect(m.dead.map((d) => [d.line, d.reason.split(':')[0]])).toEqual([
      [6, 'bad Publish Date'],
      [7, 'bad link "ftp'],
      [8, 'empty headline'],
      [9, 'Publish Date is in the future'],
      [10, 'row has 2 fields, header has 3'],
    ]);
    expect(m.dead[4]?.raw).toBe('2023-06-07 10:00:00,cut off');
  });
  it.skipIf(!hasSharedData(TWEETS_FILE, NEWS_FILE))('maps the real files completely and in time order', () => {
    const data = SHARED_DATA_DIR;
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
  it.skipIf(!HAS_2C_2D)('maps the real news descriptions (2c) and CoinDesk headlines (2d) in place: counts and ranges', () => {
    const data = SHARED_DATA_DIR;
    const d = mapTextCsv(readFileSync(resolve(data, TEXT_DATA_FILE.descriptions), 'utf8'), 'descriptions', 'replay:d', opts);
    // README 2c: 11,295 rows, 2021: 137, 2022: 5,252, 2023: 4,572, 2024: 1,334 (all excluded); 2 fully duplicate rows.
    expect(d.rows).toBe(11295);
    expect(d.dead).toHaveLength(0);
    expect(d.excluded).toEqual([{ reason: DESCRIPTIONS_EXCLUSION_REASON, rows: 1334 }]);
    expect(d.duplicates).toBe(2);
    expect(d.drafts).toHaveLength(11295 - 1334 - 2);
    expect(d.drafts[0]?.publishedAt).toBe(Date.UTC(2021, 10, 5, 4, 42));
    expect(d.drafts.at(-1)?.publishedAt).toBeLessThan(Date.UTC(2024, 0, 1));
    expect(d.drafts.at(-1)?.publishedAt).toBeGreaterThanOrEqual(Date.UTC(2023, 11, 1));
    const perYear = new Map<number, number>();
    for (const x of d.drafts) perYear.set(new Date(x.publishedAt).getUTCFullYear(), (perYear.get(new Date(x.publishedAt).getUTCFullYear()) ?? 0) + 1);
    expect((perYear.get(2021) ?? 0) + (perYear.get(2022) ?? 0) + (perYear.get(2023) ?? 0)).toBe(11295 - 1334 - 2);
    expect(perYear.get(2023)).toBeGreaterThan(4500);
    const h = mapTextCsv(readFileSync(resolve(data, TEXT_DATA_FILE.headlines), 'utf8'), 'headlines', 'replay:h', opts);
    // README 2d: 5,817 rows, no duplicates, 2013-04-01 .. 2025-06-14 09:55.
    expect(h).toMatchObject({ rows: 5817, duplicates: 0, excluded: [] });
    expect(h.dead).toHaveLength(0);
    expect(h.drafts).toHaveLength(5817);
    expect(h.drafts[0]?.publishedAt).toBe(Date.UTC(2013, 3, 1, 20, 19, 24));
    expect(h.drafts.at(-1)?.publishedAt).toBe(Date.UTC(2025, 5, 14, 9, 55, 39));
    for (const m of [d, h]) for (let i = 1; i < m.drafts.length; i++) expect((m.drafts[i]?.publishedAt ?? 0) >= (m.drafts[i - 1]?.publishedAt ?? 0)).toBe(true);
  });
});
