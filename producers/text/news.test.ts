// The news producer's per-feed retry delays, pinned without a stack: fetch is stubbed, the clock
// is fixed, and a feed's delay is read as nextAt - now after each forced poll.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '../../core/logger.js';
import { loadConfig } from '../../core/config.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer } from '../../core/kafka/producer.js';
import { createNewsService, type NewsOptions } from './news.js';

const NOW = Date.UTC(2024, 0, 1);

function answer(status: number, headers: Record<string, string> = {}): void {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response('down', { status, headers })),
  );
}

async function delays(polls: number, over: Partial<NewsOptions> = {}): Promise<number[]> {
  const platform = { logger: createLogger({ level: 'silent' }), registry: new Registry() } as unknown as Platform;
  const producer = { send: async () => undefined } as unknown as Producer;
  const news = await createNewsService({
    platform,
    config: loadConfig({}),
    producer,
    feeds: ['http://feeds.example/rss'],
    pollIntervalMs: 1000,
    schedule: false,
    loadSeenFromTail: false,
    now: () => NOW,
    ...over,
  });
  await news.start();
  const out: number[] = [];
  for (let i = 0; i < polls; i++) {
    await news.pollAll();
    out.push((news.feeds()[0]?.nextAt ?? NaN) - NOW);
  }
  await news.stop();
  return out;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('news feed backoff', () => {
  it('doubles from the poll interval, at most 2^10 times, capped at max(interval, 1 h)', async () => {
    answer(500);
    expect(await delays(13)).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_024_000, 1_024_000, 1_024_000]);
    expect(await delays(4, { pollIntervalMs: 1_000_000 })).toEqual([1_000_000, 2_000_000, 3_600_000, 3_600_000]);
    expect(await delays(4, { maxBackoffMs: 5000 })).toEqual([1000, 2000, 4000, 5000]);
    expect(await delays(2, { pollIntervalMs: 10_000, maxBackoffMs: 3000 })).toEqual([3000, 3000]);
  });

  it('waits at least what a 429 or 503 Retry-After asks, even beyond the cap', async () => {
    answer(429, { 'retry-after': '5000' });
    expect(await delays(2)).toEqual([5_000_000, 5_000_000]);
    answer(503, { 'retry-after': '3' });
    expect(await delays(3)).toEqual([3000, 3000, 4000]);
    // Retry-After is honoured on 429 and 503 only.
    answer(502, { 'retry-after': '3' });
    expect(await delays(2)).toEqual([1000, 2000]);
  });

  it('counts a network error as a failure, and a success resets the count', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('fetch failed');
      }),
    );
    expect(await delays(3)).toEqual([1000, 2000, 4000]);
    let calls = 0;
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => (++calls === 2 ? new Response(null, { status: 304 }) : new Response('down', { status: 500 }))),
    );
    expect(await delays(4)).toEqual([1000, 1000, 1000, 2000]);
  });
});
