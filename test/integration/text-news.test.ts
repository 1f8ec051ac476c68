// News ingestion against the real stack, with a loopback server speaking RSS/Atom: conditional GET,
// dedupe across polls and across a restart (memory rebuilt from the tail of text.raw), bad dates to
// the DLQ once, and 429 / 5xx / truncated XML / timeouts survived with backoff and counted errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTestPlatform, REPO_ROOT, waitFor, type TestPlatform } from '../helpers/platform.js';
import { startMockFeedHost, type MockFeedHost } from '../helpers/mock-feeds.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { createNewsService, type NewsService } from '../../producers/text/news.js';
import { textId } from '../../core/data/text/index.js';

const fixture = (name: string): string => readFileSync(resolve(REPO_ROOT, 'test/fixtures/text', name), 'utf8');

async function metricValues(tp: TestPlatform, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const m = tp.platform.registry.getSingleMetric(name);
  if (!m) return [];
  return (await m.get()).values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

describe('news ingestion (RSS/Atom -> text.raw)', () => {
  let tp: TestPlatform;
  let host: MockFeedHost;
  let producer: Producer;
  const services: NewsService[] = [];

  beforeAll(async () => {
    tp = await createTestPlatform('textnews', { BITPREDICT_TOPIC_PARTITIONS: '1' });
    host = await startMockFeedHost();
    producer = await createProducer(tp.platform.kafka);
  });

  afterAll(async () => {
    for (const s of services) await s.stop();
    await producer?.close();
    await host?.close();
    await tp?.cleanup();
  });

  it('publishes new items once, answers 304 for nothing, dead-letters bad dates once, and backs off failing feeds', async () => {
    const rss = fixture('cointelegraph-rss.xml');
    host.script('/rss', [{ headers: { etag: '"v1"', 'last-modified': 'Tue, 05 Jul 2022 04:30:00 GMT' }, body: rss, conditional: true }]);
    host.script('/atom', [{ body: fixture('coindesk-atom.xml') }]);
    host.script('/limited', [{ status: 429, headers: { 'retry-after': '120' }, body: 'slow down' }]);
    host.script('/broken', [{ status: 503, body: 'unavailable' }]);
    host.script('/truncated', [{ body: rss.slice(0, Math.floor(rss.length * 0.6)) }]);
    host.script('/slow', [{ hang: true }]);
    const feeds = ['/rss', '/atom', '/limited', '/broken', '/truncated', '/slow'].map((p) => host.url(p));
    const news = await createNewsService({
      platform: tp.platform,
      config: tp.config,
      producer,
      feeds,
      pollIntervalMs: 1_000_000,
      quietAfterMs: 60_000,
      fetchTimeoutMs: 1500, // generous: a loaded CI machine must not time out the healthy feeds; /slow hangs anyway
      schedule: false,
    });
    services.push(news);
    await news.start();
    await news.pollAll();
    await news.pollAll();

    const second = host.requests('/rss')[1];
    expect(second?.headers['if-none-match']).toBe('"v1"');
    expect(second?.headers['if-modified-since']).toBe('Tue, 05 Jul 2022 04:30:00 GMT');
    const state = Object.fromEntries(news.feeds().map((f) => [new URL(f.url).pathname, f]));
    expect(state['/rss']?.lastResult).toBe('not_modified');
    expect(state['/rss']?.published).toBe(2);
    expect(state['/rss']?.rejected).toBe(2);
    expect(state['/atom']?.published).toBe(2);
    expect(state['/limited']?.lastResult).toBe('rate_limited');
    expect(state['/limited']?.nextAt ?? 0).toBeGreaterThanOrEqual(Date.now() + 100_000);
    expect(state['/broken']?.lastResult).toBe('http_error');
    expect(state['/truncated']?.lastResult).toBe('malformed');
    expect(state['/slow']?.lastResult).toBe('timeout');
    for (const p of ['/limited', '/broken', '/truncated', '/slow']) expect(state[p]?.failures).toBe(2);

    const items = await tp.readAll('textRaw');
    expect(items).toHaveLength(4);
    for (const r of items) {
      expect(r.key).toBe(r.value?.id);
      expect(r.timestamp).toBe(r.value?.publishedAt);
      expect(r.value?.kind).toBe('news');
    }
    const rssSource = `rss:127.0.0.1:${new URL(host.url('/')).port}/rss`;
    expect(items.map((r) => r.key)).toContain(textId(rssSource, 'https://cointelegraph.com/news/bitcoin-price-reclaims-20k'));
    const dlq = await tp.readAll('dlq');
    expect(dlq).toHaveLength(2);
    expect(dlq.map((d) => d.value?.sourceKind)).toEqual(['http', 'http']);
    expect(dlq.map((d) => d.value?.errorMessage).join('\n')).toMatch(/bad publication date/);

    const fetches = await metricValues(tp, 'bitpredict_news_fetch_total');
    const count = (result: string): number => fetches.filter((f) => f.labels.result === result).reduce((a, f) => a + f.value, 0);
    expect(count('ok')).toBe(3);
    expect(count('not_modified')).toBe(1);
    expect(count('rate_limited') + count('http_error') + count('malformed') + count('timeout')).toBe(8);
    const quiet = await metricValues(tp, 'bitpredict_news_feed_quiet');
    expect(quiet.find((q) => String(q.labels.feed).startsWith('0:'))?.value).toBe(1);
    expect(quiet.find((q) => String(q.labels.feed).startsWith('2:'))?.value).toBe(0);
    const ages = await metricValues(tp, 'bitpredict_news_feed_last_item_age_seconds');
    expect(ages.find((a) => String(a.labels.feed).startsWith('0:'))?.value ?? 0).toBeGreaterThan(3 * 365 * 86400);
    await news.stop();
  });

  it('remembers published items across a restart and publishes only what is new', async () => {
    const atom = fixture('coindesk-atom.xml');
    const extra = `<entry><title>New after restart</title><link href="https://www.coindesk.com/new"/><id>tag:coindesk.com,2022:/new</id><published>2022-07-05T05:00:00Z</published><summary>fresh</summary></entry></feed>`;
    host.script('/atom', [{ body: atom.replace('</feed>', extra) }]);
    const news = await createNewsService({
      platform: tp.platform,
      config: tp.config,
      producer,
      feeds: [host.url('/atom')],
      pollIntervalMs: 1_000_000,
      fetchTimeoutMs: 2000,
      schedule: false,
    });
    services.push(news);
    await news.start();
    await news.pollAll();
    expect(news.feeds()[0]?.published).toBe(1);
    const items = await tp.readAll('textRaw');
    expect(items).toHaveLength(5);
    expect(new Set(items.map((r) => r.key)).size).toBe(5);
    expect(items.at(-1)?.value?.title).toBe('New after restart');
    await news.stop();
  });

  it('polls on its own schedule after start, each later poll a 304 that publishes nothing', async () => {
    host.script('/scheduled', [
      { headers: { etag: '"s1"' }, body: fixture('coindesk-atom.xml').replaceAll('coindesk.com', 'scheduled.example'), conditional: true },
    ]);
    const news = await createNewsService({
      platform: tp.platform,
      config: tp.config,
      producer,
      feeds: [host.url('/scheduled')],
      pollIntervalMs: 150,
      fetchTimeoutMs: 2000,
    });
    services.push(news);
    await news.start();
    await waitFor(() => host.requests('/scheduled').length >= 4, 'four scheduled polls');
    await news.stop();
    const after = host.requests('/scheduled').length;
    expect(news.feeds()[0]).toMatchObject({ published: 2, lastResult: 'not_modified', failures: 0 });
    expect(
      host
        .requests('/scheduled')
        .slice(1)
        .every((r) => r.headers['if-none-match'] === '"s1"'),
    ).toBe(true);
    expect(news.readiness().ready).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    // Stopped means stopped: no poll after stop() resolved.
    expect(host.requests('/scheduled')).toHaveLength(after);
    expect(await tp.readAll('textRaw')).toHaveLength(7);
  });
});
