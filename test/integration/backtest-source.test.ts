// Backtest sources on the real stack: a slice of the real hourly candles replayed into
// market.candles with the replay producer, and the real news and tweets replayed into text.raw
// with the text replay, read back with loadEventsFromKafka, equal loadEventsFromFiles over the
// same range (but for source and provenance). Future-dated records and a re-produced candle do
// not change the result; a range before the topic's first candle is refused, naming what is there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, DATA_DIR, HOURLY_MERGED, type TestPlatform } from '../helpers/platform.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { runReplay } from '../../producers/replay/service.js';
import { runTextReplay } from '../../producers/text/replay.js';
import { isBitPredictError } from '../../core/errors.js';
import type { Candle, TextItem } from '../../schemas/types.js';
import type { BacktestEvents, BacktestRange } from '../../trainer/backtest/types.js';
import { loadEventsFromFiles, loadEventsFromKafka } from '../../trainer/backtest/source.js';

const HOUR = 3_600_000;
const NEWS = 'crypto_news_2021_2022/cryptonews.csv';
const TWEETS = 'btc_tweets_2025_08_09/bitcoin_tweets_1month_20250919_161545.csv';
const W = 4 * HOUR;
const WARMUP = 48;
// Two weeks of the real hourly data that the real news file covers.
const RANGE: BacktestRange = { symbol: 'BTCUSDT', interval: '1h', from: Date.UTC(2021, 10, 1), to: Date.UTC(2021, 10, 15) };
// The topic holds the warm-up, the range, and a day after it (which must not leak in).
const REPLAY_FROM = RANGE.from - WARMUP * HOUR;
const REPLAY_TO = RANGE.to + 24 * HOUR;

function comparable(e: BacktestEvents): Omit<BacktestEvents, 'source' | 'provenance'> {
  const { source: _s, provenance: _p, ...rest } = e;
  return rest;
}

