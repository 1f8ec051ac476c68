// Text replay of the real tweets, news, news-description and CoinDesk headline files into text.raw on the real stack:
// the right count, in publishedAt order, with the original timestamps; a second run resumes after
// what is already published; bad rows of a broken file go to the DLQ with their line numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { runTextReplay } from '../../producers/text/replay.js';
import { BitPredictError } from '../../core/errors.js';
import { DESCRIPTIONS_EXCLUSION_REASON, TEXT_DATA_FILE } from '../../core/data/text/index.js';

const TWEETS = 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv';
const NEWS = 'crypto_news_2021_2022/cryptonews.csv';
const HAS_2C_2D = hasSharedData(TEXT_DATA_FILE.descriptions, TEXT_DATA_FILE.headlines);

function expectTimeOrder(ts: number[]): void {
  for (let i = 1; i < ts.length; i++) expect((ts[i] ?? 0) >= (ts[i - 1] ?? 0), `record ${i}`).toBe(true);
}

describe('text replay -> text.raw', () => {
  let tp: TestPlatform;
  let producer: Producer;
  const dir = mkdtempSync(join(tmpdir(), 'bp-text-replay-'));

  beforeAll(async () => {
    tp = await createTestPlatform('textreplay', { BITPREDICT_TOPIC_PARTITIONS: '1' });
    producer = await createProducer(tp.platform.kafka);
  });

  afterAll(async () => {
    await producer?.close();
    await tp?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!hasSharedData(TWEETS, NEWS))('replays slices of the real tweets and news files in time order, resuming without duplicates', async () => {
    const a = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: TWEETS, limit: 300, resume: true });
    expect(a).toMatchObject({ format: 'tweets', rows: 4662, published: 300, deadLettered: 0, skippedAlreadyPublished: 0 });
    expect(a.firstPublishedAt).toBe(Date.UTC(2025, 7, 15, 23, 25, 35));
    const b = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: TWEETS, limit: 200, resume: true });
    expect(b).toMatchObject({ published: 200, skippedAlreadyPublished: 300 });
    const tweets = await tp.readAll('textRaw');
    expect(tweets).toHaveLength(500);
    expect(new Set(tweets.map((r) => r.key)).size).toBe(500);
    expectTimeOrder(tweets.map((r) => r.timestamp));
    for (const r of tweets) {
      expect(r.timestamp).toBe(r.value?.publishedAt);
      expect(r.value).toMatchObject({ kind: 'tweet', source: 'replay:bitcoin_tweets_1month_20250919_161545.csv', title: null });
    }

    const n = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: NEWS, limit: 250, resume: false });
    expect(n).toMatchObject({ format: 'news', rows: 7524, published: 250, deadLettered: 0 });
    const all = await tp.readAll('textRaw');
    const news = all.slice(500);
    expect(news).toHaveLength(250);
    expect(news[0]?.timestamp).toBe(Date.UTC(2021, 9, 12, 20, 0));
    expectTimeOrder(news.map((r) => r.timestamp));
    expect(news.every((r) => r.value?.kind === 'news' && r.value.source === 'replay:cryptonews.csv')).toBe(true);
  });

  it.skipIf(!HAS_2C_2D)('replays the whole news-descriptions file with its 2024 rows excluded and counted, and CoinDesk headlines', async () => {
    const before = (await tp.readAll('textRaw')).length;
    const d = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: TEXT_DATA_FILE.descriptions, resume: false });
    expect(d).toMatchObject({
      format: 'descriptions',
      rows: 11295,
      published: 11295 - 1334 - 2,
      deadLettered: 0,
      duplicates: 2,
      excluded: [{ reason: DESCRIPTIONS_EXCLUSION_REASON, rows: 1334 }],
      firstPublishedAt: Date.UTC(2021, 10, 5, 4, 42),
    });
    expect(d.lastPublishedAt).toBeLessThan(Date.UTC(2024, 0, 1));
    const h = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: TEXT_DATA_FILE.headlines, limit: 100, resume: false });
    expect(h).toMatchObject({
      format: 'headlines',
      rows: 5817,
      published: 100,
      deadLettered: 0,
      excluded: [],
      firstPublishedAt: Date.UTC(2013, 3, 1, 20, 19, 24),
    });
    const all = (await tp.readAll('textRaw')).slice(before);
    expect(all).toHaveLength(11295 - 1334 - 2 + 100);
    const desc = all.slice(0, 11295 - 1334 - 2);
    expectTimeOrder(desc.map((r) => r.timestamp));
    expect(desc.every((r) => r.value?.source === 'replay:bitcoin_sentiments_21_24.csv' && r.value.kind === 'news' && r.timestamp < Date.UTC(2024, 0, 1))).toBe(
      true,
    );
    expect(desc.filter((r) => r.timestamp >= Date.UTC(2023, 0, 1)).length).toBeGreaterThan(4500);
    expect(all[desc.length]?.value).toMatchObject({
      source: 'replay:bitcoin_news.csv',
      title: 'How do I buy bitcoins?',
      url: 'https://coindesk.com/markets/2013/04/01/how-do-i-buy-bitcoins',
    });
  });

  it('dead-letters the bad rows of a broken file with line numbers and publishes the rest', async () => {
    const file = join(dir, 'broken-news.csv');
    writeFileSync(
      file,
      [
        'date;sentiment;source;subject;text;title;url',
        '5-7-2022 04:24;{};CryptoNews;bitcoin;ok;Good;https://example.com/good',
        '99-7-2022 04:24;{};CryptoNews;bitcoin;bad day;Bad;https://example.com/bad',
        'not a date;{};CryptoNews;bitcoin;bad;Bad2;https://example.com/bad2',
        '5-7-2022 04:25;{};CryptoNews;bitcoin;missing columns',
      ].join('\n'),
    );
    const s = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file, resume: false });
    expect(s).toMatchObject({ published: 1, deadLettered: 3 });
    const dlq = await tp.readAll('dlq');
    expect(dlq.map((d) => [d.value?.sourceKind, d.value?.offset, d.value?.errorCode])).toEqual([
      ['file', 3, 'ERR_REPLAY_MALFORMED_ROW'],
      ['file', 4, 'ERR_REPLAY_MALFORMED_ROW'],
      ['file', 5, 'ERR_REPLAY_MALFORMED_ROW'],
    ]);
    expect(dlq[0]?.value?.value?.toString()).toBe('99-7-2022 04:24;{};CryptoNews;bitcoin;bad day;Bad;https://example.com/bad');
  });

  it('replays any CSV with time and text columns (your own texts), bad rows to the DLQ with their lines', async () => {
    const before = (await tp.readAll('dlq')).length;
    const rawBefore = (await tp.readAll('textRaw')).length;
    const file = join(dir, 'my-texts.csv');
    writeFileSync(
      file,
      [
        'created_at,body,site',
        '2024-03-01T10:00:00Z,Bitcoin rallies past resistance,example.com',
        '1709290800,Miners sell into strength,example.org',
        'yesterday,no parseable time,example.net',
        `${new Date(Date.now() + 30 * 86_400_000).toISOString()},from the future,example.net`,
        '2024-03-01T11:30:00+01:00,"quoted, with a comma",example.com',
      ].join('\n'),
    );
    const s = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file, resume: false });
    expect(s).toMatchObject({ format: 'generic', published: 3, deadLettered: 2 });
    const raw = (await tp.readAll('textRaw')).slice(rawBefore).map((r) => r.value);
    expect(raw.map((t) => [t?.publishedAt, t?.text])).toEqual(
      [
        [Date.parse('2024-03-01T10:00:00Z'), 'Bitcoin rallies past resistance'],
        [Date.parse('2024-03-01T10:30:00Z'), 'quoted, with a comma'],
        [1709290800 * 1000, 'Miners sell into strength'],
      ].sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    const dlq = (await tp.readAll('dlq')).slice(before);
    expect(dlq.map((d) => [d.value?.sourceKind, d.value?.offset])).toEqual([
      ['file', 4],
      ['file', 5],
    ]);
  });

  it('refuses a missing file or an unknown header with ERR_REPLAY_FILE', async () => {
    await expect(runTextReplay({ platform: tp.platform, config: tp.config, producer, file: join(dir, 'nope.csv') })).rejects.toMatchObject({
      code: 'ERR_REPLAY_FILE',
    });
    const odd = join(dir, 'odd.csv');
    writeFileSync(odd, 'a,b,c\n1,2,3\n');
    const err: unknown = await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: odd }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitPredictError);
    expect((err as BitPredictError).code).toBe('ERR_REPLAY_FILE');
  });
});
