// X recent search against the real stack, with a loopback server speaking the API v2 format:
// paging with next_token then since_id (nothing fetched twice), a 429 honoured until
// x-rate-limit-reset, bad tweets dead-lettered, and since_id recovered from text.raw on restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createTestPlatform, REPO_ROOT, waitFor, type TestPlatform } from '../helpers/platform.js';
import { startMockFeedHost, type MockFeedHost, type MockResponse } from '../helpers/mock-feeds.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { createXService, type XService } from '../../producers/text/x.js';
import { createLogger } from '../../core/logger.js';

const fixture = (name: string): string => readFileSync(resolve(REPO_ROOT, 'test/fixtures/text', name), 'utf8');
const PATH = '/2/tweets/search/recent';
const TOKEN = 'test-bearer-token-not-secret';

describe('X recent search -> text.raw', () => {
  let tp: TestPlatform;
  let host: MockFeedHost;
  let producer: Producer;
  const services: XService[] = [];
  let resetAt = 0;
  let limited = false;

  beforeAll(async () => {
    tp = await createTestPlatform('textx', { BITPREDICT_TOPIC_PARTITIONS: '1' });
    host = await startMockFeedHost();
    producer = await createProducer(tp.platform.kafka);
    const json = (body: string, extra: Record<string, string> = {}): MockResponse => ({
      body,
      headers: {
        'content-type': 'application/json',
        'x-rate-limit-remaining': '440',
        'x-rate-limit-reset': String(Math.ceil(Date.now() / 1000) + 900),
        ...extra,
      },
    });
    host.script(PATH, [
      {
        dynamic: ({ url, headers }) => {
          if (headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, body: '{"title":"Unauthorized"}' };
          const since = url.searchParams.get('since_id');
          const token = url.searchParams.get('pagination_token');
          if (token === 'b26v89c19zqg8o3fpdg6xwaj') {
            if (!limited) {
              limited = true;
              resetAt = Math.ceil(Date.now() / 1000) + 1;
              return { status: 429, headers: { 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(resetAt) }, body: '{"title":"Too Many Requests"}' };
            }
            return json(fixture('x-recent-page2.json'));
          }
          if (since === null) return json(fixture('x-recent-page1.json'));
          if (since === '1956506060740538576') return json(fixture('x-recent-page3.json'));
          return json(fixture('x-recent-empty.json'));
        },
      },
    ]);
  });

  afterAll(async () => {
    for (const s of services) await s.stop();
    await producer?.close();
    await host?.close();
    await tp?.cleanup();
  });

  it('pages with next_token, waits out a 429 until reset, then continues with since_id', async () => {
    const logs: string[] = [];
    const logger = createLogger({ level: 'debug', name: 'x-test', destination: { write: (m: string) => void logs.push(m) } });
    const x = await createXService({
      platform: { ...tp.platform, logger },
      config: tp.config,
      producer,
      token: TOKEN,
      apiUrl: host.url(''),
      query: 'bitcoin',
      pollIntervalMs: 1_000_000,
      loadSeenFromTail: false,
    });
    services.push(x);
    const wait = await x.pollOnce();
    expect(wait).toBeGreaterThan(0);
    expect(x.state()).toMatchObject({ published: 2, sinceId: null, pendingToken: 'b26v89c19zqg8o3fpdg6xwaj' });
    const before = host.requests(PATH).length;
    // Inside the wait, no request goes out.
    expect(await x.pollOnce()).toBeGreaterThan(0);
    expect(host.requests(PATH)).toHaveLength(before);
    await new Promise((r) => setTimeout(r, x.state().waitUntil - Date.now() + 20));
    expect(await x.pollOnce()).toBe(1_000_000);
    expect(x.state()).toMatchObject({ published: 3, rejected: 1, sinceId: '1956506060740538576', pendingToken: null });
    await x.pollOnce();
    expect(x.state()).toMatchObject({ published: 4, sinceId: '1956507000000000001' });

    const reqs = host.requests(PATH);
    const afterLimit = reqs[before];
    expect(afterLimit?.url.searchParams.get('pagination_token')).toBe('b26v89c19zqg8o3fpdg6xwaj');
    expect(afterLimit?.at ?? 0).toBeGreaterThanOrEqual(resetAt * 1000);
    expect(reqs[0]?.url.searchParams.get('tweet.fields')).toBe('created_at,author_id');
    expect(reqs[0]?.url.searchParams.get('expansions')).toBe('author_id');
    expect(reqs[0]?.url.searchParams.get('max_results')).toBe('100');
    expect(reqs.at(-1)?.url.searchParams.get('since_id')).toBe('1956506060740538576');

    const items = await tp.readAll('textRaw');
    expect(items.map((r) => r.value?.sourceId).sort()).toEqual(['1956504257076641923', '1956505176350580739', '1956506060740538576', '1956507000000000001']);
    for (const r of items) expect(r.timestamp).toBe(r.value?.publishedAt);
    const dlq = await tp.readAll('dlq');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.value?.errorMessage).toMatch(/bad created_at/);
    expect(logs.some((l) => l.includes('rate limit'))).toBe(true);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('resumes from the newest published tweet id after a restart', async () => {
    const x = await createXService({
      platform: tp.platform,
      config: tp.config,
      producer,
      token: TOKEN,
      apiUrl: host.url(''),
      query: 'bitcoin',
      pollIntervalMs: 1_000_000,
    });
    services.push(x);
    const n = host.requests(PATH).length;
    await x.start();
    await waitFor(() => host.requests(PATH).length > n, 'the first request after restart');
    expect(host.requests(PATH)[n]?.url.searchParams.get('since_id')).toBe('1956507000000000001');
    await x.stop();
    expect(await tp.readAll('textRaw')).toHaveLength(4);
  });

  it('a wrong token is refused by the API and backed off, not retried in a loop', async () => {
    const x = await createXService({
      platform: tp.platform,
      config: tp.config,
      producer,
      token: 'wrong',
      apiUrl: host.url(''),
      query: 'bitcoin',
      pollIntervalMs: 1_000_000,
      loadSeenFromTail: false,
    });
    services.push(x);
    const wait = await x.pollOnce();
    expect(wait).toBeGreaterThanOrEqual(15 * 60_000);
    expect(x.state().published).toBe(0);
  });
});