describe.skipIf(!hasSharedData(HOURLY_MERGED, NEWS, TWEETS))('backtest sources: topics = files', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let files: BacktestEvents;

  beforeAll(async () => {
    tp = await createTestPlatform('bt-source', { BITPREDICT_FEATURES_SENTIMENT_WINDOW_MS: String(W) });
    producer = await createProducer(tp.platform.kafka);
    const s = await runReplay({
      platform: tp.platform,
      config: tp.config,
      producer,
      file: HOURLY_MERGED,
      symbol: 'BTCUSDT',
      interval: '1h',
      rate: 0,
      from: REPLAY_FROM,
      to: REPLAY_TO,
    });
    expect(s.published).toBeGreaterThan(300);
    // Another series in the same topic, overlapping in time: must be ignored.
    await runReplay({
      platform: tp.platform,
      config: tp.config,
      producer,
      file: HOURLY_MERGED,
      symbol: 'ETHUSDT',
      interval: '1h',
      rate: 0,
      from: RANGE.from,
      limit: 50,
    });
    await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: NEWS, resume: false });
    await runTextReplay({ platform: tp.platform, config: tp.config, producer, file: TWEETS, resume: false });
    files = await loadEventsFromFiles({
      dataDir: DATA_DIR,
      candleFile: HOURLY_MERGED,
      textFiles: [NEWS, TWEETS],
      range: RANGE,
      warmupBars: WARMUP,
      sentimentWindowMs: W,
    });
  }, 60_000);

  afterAll(async () => {
    await producer?.close();
    await tp?.cleanup();
  });

  it('reads the same events from the topics as from the files, with progress', async () => {
    const progress: [number, number, string][] = [];
    const kafka = await loadEventsFromKafka(tp.platform, {
      config: tp.config,
      range: RANGE,
      warmupBars: WARMUP,
      onProgress: (d, t, w) => progress.push([d, t, w]),
    });
    expect(kafka.source).toBe('kafka');
    expect(files.source).toBe('files');
    expect(kafka.warmupFrom).toBe(REPLAY_FROM);
    expect(kafka.candles.length).toBeGreaterThan(300);
    expect(kafka.candles[0]?.openTime).toBe(REPLAY_FROM);
    expect(kafka.candles.at(-1)?.closeTime).toBe(RANGE.to);
    expect(kafka.texts.length).toBeGreaterThan(10);
    expect(kafka.texts.every((t) => t.kind === 'news' && t.publishedAt >= REPLAY_FROM - W && t.publishedAt < RANGE.to)).toBe(true);
    expect(comparable(kafka)).toEqual(comparable(files));
    expect(JSON.stringify(comparable(kafka))).toBe(JSON.stringify(comparable(files)));
    expect(kafka.provenance.some((p) => p.startsWith(`kafka ${tp.topic('candles')}[`))).toBe(true);
    expect(kafka.provenance.some((p) => p.startsWith(`kafka ${tp.topic('textRaw')}[`))).toBe(true);
    const last = progress.at(-1);
    expect(last?.[0]).toBe(last?.[1]);
    expect(last?.[1]).toBeGreaterThan(0);
  });

  it('is unchanged by future-dated records and a re-produced candle', async () => {
    const before = await loadEventsFromKafka(tp.platform, { config: tp.config, range: RANGE, warmupBars: WARMUP });
    const some = before.candles[100] as Candle;
    const future: Candle = { ...some, openTime: Date.UTC(2030, 0, 1), closeTime: Date.UTC(2030, 0, 1) + HOUR };
    // Valid to the live consumers (inside the future tolerance) but dated after the range.
    const afterRange: Candle = { ...some, openTime: RANGE.to + 48 * HOUR, closeTime: RANGE.to + 49 * HOUR };
    const text = (id: string, publishedAt: number): TextItem => ({
      id,
      source: 'rss:test',
      sourceId: id,
      kind: 'news',
      publishedAt,
      title: 'Bitcoin crashes hard',
      text: 'terrible losses',
      url: null,
      author: null,
      ingestedAt: publishedAt,
    });
    const futureText = text('future-1', Date.UTC(2030, 0, 1));
    const lateText = text('late-1', RANGE.to);
    // The broker refuses record timestamps far ahead of its clock, so a future-dated record gets
    // in with a current timestamp and a future event time in its value.
    const stamp = (t: number): number => Math.min(t, Date.now());
    const candleRec = (c: Candle) => ({
      topic: tp.topic('candles'),
      key: 'BTCUSDT:1h',
      value: tp.platform.serde.encode('candles', c),
      timestamp: stamp(c.closeTime),
    });
    const textRec = (t: TextItem) => ({
      topic: tp.topic('textRaw'),
      key: t.id,
      value: tp.platform.serde.encode('textRaw', t),
      timestamp: stamp(t.publishedAt),
    });
    await producer.send([candleRec(future), candleRec(afterRange), candleRec({ ...some, ingestedAt: Date.now() }), textRec(futureText), textRec(lateText)]);
    const after = await loadEventsFromKafka(tp.platform, { config: tp.config, range: RANGE, warmupBars: WARMUP });
    expect(after.candles).toHaveLength(before.candles.length);
    expect(comparable(after)).toEqual(comparable(before));
    expect(comparable(after)).toEqual(comparable(files));
    // The 2030 records are what the live consumers would dead-letter: skipped and counted.
    expect(after.provenance.join('\n')).toMatch(/skipped as invalid \(e\.g\. closeTime 2030-01-01T01:00:00\.000Z is in the future\)/);
    expect(after.provenance.join('\n')).toMatch(/skipped as invalid \(e\.g\. publishedAt 2030-01-01T00:00:00\.000Z is in the future\)/);
  });

  it('refuses a range that starts before the first candle of the topic, naming the available range', async () => {
    let err: unknown = null;
    try {
      await loadEventsFromKafka(tp.platform, { config: tp.config, range: { ...RANGE, from: REPLAY_FROM - 24 * HOUR }, warmupBars: 10 });
    } catch (e) {
      err = e;
    }
    expect(isBitPredictError(err) && err.code === 'ERR_BACKTEST_RANGE').toBe(true);
    const message = (err as Error).message;
    expect(message).toContain(`requested BTCUSDT:1h ${new Date(REPLAY_FROM - 24 * HOUR).toISOString()} .. ${new Date(RANGE.to).toISOString()}`);
    // The topic's first candle; its last is the day after the range (or the record added above).
    expect(message).toMatch(new RegExp(`candles from ${new Date(REPLAY_FROM).toISOString()} to 2021-11-1[67]T`));
    expect(message).toContain('the data starts after the range does');
  });
});
