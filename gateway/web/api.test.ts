import { describe, expect, it } from 'vitest';
import { AuthError, createApi, HttpError, NetworkError, type Fetch } from './api.js';
import { candle } from './testing.js';

function fakeFetch(answer: (url: string) => { status: number; body: unknown } | Error) {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const fetch: Fetch = (url, init) => {
    calls.push({ url, headers: init.headers });
    const a = answer(url);
    if (a instanceof Error) return Promise.reject(a);
    return Promise.resolve({ status: a.status, json: () => Promise.resolve(a.body) });
  };
  return { fetch, calls };
}

describe('the REST client', () => {
  it('sends the key as X-API-Key and reads the candle history', async () => {
    const f = fakeFetch(() => ({ status: 200, body: { symbol: 'BTCUSDT', count: 2, candles: [candle(0, 100), { broken: true }] } }));
    const api = createApi({ fetch: f.fetch, key: () => 'bpk_0123456789ab_secret' });
    const page = await api.candles('BTCUSDT', '1h');
    expect(page).toEqual({ items: [candle(0, 100)], rejected: 1 });
    expect(f.calls[0]).toEqual({
      url: '/v1/candles?symbol=BTCUSDT&interval=1h&limit=10000',
      headers: { accept: 'application/json', 'x-api-key': 'bpk_0123456789ab_secret' },
    });
  });

  it('sends no key header without a key, and pages on with from', async () => {
    const f = fakeFetch(() => ({ status: 200, body: { predictions: [] } }));
    await createApi({ fetch: f.fetch, key: () => null }).predictions('BTCUSDT', { from: 1700000000000 });
    expect(f.calls[0]!.headers).toEqual({ accept: 'application/json' });
    expect(f.calls[0]!.url).toBe('/v1/predictions?symbol=BTCUSDT&limit=1500&from=1700000000000');
  });

  it('tells a refused key (401) from a gateway that does not answer and from other errors', async () => {
    const refused = createApi({
      fetch: fakeFetch(() => ({ status: 401, body: { code: 'ERR_UNAUTHENTICATED', message: 'unknown API key' } })).fetch,
      key: () => 'k',
    });
    await expect(refused.models()).rejects.toEqual(new AuthError('unknown API key'));
    const down = createApi({ fetch: fakeFetch(() => new TypeError('Failed to fetch')).fetch, key: () => null });
    await expect(down.models()).rejects.toBeInstanceOf(NetworkError);
    const broken = createApi({ fetch: fakeFetch(() => ({ status: 503, body: 'not json at all' })).fetch, key: () => null });
    await expect(broken.features('BTCUSDT', '1h')).rejects.toEqual(new HttpError(503, 'HTTP 503'));
  });

  it('reads 404 and bodies that are not the expected shape as empty', async () => {
    const missing = createApi({ fetch: fakeFetch(() => ({ status: 404, body: { code: 'ERR_NOT_FOUND' } })).fetch, key: () => null });
    expect(await missing.candles('BTCUSDT', '1h')).toEqual({ items: [], rejected: 0 });
    expect(await missing.models()).toBeNull();
    const odd = createApi({ fetch: fakeFetch(() => ({ status: 200, body: [1, 2] })).fetch, key: () => null });
    expect(await odd.features('BTCUSDT', '1h')).toEqual({ items: [], rejected: 0 });
  });
});
