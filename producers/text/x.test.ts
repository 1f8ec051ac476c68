// The X producer's retry delays, pinned without a stack: fetch is stubbed, the clock moves to the
// end of each wait, and pollOnce() resolves to the wait before the next round.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import { createLogger } from '../../core/logger.js';
import { loadConfig } from '../../core/config.js';
import type { Platform } from '../../core/runtime.js';
import type { Producer } from '../../core/kafka/producer.js';
import { createXService, type XOptions } from './x.js';

function answer(status: number): void {
  vi.stubGlobal(
    'fetch',
    vi.fn(async () => new Response('{}', { status })),
  );
}

async function waits(polls: number, over: Partial<XOptions> = {}): Promise<number[]> {
  let clock = Date.UTC(2024, 0, 1);
  const platform = { logger: createLogger({ level: 'silent' }), registry: new Registry() } as unknown as Platform;
  const producer = { send: async () => undefined } as unknown as Producer;
  const x = await createXService({
    platform,
    config: loadConfig({}),
    producer,
    token: 't',
    pollIntervalMs: 1000,
    loadSeenFromTail: false,
    now: () => clock,
    ...over,
  });
  const out: number[] = [];
  for (let i = 0; i < polls; i++) {
    const wait = await x.pollOnce();
    out.push(wait);
    expect(x.state().waitUntil).toBe(clock + wait);
    clock = x.state().waitUntil;
  }
  return out;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('X backoff', () => {
  it('doubles from the poll interval (at least 1 s), at most 2^6 times, capped at 15 minutes', async () => {
    answer(500);
    expect(await waits(9)).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 64_000, 64_000]);
    expect(await waits(3, { pollIntervalMs: 200 })).toEqual([1000, 2000, 4000]);
    expect(await waits(4, { pollIntervalMs: 300_000 })).toEqual([300_000, 600_000, 900_000, 900_000]);
  });

  it('waits at least 15 minutes after a refused token', async () => {
    answer(401);
    expect(await waits(2)).toEqual([900_000, 900_000]);
    answer(403);
    expect(await waits(2, { pollIntervalMs: 600_000 })).toEqual([900_000, 900_000]);
  });

  it('backs off network errors the same way', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        throw new TypeError('fetch failed');
      }),
    );
    expect(await waits(3)).toEqual([1000, 2000, 4000]);
  });
});
